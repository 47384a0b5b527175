"""Who is calling: the access token checked, its session still live, the user loaded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from orin.auth import session_cache
from orin.auth.keys import KeyRing
from orin.auth.service import AuthContext, ClientInfo
from orin.auth.tokens import AccessClaims, InvalidToken, verify_access_token
from orin.deps import CacheDep, RateLimiterDep, SessionDep, SettingsDep
from orin.errors import Forbidden
from orin.models.user import User, UserRole
from orin.runtime.infrastructure import Infrastructure
from orin.security.ratelimit import ApiUserRateLimit, client_ip

bearer = HTTPBearer(auto_error=False, description="An access token from /api/v1/auth/login.")


def get_keyring(request: Request) -> KeyRing:
    return cast(KeyRing, request.state.keyring)


KeyRingDep = Annotated[KeyRing, Depends(get_keyring)]


def get_client(request: Request) -> ClientInfo:
    return ClientInfo(ip=client_ip(request), user_agent=request.headers.get("user-agent", ""))


ClientDep = Annotated[ClientInfo, Depends(get_client)]


def get_auth_context(
    request: Request,
    settings: SettingsDep,
    keyring: KeyRingDep,
    cache: CacheDep,
    limiter: RateLimiterDep,
) -> AuthContext:
    infra = cast(Infrastructure, request.state.infra)
    return AuthContext(
        settings=settings,
        keyring=keyring,
        cache=cache,
        rate_limiter=limiter,
        sealer=infra.sealer,
    )


AuthContextDep = Annotated[AuthContext, Depends(get_auth_context)]


@dataclass(frozen=True, slots=True)
class Caller:
    """The signed-in user and the session their token belongs to."""

    user: User
    claims: AccessClaims


async def get_caller(
    request: Request,
    response: Response,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    db: SessionDep,
    settings: SettingsDep,
    keyring: KeyRingDep,
    cache: CacheDep,
) -> Caller:
    """The caller from ``Authorization: Bearer``; 401 when missing, invalid or signed out,
    429 when the user spent their per-user request budget."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise InvalidToken("sign in first: send `Authorization: Bearer <access token>`")
    claims = await verify_access_token(keyring, settings.auth, credentials.credentials)
    ttl = settings.auth.session_cache_ttl_s
    if not await session_cache.is_active(cache, db, claims.session_id, ttl):
        raise InvalidToken("this session was signed out; sign in again")
    user = await db.get(User, claims.user_id)
    if user is None:
        raise InvalidToken("the account no longer exists")
    if user.disabled_at is not None:
        raise InvalidToken("this account is disabled")
    request.state.user_id = user.id
    await ApiUserRateLimit(request, response)
    return Caller(user=user, claims=claims)


CallerDep = Annotated[Caller, Depends(get_caller)]


async def get_current_user(caller: CallerDep) -> User:
    return caller.user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_admin(caller: CallerDep) -> User:
    """The caller, if an admin; 403 otherwise."""
    if caller.user.role != UserRole.ADMIN:
        raise Forbidden("this needs the admin role")
    return caller.user


AdminUser = Annotated[User, Depends(get_admin)]


class EmailNotVerified(Forbidden):
    type_slug = "email-not-verified"
    title = "Email address not verified"


async def get_verified_user(user: CurrentUser) -> User:
    """The caller, if their email address is verified; 403 otherwise.

    Unverified users may sign in and use their own cameras; what reaches other people
    (sharing, invitations, email notifications) needs a verified address.
    """
    if user.email_verified_at is None:
        raise EmailNotVerified(
            "verify your email address first: sharing, invitations and email notifications "
            "need it (POST /api/v1/auth/verify-email/resend sends the link again)"
        )
    return user


VerifiedUser = Annotated[User, Depends(get_verified_user)]
