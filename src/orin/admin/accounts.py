"""Whether an account is disabled (``user.disabled_at``), kept in one place.

A disabled account cannot open a session by any path (password, second factor, OpenID
Connect: `orin.auth.service.AuthService.start_session`), cannot refresh, and its access
tokens are refused (`orin.auth.deps.get_caller`). Disabling also revokes every session.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement

from orin.models.base import utcnow
from orin.models.user import User


def is_disabled(user: User) -> bool:
    return user.disabled_at is not None


def disabled_clause() -> ColumnElement[bool]:
    """SQL condition true for disabled accounts."""
    return User.disabled_at.is_not(None)


def set_disabled(user: User, disabled: bool) -> None:
    """Disable or re-enable the account (sessions are revoked by the caller)."""
    if disabled and user.disabled_at is None:
        user.disabled_at = utcnow()
    elif not disabled:
        user.disabled_at = None
