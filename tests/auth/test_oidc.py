"""Sign-in with Google and Apple, against a real OpenID Connect provider run by Node.js.

The ORIN app runs in-process (https://orin.test) on both adapter sets; the provider
(tests/oidc_provider, `oidc-provider`) is a real HTTP server that the "browser" here walks
through: ORIN's start → the provider's authorize, interaction and consent pages → back to ORIN's
callback, then the web app's refresh with the CSRF header. The ID token validator and the key
cache are also tested alone, with keys generated here.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pyotp
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey
from pydantic import SecretStr
from sqlalchemy import select, update
from starlette.types import ASGIApp

from orin.audit.service import list_entries
from orin.auth.cookies import CSRF_COOKIE, CSRF_HEADER, REFRESH_COOKIE
from orin.auth.oidc import (
    JWKS_REFETCH_COOLDOWN_S,
    InvalidIdToken,
    InvalidReturnTo,
    OAuthProviderNotFound,
    OidcProvider,
    OidcService,
    ProviderMetadata,
    UnknownSigningKey,
    claim_is_true,
    enabled_providers,
    get_provider,
    safe_return_to,
    token_auth_method,
    validate_id_token,
)
from orin.config import OidcSettings, Settings
from orin.db import Database
from orin.models.base import utcnow
from orin.models.oauth_identity import OAuthIdentity
from orin.models.user import User
from tests.auth.conftest import STRONG_PASSWORD, sign_up
from tests.fixtures.oidc import (
    ORIN_TEST_URL,
    OidcTestAccount,
    OidcTestProvider,
    ProviderAnswer,
    with_query,
)

START = "/api/v1/auth/oauth/{provider}/start"


@pytest.fixture
def auth_settings(auth_settings: Settings, oidc_provider: OidcTestProvider) -> Settings:
    """The auth test settings with both providers pointing at the test provider."""
    return auth_settings.model_copy(
        update={
            "oidc": OidcSettings(
                google_issuer=oidc_provider.issuer,
                google_client_id=oidc_provider.google.client_id,
                google_client_secret=SecretStr(oidc_provider.google.client_secret),
                apple_issuer=oidc_provider.issuer,
                apple_client_id=oidc_provider.apple.client_id,
                apple_client_secret=SecretStr(oidc_provider.apple.client_secret),
                redirect_base_url=ORIN_TEST_URL,
                http_timeout_s=5.0,
            )
        }
    )


# --- the browser's side ----------------------------------------------------------------------


async def begin(
    client: httpx.AsyncClient, provider: str = "google", return_to: str | None = None
) -> str:
    """Open ORIN's start link; returns the provider URL it redirects to."""
    params = {} if return_to is None else {"return_to": return_to}
    response = await client.get(START.format(provider=provider), params=params)
    assert response.status_code == 302, response.text
    return response.headers["location"]


async def deliver(client: httpx.AsyncClient, answer: ProviderAnswer) -> httpx.Response:
    """Bring the provider's answer to ORIN's callback, as the browser would."""
    if answer.method == "GET":
        return await client.get(answer.path_and_query)
    assert answer.url.startswith(ORIN_TEST_URL + "/")
    return await client.post(urlsplit(answer.url).path, data=answer.form)


async def sign_in(
    client: httpx.AsyncClient,
    oidc: OidcTestProvider,
    account: OidcTestAccount,
    *,
    provider: str = "google",
    return_to: str | None = None,
) -> httpx.Response:
    """The whole redirect flow; returns ORIN's answer to the callback."""
    authorization_url = await begin(client, provider, return_to)
    answer = await oidc.authorize(authorization_url, login_hint=account.email)
    return await deliver(client, answer)


