"""Sign-in with OpenID Connect providers (Google, Apple): the authorization code flow with PKCE.

`OidcService.start` keeps a *pending flow* (state, nonce, PKCE verifier, where to go after, and
a hash of the browser's binding cookie) in the cache port for ten minutes, keyed by the SHA-256
of the state, and returns the provider's authorization URL. `OidcService.complete` takes the
flow out of the cache exactly once, exchanges the code (with the PKCE verifier) at the token
endpoint, verifies the ID token against the provider's published keys and finds or creates the
ORIN account, then opens a session.

Where this departs from the obvious, and why:

* The state alone would let an attacker finish *their* flow in a victim's browser (login CSRF:
  the victim ends up in the attacker's account). A random value in an httpOnly cookie set at
  ``start`` is hashed into the flow and must come back with the callback.
* ID tokens are verified with ``joserfc``, the JOSE library Authlib itself now depends on:
  ``authlib.jose`` warns that it is deprecated in its favour, and ``joserfc`` is typed.
  Authlib's protocol helpers build the authorization URL, the token request and the client
  authentication; the HTTP calls go through httpx directly, because Authlib's httpx
  integration now warns that it wants the ``httpx2`` package.
* Linking by email needs the address verified twice: by the provider (``email_verified``, which
  Apple sometimes sends as the string ``"true"``) and by ORIN for the existing account. Without
  the second check, whoever registered an unconfirmed account under someone else's address
  (with a password they know) would share that account with its real owner once the owner
  signs in with Google ("account pre-hijacking").
* Discovery documents and key sets are cached in this process (one hour). An ID token whose key
  id is not in the cached set makes the set be fetched again once, at most every
  `JWKS_REFETCH_COOLDOWN_S`, so that key rotation works and bogus key ids cannot make ORIN
  hammer the provider.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Final, Generic, Literal, TypeVar
from urllib.parse import urlsplit

import httpx
import structlog

# Authlib ships without type information (no py.typed); only these protocol helpers are used.
from authlib.oauth2.auth import ClientAuth  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.parameters import (  # type: ignore[import-untyped]
    prepare_grant_uri,
    prepare_token_request,
)
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import ClaimError, ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from orin.audit import audit_event
from orin.auth import repository
from orin.auth.emails import normalize_email
from orin.auth.mfa import MfaChallenge, mfa_service
from orin.auth.service import AuthContext, ClientInfo, IssuedTokens, auth_service
from orin.config import Settings
from orin.errors import BadRequest, Conflict, NotFound, ServiceUnavailable, Unauthorized
from orin.models.base import new_id, utcnow
from orin.models.oauth_identity import OAuthIdentity
from orin.models.user import User

logger = structlog.get_logger(__name__)

PROVIDER_NAMES: Final = ("google", "apple")
CALLBACK_PATH: Final = "/api/v1/auth/oauth/{provider}/callback"
FLOW_TTL_S: Final = 600
"""How long a started sign-in may take before its state is forgotten."""
DISCOVERY_TTL_S: Final = 3600.0
JWKS_TTL_S: Final = 3600.0
JWKS_REFETCH_COOLDOWN_S: Final = 30.0
"""An unknown key id refetches the key set only if the cached one is at least this old."""
ID_TOKEN_ALGORITHMS: Final = ("RS256", "ES256")
CLOCK_LEEWAY_S: Final = 60
MAX_STATE_LENGTH: Final = 512
MAX_RETURN_TO_LENGTH: Final = 2048
MAX_DOCUMENT_BYTES: Final = 512 * 1024

_PROVIDER_TITLES: Final = {"google": "Google", "apple": "Apple"}
_LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "::1", "localhost"})
_GOOGLE_ISSUER: Final = "https://accounts.google.com"


# --- errors ---------------------------------------------------------------------------------


class OAuthProviderNotFound(NotFound):
    type_slug = "oauth-provider-not-found"
    title = "Unknown sign-in provider"


class InvalidReturnTo(BadRequest):
    status_code = 422
    type_slug = "invalid-return-to"
    title = "Invalid return address"


class OAuthStateInvalid(BadRequest):
    type_slug = "oauth-state"
    title = "Sign-in could not be completed"


class OAuthCodeRejected(BadRequest):
    type_slug = "oauth-code-rejected"
    title = "The provider refused the sign-in"


class InvalidIdToken(Unauthorized):
    type_slug = "invalid-id-token"
    title = "The provider's identity assertion is not valid"


class UnknownSigningKey(InvalidIdToken):
    """The ID token names a key the provider's key set does not hold (yet)."""


