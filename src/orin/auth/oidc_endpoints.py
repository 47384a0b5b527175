"""`/api/v1/auth/oauth/*`: sign-in with Google and Apple (OpenID Connect).

The browser goes to ``start``, which redirects it to the provider; the provider sends it back
to ``callback`` (Google with a GET, Apple with a form POST), which signs it in the way the web
app does: the refresh token in the httpOnly cookie and the CSRF cookie beside it. The callback
then redirects to ``return_to``, and the web app gets its access token from
``POST /api/v1/auth/refresh`` with the ``X-CSRF-Token`` header.

Errors: when the *provider* reports one (``error=access_denied`` when the person declines),
the browser is redirected to ``/login?error=<code>``, since a person is looking at the page and
the login page can offer to try again; only the error code is passed on, never the provider's
free text. Every fault found here (an unknown, expired or replayed state, an ID token that does
not verify, an address that belongs to another account) is a problem+json response with its
status, as everywhere in the API.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Annotated, Final
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.responses import RedirectResponse, Response

from orin.auth.cookies import set_session_cookies
from orin.auth.deps import AuthContextDep, ClientDep
from orin.auth.oidc import (
    FLOW_TTL_S,
    MAX_RETURN_TO_LENGTH,
    MAX_STATE_LENGTH,
    OAuthAccountConflict,
    OAuthStateInvalid,
    enabled_providers,
    oidc_service,
)
from orin.config import AuthSettings
from orin.db import commit_refusal
from orin.deps import SessionDep, SettingsDep
from orin.errors import BadRequest
from orin.models.base import utcnow
from orin.problems import problem_responses
from orin.security.ratelimit import AuthRateLimit

router = APIRouter(prefix="/api/v1/auth/oauth", tags=["auth"])
limited = [Depends(AuthRateLimit)]

BINDING_COOKIE: Final = "orin_oauth"
"""Ties a started sign-in to the browser that started it (see `orin.auth.oidc`)."""
BINDING_COOKIE_PATH: Final = "/api/v1/auth/oauth"
LOGIN_PATH: Final = "/login"
MAX_FORM_BYTES: Final = 16 * 1024
"""Apple's form holds a code, the state, an ID token and the person's name: a few KiB."""
MAX_CODE_LENGTH: Final = 2048

_BINDING_FORMAT: Final = re.compile(r"[A-Za-z0-9_-]{43}")
_ERROR_CODE_FORMAT: Final = re.compile(r"[a-z_]{1,64}")

ProviderName = Annotated[str, Path(max_length=30, description="The provider: `google` or `apple`.")]


class FormTooLarge(BadRequest):
    status_code = 413
    type_slug = "form-too-large"
    title = "Request body too large"


def _set_binding_cookie(response: Response, settings: AuthSettings, value: str) -> None:
    # Apple answers with a cross-site form POST, which carries only SameSite=None cookies (and
    # browsers take those only when Secure); over plain http (development) Lax is the best.
    response.set_cookie(
        BINDING_COOKIE,
        value,
        max_age=FLOW_TTL_S,
        path=BINDING_COOKIE_PATH,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="none" if settings.cookie_secure else "lax",
    )


MFA_PAGE = "/login/mfa"
"""Where an account with two-step sign-in continues after the provider (the web app's page)."""


def _login_error_url(error: str) -> str:
    code = error if _ERROR_CODE_FORMAT.fullmatch(error) else "oauth_failed"
    return f"{LOGIN_PATH}?{urlencode({'error': code})}"


def _apple_name(raw: str | None) -> str:
    """The person's name from Apple's ``user`` form field (sent on the first sign-in only)."""
    if not raw or len(raw) > 4096:
        return ""
    try:
        user = json.loads(raw)
    except ValueError:
        return ""
    name = user.get("name") if isinstance(user, dict) else None
    if not isinstance(name, dict):
        return ""
    parts = [name.get("firstName"), name.get("lastName")]
    return " ".join(part.strip() for part in parts if isinstance(part, str) and part.strip())


@router.get("/providers", operation_id="auth_oauth_providers")
async def providers(settings: SettingsDep) -> list[str]:
    """Names of the providers this server can sign in with, for the login page's buttons."""
    return sorted(enabled_providers(settings))


@router.get(
    "/{provider}/start",
    operation_id="auth_oauth_start",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    dependencies=limited,
    responses={
        302: {"description": "To the provider's sign-in page."},
        **problem_responses(404, 422, 429, 503),
    },
)
async def start(
    provider: ProviderName,
    request: Request,
    ctx: AuthContextDep,
    return_to: Annotated[
        str,
        Query(
            max_length=MAX_RETURN_TO_LENGTH,
            description="Path on this site to open after signing in, such as `/cameras`.",
        ),
    ] = "/",
) -> RedirectResponse:
    """Start signing in with ``provider``: redirects the browser to the provider.

    404 when the provider is unknown or not configured; 422 when ``return_to`` is not a path
    on this site.
    """
    binding = request.cookies.get(BINDING_COOKIE, "")
    if not _BINDING_FORMAT.fullmatch(binding):
        binding = secrets.token_urlsafe(32)
    url = await oidc_service.start(ctx, provider, return_to=return_to, browser_binding=binding)
    response = RedirectResponse(url, status_code=status.HTTP_302_FOUND)
    _set_binding_cookie(response, ctx.settings.auth, binding)
    return response


async def _finish(
    provider: str,
    request: Request,
    db: SessionDep,
    ctx: AuthContextDep,
    client: ClientDep,
    params: dict[str, str],
    *,
    redirect_status: int,
) -> RedirectResponse:
    error = params.get("error")
    state = params.get("state")
    if error is not None:
        await oidc_service.abandon(ctx, provider, state=state, error=error)
        return RedirectResponse(_login_error_url(error), status_code=redirect_status)
    code = params.get("code")
    if not code or not state:
        raise OAuthStateInvalid("the provider's answer lacks the code or the state")
    if len(code) > MAX_CODE_LENGTH or len(state) > MAX_STATE_LENGTH:
        raise OAuthStateInvalid("the provider's answer is malformed")
    outcome = await oidc_service.complete(
        db,
        ctx,
        provider,
        code=code,
        state=state,
        issuer=params.get("iss"),
        browser_binding=request.cookies.get(BINDING_COOKIE, ""),
        client=client,
        name_hint=_apple_name(params.get("user")),
    )
    if isinstance(outcome, OAuthAccountConflict):
        await commit_refusal(db, outcome)  # keep the refusal's audit entry, then refuse
    if outcome.mfa_challenge is not None:
        # The web app asks for the code and posts it to /api/v1/auth/mfa/verify. The challenge
        # rides in the fragment, which browsers never send to a server (so no access logs).
        fragment = urlencode(
            {"challenge": outcome.mfa_challenge.token, "return_to": outcome.return_to}
        )
        return RedirectResponse(f"{MFA_PAGE}#{fragment}", status_code=redirect_status)
    assert outcome.tokens is not None
    response = RedirectResponse(outcome.return_to, status_code=redirect_status)
    max_age = int((outcome.tokens.refresh_expires_at - utcnow()).total_seconds())
    set_session_cookies(response, ctx.settings.auth, outcome.tokens.refresh_token, max_age)
    return response


_CALLBACK_PROBLEMS = (400, 401, 404, 409, 422, 429, 503)
"""400: state unknown, expired, used or from another browser; 401: the ID token does not
verify; 409: the address belongs to an account that cannot be linked safely."""


@router.get(
    "/{provider}/callback",
    operation_id="auth_oauth_callback",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    dependencies=limited,
    responses={
        302: {"description": "Signed in (cookies set): on to `return_to`, or to `/login?error=`."},
        **problem_responses(*_CALLBACK_PROBLEMS),
    },
)
async def callback(
    provider: ProviderName,
    request: Request,
    db: SessionDep,
    ctx: AuthContextDep,
    client: ClientDep,
    code: Annotated[str | None, Query(description="The authorization code.")] = None,
    state: Annotated[str | None, Query(description="The state `start` sent.")] = None,
    iss: Annotated[str | None, Query(description="The issuer (RFC 9207).")] = None,
    error: Annotated[str | None, Query(description="The provider's error code.")] = None,
) -> RedirectResponse:
    """Where the provider sends the browser back: signs it in and redirects to ``return_to``.

    400 when the state is unknown, expired, already used or from another browser; 401 when
    the ID token does not verify; 409 when the address belongs to an account that cannot be
    linked safely (sign in with the password instead).
    """
    given = {"code": code, "state": state, "iss": iss, "error": error}
    params = {name: value for name, value in given.items() if value is not None}
    return await _finish(
        provider, request, db, ctx, client, params, redirect_status=status.HTTP_302_FOUND
    )


@router.post(
    "/{provider}/callback",
    operation_id="auth_oauth_callback_form_post",
    status_code=status.HTTP_303_SEE_OTHER,
    response_class=RedirectResponse,
    dependencies=limited,
    responses={
        303: {"description": "As the GET callback's 302, continuing with a GET."},
        **problem_responses(*_CALLBACK_PROBLEMS, 413),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            name: {"type": "string"}
                            for name in ("code", "state", "iss", "error", "user")
                        },
                    }
                }
            },
        }
    },
)
async def callback_form_post(
    provider: ProviderName,
    request: Request,
    db: SessionDep,
    ctx: AuthContextDep,
    client: ClientDep,
) -> RedirectResponse:
    """The callback for providers answering with a form POST (``response_mode=form_post``,
    as Apple does); same outcome as the GET, with a 303 so the browser continues with a GET."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise OAuthStateInvalid("the callback expects an application/x-www-form-urlencoded form")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_FORM_BYTES:
            raise FormTooLarge(f"the form is larger than {MAX_FORM_BYTES} bytes")
    try:
        fields = parse_qsl(body.decode("utf-8"), keep_blank_values=False, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise OAuthStateInvalid("the provider's form is malformed") from None
    params = dict(fields)
    return await _finish(
        provider, request, db, ctx, client, params, redirect_status=status.HTTP_303_SEE_OTHER
    )