async def web_app_access_token(client: httpx.AsyncClient) -> str:
    """What the web app does after the redirect: refresh with the cookie and CSRF header."""
    csrf = client.cookies.get(CSRF_COOKIE)
    assert csrf, "the callback set no CSRF cookie"
    response = await client.post("/api/v1/auth/refresh", headers={CSRF_HEADER: csrf})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def profile(client: httpx.AsyncClient) -> dict[str, Any]:
    token = await web_app_access_token(client)
    me = await client.get("/api/v1/user/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    body: dict[str, Any] = me.json()
    return body


async def confirm_email(settings: Settings, user_id: str) -> None:
    """Mark the account's address confirmed, as the emailed link would."""
    database = Database(settings)
    try:
        async with database.transaction() as session:
            await session.execute(
                update(User).where(User.id == user_id).values(email_verified_at=utcnow())
            )
    finally:
        await database.dispose()


async def audit_actions(settings: Settings, user_id: str) -> list[str]:
    database = Database(settings)
    try:
        async with database.transaction() as session:
            entries = await list_entries(session, limit=50, target_id=user_id)
            return [entry.action for entry in reversed(entries)]
    finally:
        await database.dispose()


async def identities(settings: Settings, user_id: str) -> list[tuple[str, str]]:
    database = Database(settings)
    try:
        async with database.transaction() as session:
            rows = await session.scalars(
                select(OAuthIdentity).where(OAuthIdentity.user_id == user_id)
            )
            return [(row.provider, row.subject) for row in rows]
    finally:
        await database.dispose()


@pytest.fixture
async def other_browser(auth_app: ASGIApp) -> Any:
    transport = httpx.ASGITransport(app=auth_app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIN_TEST_URL) as http:
        yield http


# --- the whole flow --------------------------------------------------------------------------


async def test_start_redirects_to_the_provider_with_state_nonce_and_pkce(
    client: httpx.AsyncClient,
    oidc_provider: OidcTestProvider,
) -> None:
    response = await client.get(START.format(provider="google"))
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(oidc_provider.issuer + "/")
    query = {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}
    assert query["response_type"] == "code"
    assert query["client_id"] == oidc_provider.google.client_id
    assert query["redirect_uri"] == oidc_provider.google.redirect_uri
    assert query["scope"] == "openid email profile"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 43
    assert len(query["nonce"]) >= 43
    assert "response_mode" not in query
    binding = next(
        header
        for header in response.headers.get_list("set-cookie")
        if header.startswith("orin_oauth=")
    )
    for attribute in ("HttpOnly", "Secure", "SameSite=none", "Path=/api/v1/auth/oauth"):
        assert attribute.lower() in binding.lower()
    again = await client.get(START.format(provider="google"))
    assert parse_qs(urlsplit(again.headers["location"]).query)["state"][0] != query["state"]


async def test_a_new_person_gets_a_verified_account_and_a_cookie_session(
    client: httpx.AsyncClient,
    oidc_provider: OidcTestProvider,
    auth_settings: Settings,
) -> None:
    person = await oidc_provider.add_account(name="Grace Hopper")
    response = await sign_in(client, oidc_provider, person)
    assert response.status_code == 302, response.text
    assert response.headers["location"] == "/"
    cookies = " ".join(response.headers.get_list("set-cookie"))
    assert f"{REFRESH_COOKIE}=" in cookies
    assert f"{CSRF_COOKIE}=" in cookies
    me = await profile(client)
    assert me["email"] == person.email
    assert me["email_verified"] is True
    assert me["display_name"] == "Grace Hopper"
    assert await identities(auth_settings, me["id"]) == [("google", person.sub)]
    actions = await audit_actions(auth_settings, me["id"])
    assert actions[:3] == ["auth.register", "auth.oauth_linked", "auth.oauth_login"]


async def test_the_same_provider_account_signs_in_to_the_same_user(
    client: httpx.AsyncClient,
    other_browser: httpx.AsyncClient,
    oidc_provider: OidcTestProvider,
) -> None:
    person = await oidc_provider.add_account()
    assert (await sign_in(client, oidc_provider, person)).status_code == 302
    first = await profile(client)
    assert (await sign_in(other_browser, oidc_provider, person)).status_code == 302
    second = await profile(other_browser)
    assert second["id"] == first["id"]


async def test_a_verified_email_links_the_existing_password_account(
    client: httpx.AsyncClient,
    other_browser: httpx.AsyncClient,
    oidc_provider: OidcTestProvider,
    auth_settings: Settings,
) -> None:
    member = await sign_up(client)
    await confirm_email(auth_settings, member.user_id)
    person = await oidc_provider.add_account(email=member.email, email_verified=True)
    response = await sign_in(other_browser, oidc_provider, person)
    assert response.status_code == 302, response.text
    me = await profile(other_browser)
    assert me["id"] == member.user_id
    assert await identities(auth_settings, member.user_id) == [("google", person.sub)]
    assert "auth.oauth_linked" in await audit_actions(auth_settings, member.user_id)
    # The password still works beside the provider.
    login = await client.post(
        "/api/v1/auth/login", json={"email": member.email, "password": STRONG_PASSWORD}
    )
    assert login.status_code == 200


async def test_an_account_with_two_step_sign_in_must_still_enter_its_code(
    client: httpx.AsyncClient,
    other_browser: httpx.AsyncClient,
    oidc_provider: OidcTestProvider,
    auth_settings: Settings,
) -> None:
    member = await sign_up(client)
    await confirm_email(auth_settings, member.user_id)
    enrol = await client.post(
        "/api/v1/auth/mfa/enrol", json={"password": STRONG_PASSWORD}, headers=member.auth
    )
    totp = pyotp.TOTP(enrol.json()["secret"])
    confirmed = await client.post(
        "/api/v1/auth/mfa/confirm", json={"code": totp.now()}, headers=member.auth
    )
    assert confirmed.status_code == 200, confirmed.text
    person = await oidc_provider.add_account(email=member.email, email_verified=True)

    response = await sign_in(other_browser, oidc_provider, person, return_to="/cameras")
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert location.path == "/login/mfa"
    assert not location.query, "the challenge must not travel in the query string"
    fragment = dict(parse_qsl(location.fragment))
    assert fragment["return_to"] == "/cameras"
    assert REFRESH_COOKIE not in " ".join(response.headers.get_list("set-cookie"))

    # The provider alone opens nothing; the code finishes the sign-in.
    assert (await other_browser.post("/api/v1/auth/refresh")).status_code in (401, 403)
    verify = await other_browser.post(
        "/api/v1/auth/mfa/verify",
        json={
            "challenge_token": fragment["challenge"],
            "recovery_code": confirmed.json()["recovery_codes"][0],
            "use_cookie": True,
        },
    )
    assert verify.status_code == 200, verify.text
    assert (await profile(other_browser))["id"] == member.user_id


async def test_an_unverified_provider_email_of_an_existing_account_is_refused(
    client: httpx.AsyncClient,
    other_browser: httpx.AsyncClient,
    oidc_provider: OidcTestProvider,
    auth_settings: Settings,
) -> None:
    member = await sign_up(client)
    await confirm_email(auth_settings, member.user_id)
    impostor = await oidc_provider.add_account(email=member.email, email_verified=False)
    response = await sign_in(other_browser, oidc_provider, impostor)
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["reason"] == "provider_unverified"
    assert "password" in problem["detail"]
    assert REFRESH_COOKIE not in other_browser.cookies
    assert await identities(auth_settings, member.user_id) == []
    # The refusal was audited even though the request failed.
    assert "auth.oauth_refused" in await audit_actions(auth_settings, member.user_id)


async def test_an_account_whose_address_orin_never_confirmed_is_not_linked(
    client: httpx.AsyncClient,
    other_browser: httpx.AsyncClient,
    oidc_provider: OidcTestProvider,
    auth_settings: Settings,
) -> None:
    # Someone registered the address without proving it; its real owner signs in with Google.
    squatter = await sign_up(client)
    owner = await oidc_provider.add_account(email=squatter.email, email_verified=True)
    response = await sign_in(other_browser, oidc_provider, owner)
    assert response.status_code == 409, response.text
    assert response.json()["reason"] == "orin_unverified"
    assert await identities(auth_settings, squatter.user_id) == []


async def test_an_unverified_email_of_a_new_person_makes_an_unverified_account(
    client: httpx.AsyncClient,
    oidc_provider: OidcTestProvider,
) -> None:
    person = await oidc_provider.add_account(email_verified=False)
    assert (await sign_in(client, oidc_provider, person)).status_code == 302
    me = await profile(client)
    assert me["email"] == person.email
    assert me["email_verified"] is False


async def test_return_to_is_where_the_browser_lands(
    client: httpx.AsyncClient,
    oidc_provider: OidcTestProvider,
) -> None:
    person = await oidc_provider.add_account()
    response = await sign_in(client, oidc_provider, person, return_to="/cameras?tab=live")
    assert response.status_code == 302, response.text
    assert response.headers["location"] == "/cameras?tab=live"


@pytest.mark.parametrize(
    "return_to",
    [
        "https://evil.example/",
        "//evil.example/path",
        "/\\evil.example",
        "javascript:alert(1)",
        "cameras",
        "/ok\r\nSet-Cookie: x=1",
    ],
)
async def test_return_to_outside_this_site_is_refused(
    client: httpx.AsyncClient, return_to: str
) -> None:
    response = await client.get(START.format(provider="google"), params={"return_to": return_to})
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("/invalid-return-to")


async def test_a_tampered_state_is_refused_and_the_real_one_still_works(
    client: httpx.AsyncClient,
    oidc_provider: OidcTestProvider,
) -> None:
    person = await oidc_provider.add_account()
    answer = await oidc_provider.authorize(await begin(client), login_hint=person.email)
    state = answer.params["state"]
    tampered = ProviderAnswer("GET", with_query(answer.url, state=state[:-2] + "xx"))
    refused = await client.get(tampered.path_and_query)
    assert refused.status_code == 400, refused.text
    assert refused.json()["type"].endswith("/oauth-state")
    assert (await deliver(client, answer)).status_code == 302


async def test_a_replayed_callback_is_refused(
    client: httpx.AsyncClient,
    oidc_provider: OidcTestProvider,
) -> None:
    person = await oidc_provider.add_account()
    answer = await oidc_provider.authorize(await begin(client), login_hint=person.email)
    assert (await deliver(client, answer)).status_code == 302
    replay = await deliver(client, answer)
    assert replay.status_code == 400, replay.text
    assert "already used" in replay.json()["detail"]


async def test_a_callback_in_another_browser_is_refused(
    client: httpx.AsyncClient,
    other_browser: httpx.AsyncClient,
    oidc_provider: OidcTestProvider,
) -> None:
    # Login CSRF: an attacker's own finished flow, opened in the victim's browser.
    attacker = await oidc_provider.add_account()
    answer = await oidc_provider.authorize(await begin(client), login_hint=attacker.email)
    response = await deliver(other_browser, answer)
    assert response.status_code == 400, response.text
    assert "another browser" in response.json()["detail"]
    assert REFRESH_COOKIE not in other_browser.cookies


async def test_an_id_token_for_another_nonce_is_refused(
    client: httpx.AsyncClient,
    oidc_provider: OidcTestProvider,
) -> None:
    person = await oidc_provider.add_account()
    authorization_url = with_query(await begin(client), nonce="a-nonce-orin-never-sent")
    answer = await oidc_provider.authorize(authorization_url, login_hint=person.email)
    response = await deliver(client, answer)
    assert response.status_code == 401, response.text
    assert response.json()["type"].endswith("/invalid-id-token")
    assert "nonce" in response.json()["detail"]


async def test_a_code_for_another_pkce_challenge_is_refused_by_the_provider(
    client: httpx.AsyncClient,
    oidc_provider: OidcTestProvider,
) -> None:
    person = await oidc_provider.add_account()
    authorization_url = with_query(await begin(client), code_challenge="A" * 43)
    answer = await oidc_provider.authorize(authorization_url, login_hint=person.email)
    response = await deliver(client, answer)
    assert response.status_code == 400, response.text
    assert response.json()["type"].endswith("/oauth-code-rejected")


async def test_an_answer_naming_another_issuer_is_refused(
    client: httpx.AsyncClient,
    oidc_provider: OidcTestProvider,
) -> None:
    person = await oidc_provider.add_account()
    answer = await oidc_provider.authorize(await begin(client), login_hint=person.email)
    mixed_up = ProviderAnswer("GET", with_query(answer.url, iss="https://evil.example"))
    response = await client.get(mixed_up.path_and_query)
    assert response.status_code == 400, response.text
    assert "issuer" in response.json()["detail"]


async def test_a_declined_sign_in_goes_back_to_the_login_page(
    client: httpx.AsyncClient,
    oidc_provider: OidcTestProvider,
) -> None:
    answer = await oidc_provider.authorize(await begin(client), login_hint="deny")
    assert answer.params["error"] == "access_denied"
    response = await deliver(client, answer)
    assert response.status_code == 302
    assert response.headers["location"] == "/login?error=access_denied"
    assert REFRESH_COOKIE not in client.cookies
    # The flow is gone: its state cannot be used afterwards.
    late = await client.get(
        "/api/v1/auth/oauth/google/callback",
        params={"code": "whatever", "state": answer.params["state"]},
    )
    assert late.status_code == 400


async def test_apple_answers_with_a_form_post(
    client: httpx.AsyncClient,
    oidc_provider: OidcTestProvider,
) -> None:
    # Apple sends email_verified as a string and the name only in the first form, as JSON.
    person = await oidc_provider.add_account(name="", string_booleans=True)
    authorization_url = await begin(client, "apple", return_to="/spaces")
    query = parse_qs(urlsplit(authorization_url).query)
    assert query["response_mode"] == ["form_post"]
    assert query["client_id"] == [oidc_provider.apple.client_id]
    answer = await oidc_provider.authorize(authorization_url, login_hint=person.email)
    assert answer.method == "POST"
    assert answer.url == oidc_provider.apple.redirect_uri
    form = {**answer.form, "user": json.dumps({"name": {"firstName": "Ada", "lastName": "L"}})}
    response = await deliver(client, ProviderAnswer("POST", answer.url, form))
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/spaces"
    me = await profile(client)
    assert me["email"] == person.email
    assert me["email_verified"] is True
    assert me["display_name"] == "Ada L"


async def test_the_form_callback_needs_a_form(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/oauth/apple/callback", json={"code": "x", "state": "y"}
    )
    assert response.status_code == 400


async def test_an_unknown_provider_is_a_404(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get(START.format(provider="github")),
        await client.get("/api/v1/auth/oauth/github/callback", params={"code": "x", "state": "y"}),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["type"].endswith("/oauth-provider-not-found")


async def test_the_enabled_providers_are_listed(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/auth/oauth/providers")
    assert response.status_code == 200
    assert response.json() == ["apple", "google"]


# --- providers from settings -----------------------------------------------------------------


def test_a_provider_is_enabled_by_its_issuer_and_client_id() -> None:
    settings = Settings(
        oidc=OidcSettings(
            google_issuer="https://accounts.google.com/",
            google_client_id="id.apps.googleusercontent.com",
            apple_issuer="https://appleid.apple.com",  # no client id: stays off
        )
    )
    providers = enabled_providers(settings)
    assert list(providers) == ["google"]
    google = providers["google"]
    assert google.issuer == "https://accounts.google.com"
    assert google.extra_issuers == ("accounts.google.com",)
    assert google.redirect_uri == "http://127.0.0.1:8000/api/v1/auth/oauth/google/callback"
    with pytest.raises(OAuthProviderNotFound):
        get_provider(settings, "apple")
    assert enabled_providers(Settings()) == {}


@pytest.mark.parametrize(
    ("methods", "expected"),
    [
        ((), "client_secret_basic"),
        (("client_secret_post", "client_secret_basic"), "client_secret_basic"),
        (("client_secret_post",), "client_secret_post"),
    ],
)
def test_the_client_secret_goes_where_the_provider_takes_it(
    methods: tuple[str, ...], expected: str
) -> None:
    metadata = ProviderMetadata(
        issuer="https://op.example",
        authorization_endpoint="https://op.example/auth",
        token_endpoint="https://op.example/token",
        jwks_uri="https://op.example/jwks",
        token_endpoint_auth_methods=methods,
    )
    assert token_auth_method(metadata) == expected


def test_a_discovery_document_must_be_for_the_issuer_and_use_https() -> None:
    document = {
        "issuer": "https://op.example",
        "authorization_endpoint": "https://op.example/auth",
        "token_endpoint": "https://op.example/token",
        "jwks_uri": "https://op.example/jwks",
    }
    assert ProviderMetadata.from_document(document, "https://op.example").jwks_uri.endswith("jwks")
    with pytest.raises(ValueError, match="issuer"):
        ProviderMetadata.from_document(document, "https://other.example")
    with pytest.raises(ValueError, match="https"):
        ProviderMetadata.from_document(
            {**document, "token_endpoint": "http://op.example/token"}, "https://op.example"
        )


@pytest.mark.parametrize("value", ["/", "/cameras", "/cameras?tab=live#top", "/a/b%2Fc"])
def test_paths_on_this_site_are_valid_return_addresses(value: str) -> None:
    assert safe_return_to(value) == value


@pytest.mark.parametrize(
    "value", ["http://evil.example", "//evil.example", "/\\evil", "evil", "/a\tb", "/x\x7f"]
)
def test_other_return_addresses_are_refused(value: str) -> None:
    with pytest.raises(InvalidReturnTo):
        safe_return_to(value)


# --- the ID token validator ------------------------------------------------------------------

ISSUER = "https://op.example"
CLIENT_ID = "orin-client"
NONCE = "the-nonce-orin-sent"


@pytest.fixture(scope="module")
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "use": "sig"})


@pytest.fixture(scope="module")
def ec_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "ec-1", "use": "sig"})