class OAuthEmailMissing(BadRequest):
    type_slug = "oauth-email-missing"
    title = "The provider shared no email address"


class OAuthAccountConflict(Conflict):
    type_slug = "oauth-account-conflict"
    title = "This email address belongs to another sign-in"


class OAuthProviderUnavailable(ServiceUnavailable):
    type_slug = "oauth-provider-unavailable"
    title = "The sign-in provider cannot be reached"


# --- providers ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OidcProvider:
    """One configured provider, as the settings describe it."""

    name: str
    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    redirect_uri: str
    response_mode: Literal["query", "form_post"]
    """Apple posts the answer as a form when names or emails are asked for."""
    extra_issuers: tuple[str, ...] = ()
    """Other ``iss`` spellings the provider uses in ID tokens."""

    @property
    def title(self) -> str:
        return _PROVIDER_TITLES.get(self.name, self.name)


def enabled_providers(settings: Settings) -> dict[str, OidcProvider]:
    """The providers whose issuer and client id are set, by name."""
    oidc = settings.oidc
    base = (oidc.redirect_base_url or settings.public_url).rstrip("/")
    configured = (
        ("google", oidc.google_issuer, oidc.google_client_id, oidc.google_client_secret,
         oidc.google_scopes),
        ("apple", oidc.apple_issuer, oidc.apple_client_id, oidc.apple_client_secret,
         oidc.apple_scopes),
    )  # fmt: skip
    providers: dict[str, OidcProvider] = {}
    for name, issuer, client_id, secret, scopes in configured:
        if not issuer:
            continue
        if not client_id:
            logger.warning("oidc.provider_without_client_id", provider=name)
            continue
        issuer = issuer.rstrip("/")
        providers[name] = OidcProvider(
            name=name,
            issuer=issuer,
            client_id=client_id,
            client_secret=secret.get_secret_value(),
            scopes=scopes,
            redirect_uri=base + CALLBACK_PATH.format(provider=name),
            response_mode="form_post" if name == "apple" else "query",
            # Google documents both spellings of its issuer in ID tokens.
            extra_issuers=("accounts.google.com",) if issuer == _GOOGLE_ISSUER else (),
        )
    return providers


def get_provider(settings: Settings, name: str) -> OidcProvider:
    """The enabled provider called ``name``; `OAuthProviderNotFound` (404) otherwise."""
    provider = enabled_providers(settings).get(name)
    if provider is None:
        raise OAuthProviderNotFound(f"sign-in with {name!r} is not available")
    return provider


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """The parts of a provider's discovery document this flow uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    token_endpoint_auth_methods: tuple[str, ...]

    @classmethod
    def from_document(cls, document: dict[str, Any], expected_issuer: str) -> ProviderMetadata:
        """Read a discovery document; `ValueError` when it is unusable or for another issuer."""

        def text(name: str) -> str:
            value = document.get(name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"discovery document lacks {name!r}")
            return value

        def secure_url(name: str) -> str:
            url = text(name)
            parts = urlsplit(url)
            # Plain http only to this machine (a provider run by tests or a developer).
            if parts.scheme != "https" and not (
                parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS
            ):
                raise ValueError(f"{name} must be an https URL, not {url!r}")
            return url

        issuer = secure_url("issuer")
        # OpenID Connect Discovery §4.3: the document must name the issuer it was fetched for.
        if issuer.rstrip("/") != expected_issuer.rstrip("/"):
            raise ValueError(f"discovery document is for issuer {issuer!r}")
        methods = document.get("token_endpoint_auth_methods_supported")
        return cls(
            issuer=issuer,
            authorization_endpoint=secure_url("authorization_endpoint"),
            token_endpoint=secure_url("token_endpoint"),
            jwks_uri=secure_url("jwks_uri"),
            token_endpoint_auth_methods=(
                tuple(m for m in methods if isinstance(m, str)) if isinstance(methods, list) else ()
            ),
        )


def token_auth_method(
    metadata: ProviderMetadata,
) -> Literal["client_secret_basic", "client_secret_post"]:
    """How to send the client secret: HTTP Basic unless the provider only takes it in the form.

    A document without the list means Basic (RFC 8414 §2); Apple lists only the form.
    """
    methods = metadata.token_endpoint_auth_methods
    if not methods or "client_secret_basic" in methods:
        return "client_secret_basic"
    if "client_secret_post" in methods:
        return "client_secret_post"
    raise ValueError(f"the provider supports neither client_secret_basic nor _post: {methods}")


# --- ID tokens ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IdTokenClaims:
    """Who the provider says signed in."""

    subject: str
    email: str | None
    email_verified: bool
    name: str


def claim_is_true(value: object) -> bool:
    """A boolean claim: ``True``, or the string ``"true"`` as Apple sometimes sends it."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() == "true"


