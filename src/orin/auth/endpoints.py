"""`/api/v1/auth/*`: register, login, refresh, logout, JWKS.

Refusals the service returns (a failed login, a reused refresh token) are committed here before
they are raised, so the lockout count, the family revocation and their audit entries stick; this
is the request boundary, where commits belong.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response, status

from orin.auth.cookies import clear_session_cookies, refresh_token_from_cookie, set_session_cookies
from orin.auth.deps import AuthContextDep, CallerDep, ClientDep, KeyRingDep
from orin.auth.email_flows import send_verification
from orin.auth.mfa import MfaChallenge, MfaRequired
from orin.auth.schemas import Credentials, RefreshRequest, Registration, TokenPair, UserOut
from orin.auth.service import AuthContext, InvalidRefreshToken, IssuedTokens, auth_service
from orin.db import commit_refusal
from orin.deps import SessionDep
from orin.errors import OrinError
from orin.models.base import utcnow
from orin.problems import problem_responses
from orin.security.ratelimit import AuthRateLimit

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
limited = [Depends(AuthRateLimit)]


def user_out(tokens: IssuedTokens) -> UserOut:
    user = tokens.user
    return UserOut(
        id=user.id,
        email=user.email,
        email_verified=user.email_verified_at is not None,
        display_name=user.display_name,
        role=user.role,
        plan=user.plan,
        created_at=user.created_at,
    )


def token_pair(
    tokens: IssuedTokens, ctx: AuthContext, response: Response, *, use_cookie: bool
) -> TokenPair:
    csrf = None
    if use_cookie:
        max_age = int((tokens.refresh_expires_at - utcnow()).total_seconds())
        csrf = set_session_cookies(response, ctx.settings.auth, tokens.refresh_token, max_age)
    return TokenPair(
        access_token=tokens.access_token,
        expires_in=int((tokens.access_expires_at - utcnow()).total_seconds()),
        session_id=tokens.session_id,
        refresh_token=None if use_cookie else tokens.refresh_token,
        refresh_expires_at=tokens.refresh_expires_at,
        csrf_token=csrf,
        user=user_out(tokens),
    )


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    operation_id="auth_register",
    dependencies=limited,
    responses=problem_responses(409, 422, 429),
)
async def register(
    body: Registration,
    db: SessionDep,
    ctx: AuthContextDep,
    client: ClientDep,
    response: Response,
) -> TokenPair:
    """Create an account and sign it in."""
    tokens = await auth_service.register(
        db,
        ctx,
        email=body.email,
        password=body.password,
        display_name=body.display_name,
        client=client,
    )
    await send_verification(db, ctx, tokens.user)
    return token_pair(tokens, ctx, response, use_cookie=body.use_cookie)


@router.post(
    "/login",
    operation_id="auth_login",
    dependencies=limited,
    responses=problem_responses(401, 422, 429),
)
async def login(
    body: Credentials,
    db: SessionDep,
    ctx: AuthContextDep,
    client: ClientDep,
    response: Response,
) -> TokenPair | MfaRequired:
    """Sign in with email and password. Unknown emails and wrong passwords get the same 401.

    When the account has two-step sign-in on, the answer is `MfaRequired` (``mfa_required:
    true``, no tokens yet): send its ``challenge_token`` with a code to
    ``/api/v1/auth/mfa/verify``.
    """
    outcome = await auth_service.login(
        db, ctx, email=body.email, password=body.password, client=client
    )
    if isinstance(outcome, OrinError):
        await commit_refusal(db, outcome)  # keep the failure count and audit entry, then refuse
    if isinstance(outcome, MfaChallenge):
        return MfaRequired(challenge_token=outcome.token, expires_in=outcome.expires_in)
    return token_pair(outcome, ctx, response, use_cookie=body.use_cookie)


@router.post(
    "/refresh",
    operation_id="auth_refresh",
    dependencies=limited,
    responses=problem_responses(401, 403, 422, 429),
)
async def refresh(
    request: Request,
    db: SessionDep,
    ctx: AuthContextDep,
    client: ClientDep,
    response: Response,
    body: RefreshRequest | None = None,
) -> TokenPair:
    """Exchange a refresh token (body, or cookie + CSRF header) for new tokens."""
    token = body.refresh_token if body is not None and body.refresh_token else None
    use_cookie = token is None
    if token is None:
        token = refresh_token_from_cookie(request)
    if token is None:
        raise InvalidRefreshToken("send a refresh_token in the body or the cookie")
    outcome = await auth_service.refresh(db, ctx, refresh_token=token, client=client)
    if isinstance(outcome, OrinError):
        await commit_refusal(db, outcome)  # a reused token's family revocation must stick
    return token_pair(outcome, ctx, response, use_cookie=use_cookie)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="auth_logout",
    responses=problem_responses(401),
)
async def logout(
    caller: CallerDep,
    db: SessionDep,
    ctx: AuthContextDep,
    client: ClientDep,
    response: Response,
) -> None:
    """Sign this session out everywhere its tokens are used."""
    await auth_service.logout(
        db, ctx, user_id=caller.user.id, session_id=caller.claims.session_id, client=client
    )
    clear_session_cookies(response, ctx.settings.auth)


@router.get("/jwks.json", operation_id="auth_jwks")
async def jwks(keyring: KeyRingDep) -> dict[str, Any]:
    """Public keys that verify ORIN's access tokens (JWK Set)."""
    await keyring.refresh_if_stale()
    return keyring.jwks()