def public_set(*keys: RSAKey | ECKey) -> KeySet:
    return KeySet.import_key_set({"keys": [key.as_dict(private=False) for key in keys]})


def id_token(key: RSAKey | ECKey | OctKey, alg: str = "RS256", **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "sub": "person-1",
        "iat": now,
        "exp": now + 300,
        "nonce": NONCE,
        "email": "person@example.com",
        "email_verified": True,
    }
    claims.update(overrides)
    for name in [name for name, value in claims.items() if value is None]:
        del claims[name]
    header = {"alg": alg, "kid": key.kid} if key.kid else {"alg": alg}
    return jwt.encode(header, claims, key, algorithms=[alg])


def check(token: str, keys: KeySet) -> Any:
    return validate_id_token(token, keys, issuers=[ISSUER], client_id=CLIENT_ID, nonce=NONCE)


def test_a_valid_id_token_gives_the_person(rsa_key: RSAKey, ec_key: ECKey) -> None:
    keys = public_set(rsa_key, ec_key)
    for token in (id_token(rsa_key), id_token(ec_key, "ES256")):
        claims = check(token, keys)
        assert claims.subject == "person-1"
        assert claims.email == "person@example.com"
        assert claims.email_verified is True


def test_an_id_token_signed_by_an_unknown_key_is_refused(rsa_key: RSAKey) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "stranger"})
    with pytest.raises(UnknownSigningKey):
        check(id_token(stranger), public_set(rsa_key))


