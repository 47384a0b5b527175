"""Email verification and password reset by mailed, single-use, expiring tokens.

A token is 256 random bits (``secrets.token_urlsafe(32)``). The database keeps its SHA-256 to
find it by, and the token itself sealed (`orin.kit.crypto`) for the mail worker, so the job on
the bus carries only the row id and a database dump alone lets no one use a link. A token is
used at most once (marked used with a conditional update, so two requests racing with the same
link cannot both succeed), only before it expires, and only while the account still has the
address it was mailed to.

Resetting a password signs out every session of the account and retires its other reset links.
Asking for a reset answers the same, after comparable work, whether the address has an account
or not; the endpoint turns that into one fixed 202.

Like `AuthService`, these functions never commit: the request that calls them does.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from orin.audit import audit_event
from orin.auth import repository, service
from orin.auth.emails import normalize_email
from orin.auth.passwords import PasswordPolicy, hash_password
from orin.errors import BadRequest, Conflict
from orin.models.base import new_id, utcnow
from orin.models.email_token import EmailToken, EmailTokenPurpose
from orin.models.user import User
from orin.outbox import enqueue
from orin.security.ratelimit import hit_or_raise

# `orin.auth.service` is imported as a module and its names are looked up at call time, so
# that `AuthService.register` can call `send_verification` whichever module loads first.
if TYPE_CHECKING:
    from orin.auth.service import AuthContext, ClientInfo

logger = structlog.get_logger(__name__)

MAIL_TOPIC = "mail.email_token"
"""Bus topic of the job that mails one token; its payload is ``{"email_token_id": ...}``."""

SEAL_PURPOSE = "email_token"
"""Purpose label the token is sealed under (a value sealed for another purpose won't open)."""

TOKEN_BYTES = 32
TOKEN_MAX_LENGTH = 200
"""Longest token the endpoints accept; real ones are 43 characters."""

RESET_REQUESTS_PER_ADDRESS = 5
RESET_REQUEST_PERIOD_S = 3600.0
"""Reset mails one address may be sent per period, whether it has an account or not."""

RESENDS_PER_USER = 3
RESEND_PERIOD_S = 3600.0
"""Verification mails a signed-in user may ask for per period."""


class InvalidEmailToken(BadRequest):
    """The link's token is unknown, for another purpose, or for an address no longer used."""

    type_slug = "invalid-email-token"
    title = "Invalid link"


class ExpiredEmailToken(InvalidEmailToken):
    """The link was valid once: it has expired or was already used."""

    status_code = 410
    type_slug = "expired-email-token"
    title = "Link expired or already used"


class EmailAlreadyVerified(Conflict):
    type_slug = "email-already-verified"
    title = "Email already verified"


def hash_email_token(token: str) -> str:
    """The stored form of a token: SHA-256 hex (the token is random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


# --- queries -------------------------------------------------------------------------------


async def _token_by_hash(db: AsyncSession, token_hash: str) -> EmailToken | None:
    return await db.scalar(select(EmailToken).where(EmailToken.token_hash == token_hash))


async def _mark_used(db: AsyncSession, token_id: str, now: datetime) -> bool:
    """Mark the token used, atomically; False when another request used it first."""
    result = await db.execute(
        update(EmailToken)
        .where(EmailToken.id == token_id, EmailToken.used_at.is_(None))
        .values(used_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def _retire_tokens(
    db: AsyncSession, user_id: str, purpose: EmailTokenPurpose, now: datetime
) -> None:
    """Mark every unused token of the user for ``purpose`` used, so its link stops working."""
    await db.execute(
        update(EmailToken)
        .where(
            EmailToken.user_id == user_id,
            EmailToken.purpose == purpose,
            EmailToken.used_at.is_(None),
        )
        .values(used_at=now)
    )


# --- shared steps --------------------------------------------------------------------------


def _new_token(ctx: AuthContext) -> tuple[str, str, str]:
    """A fresh token, its hash and its sealed form."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    sealed = ctx.sealer.seal(token.encode(), purpose=SEAL_PURPOSE)
    return token, hash_email_token(token), sealed


async def _issue(
    db: AsyncSession,
    ctx: AuthContext,
    user: User,
    purpose: EmailTokenPurpose,
    ttl_s: int,
) -> EmailToken:
    """Store a new token for ``user`` and queue the mail that carries it."""
    _, token_hash, sealed = _new_token(ctx)
    now = utcnow()
    row = EmailToken(
        id=new_id(),
        user_id=user.id,
        purpose=purpose,
        token_hash=token_hash,
        sealed_token=sealed,
        email=user.email,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
    )
    db.add(row)
    enqueue(db, MAIL_TOPIC, {"email_token_id": row.id})
    logger.info("auth.email_token_issued", user_id=user.id, purpose=str(purpose), token_id=row.id)
    return row


async def _usable_token(
    db: AsyncSession, token: str, purpose: EmailTokenPurpose
) -> tuple[EmailToken, User]:
    """The unused, unexpired token row for ``purpose`` and its user, or a refusal."""
    row = None
    if 0 < len(token) <= TOKEN_MAX_LENGTH:
        row = await _token_by_hash(db, hash_email_token(token))
    if row is None or row.purpose != purpose:
        raise InvalidEmailToken(
            "this link is not valid; check that it was copied whole, or ask for a new one"
        )
    if row.used_at is not None:
        raise ExpiredEmailToken("this link was already used; each link works once")
    if row.expires_at <= utcnow():
        raise ExpiredEmailToken("this link has expired; ask for a new one")
    user = await repository.user_by_id(db, row.user_id)
    if user is None or user.email != row.email:
        raise InvalidEmailToken(
            "this link was sent to an address the account no longer uses; ask for a new one"
        )
    return row, user


async def _claim(db: AsyncSession, row: EmailToken, now: datetime) -> None:
    """Use the token up, or refuse when a concurrent request already did."""
    if not await _mark_used(db, row.id, now):
        raise ExpiredEmailToken("this link was already used; each link works once")
    row.used_at = now


async def revoke_all_sessions(db: AsyncSession, ctx: AuthContext, user_id: str, reason: str) -> int:
    """Revoke every live session of the user (through `AuthService.revoke`); returns how many."""
    session_ids = [
        auth_session.id for auth_session in await repository.active_sessions(db, user_id, utcnow())
    ]
    if session_ids:
        await service.auth_service.revoke(db, ctx, session_ids, reason)
    return len(session_ids)


# --- flows ---------------------------------------------------------------------------------


async def send_verification(db: AsyncSession, ctx: AuthContext, user: User) -> str:
    """Queue a mail with a link proving the user reads ``user.email``; returns the token id.

    The link lives ``mail.verify_token_ttl_s``. Call it after the user row exists (sign-up) or
    when the user asks again (`resend_verification`).
    """
    row = await _issue(
        db, ctx, user, EmailTokenPurpose.VERIFY_EMAIL, ctx.settings.mail.verify_token_ttl_s
    )
    return row.id


async def resend_verification(db: AsyncSession, ctx: AuthContext, user: User) -> str:
    """Mail a new verification link (earlier ones keep working until they expire).

    Refused with 409 when the address is already verified, and with 429 after
    `RESENDS_PER_USER` requests in `RESEND_PERIOD_S`.
    """
    if user.email_verified_at is not None:
        raise EmailAlreadyVerified("this email address is already verified")
    if ctx.settings.ratelimit.enabled:
        await hit_or_raise(
            ctx.rate_limiter, f"rl:verify-resend:user:{user.id}", RESENDS_PER_USER, RESEND_PERIOD_S
        )
    return await send_verification(db, ctx, user)


async def verify_email(db: AsyncSession, ctx: AuthContext, token: str, client: ClientInfo) -> User:
    """Mark the user's address verified with a mailed token; returns the user.

    Refuses (400) an unknown token or one mailed to an address the account no longer has, and
    (410) an expired or used one. The account's other verification links are retired.
    """
    row, user = await _usable_token(db, token, EmailTokenPurpose.VERIFY_EMAIL)
    now = utcnow()
    await _claim(db, row, now)
    await _retire_tokens(db, user.id, EmailTokenPurpose.VERIFY_EMAIL, now)
    if user.email_verified_at is None:
        user.email_verified_at = now
    await audit_event(
        db,
        client,
        action="auth.email_verified",
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
        details={"email_token_id": row.id},
    )
    logger.info("auth.email_verified", user_id=user.id)
    return user


async def forgot_password(
    db: AsyncSession, ctx: AuthContext, email: str, client: ClientInfo
) -> None:
    """Mail a reset link if ``email`` has an account; behave the same way if it has not.

    Both cases spend one token of the address's rate-limit bucket (429 after
    `RESET_REQUESTS_PER_ADDRESS` per `RESET_REQUEST_PERIOD_S`), make and seal a token, and
    write an audit entry, so neither the answer nor its timing tells whether the account
    exists. The mail itself goes out later, from the worker. A malformed address is a 422,
    which says nothing about accounts.
    """
    normalized = normalize_email(email)
    digest = service.email_digest(normalized)
    if ctx.settings.ratelimit.enabled:
        await hit_or_raise(
            ctx.rate_limiter,
            f"rl:password-reset:account:{digest}",
            RESET_REQUESTS_PER_ADDRESS,
            RESET_REQUEST_PERIOD_S,
        )
    user = await repository.user_by_email(db, normalized)
    if user is None:
        _new_token(ctx)  # the same hashing and sealing as a real request, thrown away
        await audit_event(
            db,
            client,
            action="auth.password_reset_requested",
            actor_id=None,
            target_type="email",
            target_id=digest,
            details={"account": "unknown"},
        )
        logger.info("auth.password_reset_requested", account="unknown", email_digest=digest)
        return
    row = await _issue(
        db, ctx, user, EmailTokenPurpose.RESET_PASSWORD, ctx.settings.mail.reset_token_ttl_s
    )
    await audit_event(
        db,
        client,
        action="auth.password_reset_requested",
        actor_id=None,
        target_type="user",
        target_id=user.id,
        details={"account": "known", "email_token_id": row.id},
    )
    logger.info("auth.password_reset_requested", account="known", user_id=user.id)


async def reset_password(
    db: AsyncSession,
    ctx: AuthContext,
    token: str,
    new_password: str,
    client: ClientInfo,
) -> None:
    """Set a new password with a mailed reset token, and sign out every session.

    The token is checked first (400 unknown, 410 expired or used), then the password policy
    (422, the token stays usable for a better password). On success the token and every other
    reset link of the account are used up, all sessions are revoked, a lockout is lifted, and
    the address counts as verified: the link proved the user reads it.
    """
    row, user = await _usable_token(db, token, EmailTokenPurpose.RESET_PASSWORD)
    await PasswordPolicy(ctx.settings.auth).check(
        new_password, user_inputs=[user.email, user.display_name]
    )
    now = utcnow()
    await _claim(db, row, now)
    user.password_hash = await hash_password(new_password, rounds=ctx.settings.auth.bcrypt_rounds)
    user.failed_logins = 0
    user.locked_until = None
    if user.email_verified_at is None:
        user.email_verified_at = now
    await _retire_tokens(db, user.id, EmailTokenPurpose.RESET_PASSWORD, now)
    revoked = await revoke_all_sessions(db, ctx, user.id, "password_reset")
    await audit_event(
        db,
        client,
        action="auth.password_reset",
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
        details={"email_token_id": row.id, "sessions_revoked": revoked},
    )
    logger.info("auth.password_reset", user_id=user.id, sessions_revoked=revoked)
