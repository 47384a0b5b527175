"""Browser sign-in: the refresh token in an httpOnly cookie, guarded by a double-submit CSRF token.

The refresh cookie is httpOnly, SameSite and scoped to the auth endpoints. The CSRF cookie is
readable by the page, which echoes it in the ``X-CSRF-Token`` header; a cross-site form cannot
read it, so a request carrying the cookie but not the matching header is refused.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request, Response

from orin.config import AuthSettings
from orin.errors import Forbidden

REFRESH_COOKIE = "orin_refresh"
CSRF_COOKIE = "orin_csrf"
CSRF_HEADER = "X-CSRF-Token"
REFRESH_COOKIE_PATH = "/api/v1/auth"


class CsrfFailed(Forbidden):
    type_slug = "csrf"
    title = "CSRF check failed"


def set_session_cookies(
    response: Response, settings: AuthSettings, refresh_token: str, max_age_s: int
) -> str:
    """Set the refresh and CSRF cookies; returns the CSRF token (also sent in the body)."""
    csrf = secrets.token_urlsafe(32)
    for name, value, httponly, path in (
        (REFRESH_COOKIE, refresh_token, True, REFRESH_COOKIE_PATH),
        (CSRF_COOKIE, csrf, False, "/"),
    ):
        response.set_cookie(
            name,
            value,
            max_age=max_age_s,
            path=path,
            httponly=httponly,
            secure=settings.cookie_secure,
            samesite=settings.cookie_samesite,
        )
    return csrf


def clear_session_cookies(response: Response, settings: AuthSettings) -> None:
    response.delete_cookie(
        REFRESH_COOKIE,
        path=REFRESH_COOKIE_PATH,
        secure=settings.cookie_secure,
        httponly=True,
        samesite=settings.cookie_samesite,
    )
    response.delete_cookie(
        CSRF_COOKIE, path="/", secure=settings.cookie_secure, samesite=settings.cookie_samesite
    )


def refresh_token_from_cookie(request: Request) -> str | None:
    """The cookie's refresh token after the CSRF check, or None when there is no cookie."""
    token = request.cookies.get(REFRESH_COOKIE)
    if token is None:
        return None
    cookie = request.cookies.get(CSRF_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    if not cookie or not header or not hmac.compare_digest(cookie, header):
        raise CsrfFailed(f"send the {CSRF_COOKIE} cookie's value in the {CSRF_HEADER} header")
    return token