def test_an_id_token_signed_by_another_key_under_a_known_kid_is_refused(
    rsa_key: RSAKey,
) -> None:
    forger = RSAKey.generate_key(2048, parameters={"kid": rsa_key.kid or ""})
    with pytest.raises(InvalidIdToken) as refused:
        check(id_token(forger), public_set(rsa_key))
    assert not isinstance(refused.value, UnknownSigningKey)


def test_an_id_token_with_a_symmetric_or_no_signature_is_refused(rsa_key: RSAKey) -> None:
    secret = OctKey.import_key("client-secret-that-is-long-enough-32b")
    mac_token = id_token(secret, "HS256")
    payload = id_token(rsa_key).split(".")[1]
    header = base64.urlsafe_b64encode(b'{"alg":"none","kid":"rsa-1"}').rstrip(b"=").decode()
    none_token = f"{header}.{payload}."
    for token in (mac_token, none_token):
        with pytest.raises(InvalidIdToken):
            check(token, public_set(rsa_key))


@pytest.mark.parametrize(
    ("overrides", "claim"),
    [
        ({"iss": "https://evil.example"}, "iss"),
        ({"aud": "another-client"}, "aud"),
        ({"aud": [CLIENT_ID, "another-client"]}, "azp"),
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"iat": int(time.time()) + 3600}, "iat"),
        ({"iat": None}, "iat"),
        ({"sub": None}, "sub"),
        ({"nonce": "another-nonce"}, "nonce"),
        ({"nonce": None}, "nonce"),
    ],
)
def test_an_id_token_with_a_wrong_claim_is_refused(
    rsa_key: RSAKey, overrides: dict[str, Any], claim: str
) -> None:
    with pytest.raises(InvalidIdToken, match=claim):
        check(id_token(rsa_key, **overrides), public_set(rsa_key))