def validate_id_token(
    id_token: str,
    keys: KeySet,
    *,
    issuers: Collection[str],
    client_id: str,
    nonce: str,
    now: int | None = None,
    leeway_s: int = CLOCK_LEEWAY_S,
) -> IdTokenClaims:
    """Check the signature against ``keys`` and the claims (OpenID Connect Core §3.1.3.7).

    Only RS256 and ES256 signatures are accepted (never ``none`` or a MAC keyed with the client
    secret). ``iss`` must be one of ``issuers``, ``aud`` must hold ``client_id`` (and ``azp``
    name it when there are several audiences), ``exp``, ``iat`` and ``sub`` must be present and
    current, and ``nonce`` must equal the one this flow sent. Raises `UnknownSigningKey` when
    the token's key id is not in ``keys``, `InvalidIdToken` for every other fault.
    """
    try:
        token = jwt.decode(id_token, keys, algorithms=list(ID_TOKEN_ALGORITHMS))
    except InvalidKeyIdError:
        raise UnknownSigningKey(
            "the ID token is signed with a key the provider does not publish"
        ) from None
    except (JoseError, ValueError) as exc:
        raise InvalidIdToken(f"the ID token's signature does not verify ({exc})") from None
    claims = token.claims
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=leeway_s,
        iss={"essential": True, "values": list(issuers)},
        aud={"essential": True, "value": client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise InvalidIdToken("the ID token has expired") from None
    except ClaimError as exc:
        raise InvalidIdToken(f"the ID token's {exc.claim!r} claim is missing or wrong") from None
    audience = claims["aud"]
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != client_id:
        raise InvalidIdToken("the ID token was issued to another client ('azp')")
    token_nonce = claims.get("nonce")
    if not isinstance(token_nonce, str) or not hmac.compare_digest(
        token_nonce.encode(), nonce.encode()
    ):
        raise InvalidIdToken("the ID token's nonce is not the one this sign-in sent")
    email = claims.get("email")
    name = claims.get("name")
    return IdTokenClaims(
        subject=str(claims["sub"]),
        email=email if isinstance(email, str) and email else None,
        email_verified=claim_is_true(claims.get("email_verified")),
        name=name if isinstance(name, str) else "",
    )


# --- pending flows --------------------------------------------------------------------------


class PendingFlow(BaseModel):
    """What `OidcService.start` remembers until the provider sends the browser back."""

    provider: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    return_to: str
    binding_hash: str


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def flow_key(state: str) -> str:
    """Cache key of a pending flow: the state itself is never stored."""
    return f"oidc:flow:{_digest(state)}"


def safe_return_to(value: str | None) -> str:
    """``value`` if it is a path on this site, ``/`` when empty; `InvalidReturnTo` otherwise.

    Only a path starting with one ``/`` is allowed: ``//host`` and ``/\\host`` are read by
    browsers as another host, and a scheme or host would make this an open redirect.
    """
    if not value:
        return "/"
    parts = urlsplit(value)
    if (
        len(value) > MAX_RETURN_TO_LENGTH
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or parts.scheme
        or parts.netloc
        or any(ord(char) < 0x20 or ord(char) == 0x7F for char in value)
    ):
        raise InvalidReturnTo("return_to must be a path on this site, such as /cameras")
    return value


@dataclass(frozen=True, slots=True)
class CompletedSignIn:
    """A finished sign-in: the new session's tokens and where the browser goes next."""

    tokens: IssuedTokens | None
    """None when the account has two-step sign-in: then `mfa_challenge` is set instead."""
    return_to: str
    user_created: bool
    identity_linked: bool
    mfa_challenge: MfaChallenge | None = None


# --- the service ----------------------------------------------------------------------------


_T = TypeVar("_T")


@dataclass(slots=True)
class _Cached(Generic[_T]):
    value: _T
    fetched_at: float


class OidcService:
    """The sign-in flow; one instance serves every request and caches provider documents.

    ``transport`` replaces the network for tests; ``clock`` is a monotonic clock.
    """

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transport = transport
        self._clock = clock
        self._metadata: dict[str, _Cached[ProviderMetadata]] = {}
        self._keys: dict[str, _Cached[KeySet]] = {}

    def forget_cached_documents(self) -> None:
        """Drop every cached discovery document and key set."""
        self._metadata.clear()
        self._keys.clear()

    # Provider documents.

    def _http(self, timeout_s: float) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=self._transport,
            timeout=timeout_s,
            follow_redirects=False,
            headers={"Accept": "application/json"},
        )

    async def _get_json(self, url: str, timeout_s: float) -> dict[str, Any]:
        try:
            async with self._http(timeout_s) as http:
                response = await http.get(url)
        except httpx.HTTPError as exc:
            raise OAuthProviderUnavailable(f"{url} could not be fetched: {exc}") from exc
        if response.status_code != 200 or len(response.content) > MAX_DOCUMENT_BYTES:
            raise OAuthProviderUnavailable(f"{url} answered HTTP {response.status_code}")
        try:
            document = response.json()
        except ValueError:
            raise OAuthProviderUnavailable(f"{url} did not answer JSON") from None
        if not isinstance(document, dict):
            raise OAuthProviderUnavailable(f"{url} did not answer a JSON object")
        return document

    async def metadata(self, provider: OidcProvider, timeout_s: float) -> ProviderMetadata:
        """The provider's discovery document, fetched at most once an hour."""
        cached = self._metadata.get(provider.issuer)
        now = self._clock()
        if cached is not None and now - cached.fetched_at < DISCOVERY_TTL_S:
            return cached.value
        url = provider.issuer + "/.well-known/openid-configuration"
        document = await self._get_json(url, timeout_s)
        try:
            metadata = ProviderMetadata.from_document(document, provider.issuer)
        except ValueError as exc:
            raise OAuthProviderUnavailable(f"{url} is not usable: {exc}") from None
        self._metadata[provider.issuer] = _Cached(metadata, now)
        logger.info("oidc.discovery_fetched", provider=provider.name, issuer=metadata.issuer)
        return metadata

    async def signing_keys(
        self, metadata: ProviderMetadata, timeout_s: float, *, refresh: bool = False
    ) -> KeySet:
        """The provider's public keys, fetched at most once an hour unless ``refresh``."""
        cached = self._keys.get(metadata.jwks_uri)
        now = self._clock()
        if cached is not None and not refresh and now - cached.fetched_at < JWKS_TTL_S:
            return cached.value
        document = await self._get_json(metadata.jwks_uri, timeout_s)
        try:
            keys = KeySet.import_key_set({"keys": document["keys"]})
        except (KeyError, TypeError, ValueError, JoseError) as exc:
            raise OAuthProviderUnavailable(
                f"{metadata.jwks_uri} is not a usable key set: {exc}"
            ) from None
        self._keys[metadata.jwks_uri] = _Cached(keys, now)
        logger.info("oidc.jwks_fetched", jwks_uri=metadata.jwks_uri, keys=len(keys.keys))
        return keys

    async def verify_id_token(
        self,
        provider: OidcProvider,
        metadata: ProviderMetadata,
        id_token: str,
        *,
        nonce: str,
        timeout_s: float,
    ) -> IdTokenClaims:
        """`validate_id_token` against the cached keys, refetching them once for a new key id."""
        issuers = (metadata.issuer, *provider.extra_issuers)
        keys = await self.signing_keys(metadata, timeout_s)
        try:
            return validate_id_token(
                id_token, keys, issuers=issuers, client_id=provider.client_id, nonce=nonce
            )
        except UnknownSigningKey:
            cached = self._keys.get(metadata.jwks_uri)
            if cached is not None and self._clock() - cached.fetched_at < JWKS_REFETCH_COOLDOWN_S:
                raise
            logger.info("oidc.jwks_refetch", provider=provider.name)
        keys = await self.signing_keys(metadata, timeout_s, refresh=True)
        return validate_id_token(
            id_token, keys, issuers=issuers, client_id=provider.client_id, nonce=nonce
        )

    # The flow.

    async def start(
        self, ctx: AuthContext, provider_name: str, *, return_to: str | None, browser_binding: str
    ) -> str:
        """Remember a new flow and return the provider's authorization URL to redirect to.

        ``browser_binding`` is the random value of the browser's binding cookie; the callback
        must bring the same cookie back.
        """
        provider = get_provider(ctx.settings, provider_name)
        target = safe_return_to(return_to)
        metadata = await self.metadata(provider, ctx.settings.oidc.http_timeout_s)
        state = secrets.token_urlsafe(32)
        flow = PendingFlow(
            provider=provider.name,
            nonce=secrets.token_urlsafe(32),
            code_verifier=secrets.token_urlsafe(64),
            redirect_uri=provider.redirect_uri,
            return_to=target,
            binding_hash=_digest(browser_binding),
        )
        await ctx.cache.set(flow_key(state), flow.model_dump_json().encode(), ttl_s=FLOW_TTL_S)
        url: str = prepare_grant_uri(
            metadata.authorization_endpoint,
            provider.client_id,
            "code",
            redirect_uri=provider.redirect_uri,
            scope=provider.scopes,
            state=state,
            nonce=flow.nonce,
            code_challenge=create_s256_code_challenge(flow.code_verifier),
            code_challenge_method="S256",
            response_mode="form_post" if provider.response_mode == "form_post" else None,
        )
        logger.info("oidc.flow_started", provider=provider.name)
        return url

    async def take_flow(self, ctx: AuthContext, state: str) -> PendingFlow | None:
        """The pending flow of ``state``, removed so that it cannot be used again."""
        if not state or len(state) > MAX_STATE_LENGTH:
            return None
        key = flow_key(state)
        raw = await ctx.cache.get(key)
        # Deleting is the atomic step: of two requests racing with one state, one removes it.
        if raw is None or await ctx.cache.delete(key) == 0:
            return None
        try:
            return PendingFlow.model_validate_json(raw)
        except ValidationError:
            logger.warning("oidc.flow_unreadable")
            return None

    async def abandon(
        self, ctx: AuthContext, provider_name: str, *, state: str | None, error: str
    ) -> None:
        """The provider reported ``error`` (the person declined, for instance): forget the flow."""
        provider = get_provider(ctx.settings, provider_name)
        if state:
            await self.take_flow(ctx, state)
        logger.info("oidc.provider_error", provider=provider.name, error=error[:64])

    async def complete(
        self,
        db: AsyncSession,
        ctx: AuthContext,
        provider_name: str,
        *,
        code: str,
        state: str,
        issuer: str | None,
        browser_binding: str,
        client: ClientInfo,
        name_hint: str = "",
    ) -> CompletedSignIn | OAuthAccountConflict:
        """Finish the flow of ``state`` with the provider's ``code`` and sign the account in.

        ``issuer`` is the ``iss`` parameter of the answer (RFC 9207) when the provider sends it.
        A refused link is returned, not raised, so that its audit entry can be committed.
        """
        provider = get_provider(ctx.settings, provider_name)
        flow = await self.take_flow(ctx, state)
        if flow is None:
            raise OAuthStateInvalid(
                "this sign-in is unknown, has expired or was already used; start again"
            )
        if flow.provider != provider.name:
            raise OAuthStateInvalid("this sign-in was started with another provider; start again")
        if not hmac.compare_digest(flow.binding_hash, _digest(browser_binding)):
            logger.warning("oidc.binding_mismatch", provider=provider.name)
            raise OAuthStateInvalid("this sign-in was started in another browser; start again")
        timeout_s = ctx.settings.oidc.http_timeout_s
        metadata = await self.metadata(provider, timeout_s)
        if issuer is not None and issuer != metadata.issuer:
            # A mix-up attack sends the code of another provider here (RFC 9207).
            raise OAuthStateInvalid("the answer comes from another issuer than this provider")
        id_token = await self._exchange_code(provider, metadata, flow, code, timeout_s)
        claims = await self.verify_id_token(
            provider, metadata, id_token, nonce=flow.nonce, timeout_s=timeout_s
        )
        outcome = await self._resolve_account(db, provider, claims, client, name_hint)
        if isinstance(outcome, OAuthAccountConflict):
            return outcome
        user, created, linked = outcome
        await audit_event(
            db,
            client,
            action="auth.oauth_login",
            actor_id=user.id,
            target_type="user",
            target_id=user.id,
            details={"provider": provider.name, "new_user": created},
        )
        if user.mfa_enabled_at is not None:
            # The provider proved the first factor only; the account asks for its second.
            challenge = await mfa_service.open_challenge(db, ctx, user, client)
            return CompletedSignIn(
                tokens=None,
                return_to=flow.return_to,
                user_created=created,
                identity_linked=linked,
                mfa_challenge=challenge,
            )
        tokens = await auth_service.start_session(db, ctx, user, client)
        logger.info(
            "oidc.signed_in",
            provider=provider.name,
            user_id=user.id,
            new_user=created,
            linked=linked,
        )
        return CompletedSignIn(
            tokens=tokens, return_to=flow.return_to, user_created=created, identity_linked=linked
        )

    async def _exchange_code(
        self,
        provider: OidcProvider,
        metadata: ProviderMetadata,
        flow: PendingFlow,
        code: str,
        timeout_s: float,
    ) -> str:
        """Trade the code (and the PKCE verifier) for tokens; returns the raw ID token."""
        try:
            method = token_auth_method(metadata)
        except ValueError as exc:
            raise OAuthProviderUnavailable(str(exc)) from None
        body = prepare_token_request(
            "authorization_code",
            redirect_uri=flow.redirect_uri,
            code=code,
            code_verifier=flow.code_verifier,
        )
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        auth = ClientAuth(provider.client_id, provider.client_secret, method)
        uri, headers, body = auth.prepare("POST", metadata.token_endpoint, headers, body)
        try:
            async with self._http(timeout_s) as http:
                response = await http.post(str(uri), headers=headers, content=str(body).encode())
        except httpx.HTTPError as exc:
            raise OAuthProviderUnavailable(
                f"the token endpoint could not be reached: {exc}"
            ) from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise OAuthProviderUnavailable(
                f"the token endpoint answered HTTP {response.status_code} without JSON"
            )
        if response.status_code != 200:
            error = str(answer.get("error", "unknown"))[:64]
            logger.info("oidc.code_rejected", provider=provider.name, error=error)
            if response.status_code >= 500:
                raise OAuthProviderUnavailable(f"the token endpoint failed ({error})")
            raise OAuthCodeRejected(
                f"{provider.title} did not accept the sign-in ({error}); start again"
            )
        id_token = answer.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise InvalidIdToken(f"{provider.title} sent no ID token")
        return id_token

    async def _resolve_account(
        self,
        db: AsyncSession,
        provider: OidcProvider,
        claims: IdTokenClaims,
        client: ClientInfo,
        name_hint: str,
    ) -> tuple[User, bool, bool] | OAuthAccountConflict:
        """The ORIN account of ``claims``: ``(user, created, linked)``, or a refusal.

        A known (provider, subject) is that account. Otherwise an account with the same
        address is linked when both the provider and ORIN verified the address, and refused
        when either did not; a new address gets a new account without a password.
        """
        now = utcnow()
        identity = await identity_by_subject(db, provider.name, claims.subject)
        if identity is not None:
            user = await repository.user_by_id(db, identity.user_id)
            if user is not None:
                identity.email = (claims.email or identity.email)[:320]
                identity.last_login_at = now
                return user, False, False
        if claims.email is None:
            raise OAuthEmailMissing(
                f"{provider.title} did not share your email address, which ORIN needs; allow "
                "it when signing in"
            )
        email = normalize_email(claims.email)
        existing = await repository.user_by_email(db, email)
        if existing is not None:
            if not claims.email_verified or existing.email_verified_at is None:
                return await self._refuse_link(db, provider, claims, existing, client)
            await self._link(db, provider, claims, existing, client, email, created=False)
            return existing, False, True
        user = User(
            id=new_id(),
            email=email,
            display_name=(claims.name or name_hint).strip()[:200],
            password_hash=None,
            email_verified_at=now if claims.email_verified else None,
        )
        db.add(user)
        try:
            await db.flush()
        except IntegrityError:
            raise Conflict(
                "an account with this email address was just created; try again"
            ) from None
        await audit_event(
            db,
            client,
            action="auth.register",
            actor_id=user.id,
            target_type="user",
            target_id=user.id,
            details={"provider": provider.name},
        )
        await self._link(db, provider, claims, user, client, email, created=True)
        return user, True, True

    async def _link(
        self,
        db: AsyncSession,
        provider: OidcProvider,
        claims: IdTokenClaims,
        user: User,
        client: ClientInfo,
        email: str,
        *,
        created: bool,
    ) -> None:
        db.add(
            OAuthIdentity(
                id=new_id(),
                user_id=user.id,
                provider=provider.name,
                subject=claims.subject[:255],
                email=email,
            )
        )
        try:
            await db.flush()
        except IntegrityError:
            raise Conflict(
                f"this {provider.title} account was just linked by another request; try again"
            ) from None
        await audit_event(
            db,
            client,
            action="auth.oauth_linked",
            actor_id=user.id,
            target_type="user",
            target_id=user.id,
            details={"provider": provider.name, "new_user": created},
        )

    async def _refuse_link(
        self,
        db: AsyncSession,
        provider: OidcProvider,
        claims: IdTokenClaims,
        existing: User,
        client: ClientInfo,
    ) -> OAuthAccountConflict:
        reason = "provider_unverified" if not claims.email_verified else "orin_unverified"
        await audit_event(
            db,
            client,
            action="auth.oauth_refused",
            actor_id=None,
            target_type="user",
            target_id=existing.id,
            details={"provider": provider.name, "reason": reason},
        )
        logger.warning("oidc.link_refused", provider=provider.name, reason=reason)
        if reason == "provider_unverified":
            detail = (
                f"an ORIN account already uses this email address, but {provider.title} has "
                "not verified that it is yours; sign in with your email address and password "
                "instead"
            )
        else:
            detail = (
                "an ORIN account already uses this email address, but that account never "
                "confirmed it; sign in with its password (or reset the password by email) "
                f"before using {provider.title}"
            )
        return OAuthAccountConflict(detail, extra={"reason": reason})


async def identity_by_subject(
    db: AsyncSession, provider: str, subject: str
) -> OAuthIdentity | None:
    """The linked identity of ``subject`` at ``provider``, if any."""
    return await db.scalar(
        select(OAuthIdentity).where(
            OAuthIdentity.provider == provider, OAuthIdentity.subject == subject
        )
    )


oidc_service = OidcService()