def test_several_audiences_are_fine_when_azp_names_orin(rsa_key: RSAKey) -> None:
    token = id_token(rsa_key, aud=[CLIENT_ID, "other"], azp=CLIENT_ID)
    assert check(token, public_set(rsa_key)).subject == "person-1"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), ("true", True), ("TRUE", True), (False, False), ("false", False),
     (None, False), (1, False), ("yes", False)],
)  # fmt: skip
def test_email_verified_is_read_as_apple_and_google_send_it(value: object, expected: bool) -> None:
    assert claim_is_true(value) is expected


# --- the key cache ---------------------------------------------------------------------------


class FakeProvider:
    """A provider behind httpx.MockTransport whose published keys a test can change."""

    def __init__(self, *keys: RSAKey | ECKey) -> None:
        self.published = list(keys)
        self.jwks_fetches = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/auth",
                    "token_endpoint": f"{ISSUER}/token",
                    "jwks_uri": f"{ISSUER}/jwks",
                },
            )
        if request.url.path == "/jwks":
            self.jwks_fetches += 1
            return httpx.Response(
                200, json={"keys": [key.as_dict(private=False) for key in self.published]}
            )
        return httpx.Response(404)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


PROVIDER = OidcProvider(
    name="google",
    issuer=ISSUER,
    client_id=CLIENT_ID,
    client_secret="secret",
    scopes="openid email",
    redirect_uri=f"{ORIN_TEST_URL}/api/v1/auth/oauth/google/callback",
    response_mode="query",
)


async def verify_with(service: OidcService, token: str) -> Any:
    metadata = await service.metadata(PROVIDER, 5.0)
    return await service.verify_id_token(PROVIDER, metadata, token, nonce=NONCE, timeout_s=5.0)


def service_for(fake: FakeProvider, clock: Callable[[], float]) -> OidcService:
    return OidcService(transport=httpx.MockTransport(fake.handler), clock=clock)


async def test_a_rotated_key_is_fetched_once_and_accepted(rsa_key: RSAKey, ec_key: ECKey) -> None:
    fake = FakeProvider(rsa_key)
    clock = Clock()
    service = service_for(fake, clock)
    assert (await verify_with(service, id_token(rsa_key))).subject == "person-1"
    fake.published.append(ec_key)  # the provider rotates in a new key
    clock.now += JWKS_REFETCH_COOLDOWN_S + 1
    assert (await verify_with(service, id_token(ec_key, "ES256"))).subject == "person-1"
    assert fake.jwks_fetches == 2
    # Both keys are cached now.
    await verify_with(service, id_token(rsa_key))
    assert fake.jwks_fetches == 2


async def test_unknown_key_ids_do_not_make_orin_hammer_the_provider(rsa_key: RSAKey) -> None:
    fake = FakeProvider(rsa_key)
    clock = Clock()
    service = service_for(fake, clock)
    stranger = RSAKey.generate_key(2048, parameters={"kid": "stranger"})
    with pytest.raises(UnknownSigningKey):
        await verify_with(service, id_token(stranger))
    assert fake.jwks_fetches == 1  # just fetched: no second look
    clock.now += JWKS_REFETCH_COOLDOWN_S + 1
    for _ in range(3):
        with pytest.raises(UnknownSigningKey):
            await verify_with(service, id_token(stranger))
    assert fake.jwks_fetches == 2  # one refetch, then the fresh set stands for the cooldown
