"""Sign-up, sign-in, token refresh with rotation, sign-out and session revocation.

The service never commits: the request that called it does. Refusals that must still be
recorded (a failed login counts towards the lockout; a reused refresh token revokes its whole
family) are returned as values, not raised, so the request commits them before answering.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from orin.audit import audit_event
from orin.auth import repository, session_cache
from orin.auth.emails import InvalidEmail, normalize_email
from orin.auth.keys import KeyRing
from orin.auth.mfa import MfaChallenge, mfa_service
from orin.auth.passwords import PasswordPolicy, burn_password_check, hash_password, verify_password
from orin.auth.tokens import issue_access_token
from orin.cache.base import Cache, RateLimiter
from orin.config import Settings
from orin.errors import Conflict, Forbidden, NotFound, RateLimited, Unauthorized
from orin.kit.crypto import Sealer
from orin.models.auth_session import AuthSession
from orin.models.base import new_id, utcnow
from orin.models.refresh_token import RefreshToken
from orin.models.user import User
from orin.security.ratelimit import hit_or_raise

logger = structlog.get_logger(__name__)

WRONG_CREDENTIALS = "the email address or the password is wrong"


class InvalidCredentials(Unauthorized):
    type_slug = "invalid-credentials"
    title = "Sign-in failed"


class InvalidRefreshToken(Unauthorized):
    type_slug = "invalid-refresh-token"
    title = "Invalid refresh token"


class AccountLocked(RateLimited):
    type_slug = "account-locked"
    title = "Account temporarily locked"


class AccountDisabled(Forbidden):
    type_slug = "account-disabled"
    title = "Account disabled"


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where a request came from, for sessions and the audit log."""

    ip: str
    user_agent: str


@dataclass(frozen=True, slots=True)
class AuthContext:
    """The adapters the auth flows need."""

    settings: Settings
    keyring: KeyRing
    cache: Cache
    rate_limiter: RateLimiter
    sealer: Sealer


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    """A signed-in session: an access token and the refresh token that renews it."""

    user: User
    session_id: str
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime


def email_digest(email: str) -> str:
    """A stable stand-in for an address in keys and logs, so addresses are not written there."""
    return hashlib.sha256(email.encode()).hexdigest()[:32]


def hash_refresh_token(token: str) -> str:
    """Refresh tokens are 256-bit random values, so a plain SHA-256 is a safe stored form."""
    return hashlib.sha256(token.encode()).hexdigest()


class AuthService:
    """The account flows; one instance serves every request."""

    async def register(
        self,
        db: AsyncSession,
        ctx: AuthContext,
        *,
        email: str,
        password: str,
        display_name: str,
        client: ClientInfo,
    ) -> IssuedTokens:
        """Create an account with a checked password and sign it in."""
        normalized = normalize_email(email)
        await PasswordPolicy(ctx.settings.auth).check(
            password, user_inputs=[normalized, display_name]
        )
        if await repository.user_by_email(db, normalized) is not None:
            raise Conflict("an account with this email address already exists; sign in instead")
        user = User(
            id=new_id(),
            email=normalized,
            display_name=display_name.strip(),
            password_hash=await hash_password(password, rounds=ctx.settings.auth.bcrypt_rounds),
        )
        db.add(user)
        try:
            await db.flush()
        except IntegrityError:
            raise Conflict("an account with this email address already exists") from None
        await audit_event(
            db,
            client,
            action="auth.register",
            actor_id=user.id,
            target_type="user",
            target_id=user.id,
        )
        return await self.start_session(db, ctx, user, client)

    async def login(
        self,
        db: AsyncSession,
        ctx: AuthContext,
        *,
        email: str,
        password: str,
        client: ClientInfo,
    ) -> IssuedTokens | MfaChallenge | Unauthorized | RateLimited:
        """Check the credentials; a refusal is returned (to be committed), not raised.

        Unknown addresses and wrong passwords get the same answer after the same bcrypt work.
        Too many failures in a row lock the account for `lockout_s`. An account with two-step
        sign-in on gets an `MfaChallenge` instead of tokens (see `orin.auth.mfa`).
        """
        limits = ctx.settings.ratelimit
        try:
            normalized = normalize_email(email)
        except InvalidEmail:
            normalized = email.strip().lower()[:320]
        if limits.enabled:
            await hit_or_raise(
                ctx.rate_limiter,
                f"rl:login:account:{email_digest(normalized)}",
                limits.auth_per_account,
                60.0,
            )
        user = None if "@" not in normalized else await repository.user_by_email(db, normalized)
        now = utcnow()
        if user is None or user.password_hash is None:
            await burn_password_check(password, rounds=ctx.settings.auth.bcrypt_rounds)
            await audit_event(
                db,
                client,
                action="auth.login_failed",
                actor_id=None,
                target_type="email",
                target_id=email_digest(normalized),
                details={"reason": "unknown_account"},
            )
            return InvalidCredentials(WRONG_CREDENTIALS)
        if user.locked_until is not None and user.locked_until > now:
            await burn_password_check(password, rounds=ctx.settings.auth.bcrypt_rounds)
            wait_s = int((user.locked_until - now).total_seconds()) + 1
            return AccountLocked(
                f"too many failed sign-ins: try again in {max(1, wait_s // 60)} minute(s)",
                headers={"Retry-After": str(wait_s)},
            )
        if not await verify_password(password, user.password_hash):
            return await self._failed_login(db, ctx, user, client, now)
        user.failed_logins = 0
        user.locked_until = None
        if user.mfa_enabled_at is not None:
            # The password was right; the session starts only once the second factor is too.
            return await mfa_service.open_challenge(db, ctx, user, client)
        await audit_event(
            db,
            client,
            action="auth.login",
            actor_id=user.id,
            target_type="user",
            target_id=user.id,
        )
        return await self.start_session(db, ctx, user, client)

    async def _failed_login(
        self, db: AsyncSession, ctx: AuthContext, user: User, client: ClientInfo, now: datetime
    ) -> Unauthorized | RateLimited:
        user.failed_logins += 1
        await audit_event(
            db,
            client,
            action="auth.login_failed",
            actor_id=None,
            target_type="user",
            target_id=user.id,
            details={"reason": "wrong_password", "failures": user.failed_logins},
        )
        if user.failed_logins < ctx.settings.auth.lockout_threshold:
            return InvalidCredentials(WRONG_CREDENTIALS)
        lockout_s = ctx.settings.auth.lockout_s
        user.locked_until = now + timedelta(seconds=lockout_s)
        user.failed_logins = 0
        await audit_event(
            db,
            client,
            action="auth.account_locked",
            actor_id=None,
            target_type="user",
            target_id=user.id,
            details={"locked_for_s": lockout_s},
        )
        logger.warning("auth.account_locked", user_id=user.id, locked_for_s=lockout_s)
        return AccountLocked(
            f"too many failed sign-ins: try again in {max(1, lockout_s // 60)} minute(s)",
            headers={"Retry-After": str(lockout_s)},
        )

    async def refresh(
        self, db: AsyncSession, ctx: AuthContext, *, refresh_token: str, client: ClientInfo
    ) -> IssuedTokens | Unauthorized:
        """Exchange a refresh token for new tokens; the old one stops working.

        Presenting an already-exchanged token means it was copied: the whole session (the
        token family) is revoked and the event audited. That refusal is returned, to be
        committed. The exception is `_lost_answer`: the same device again within
        ``auth.refresh_reuse_grace_s`` gets new tokens of the same session.
        """
        token_hash = hash_refresh_token(refresh_token)
        row = await repository.refresh_token_by_hash(db, token_hash)
        now = utcnow()
        if row is None:
            return InvalidRefreshToken("the refresh token is not known; sign in again")
        auth_session = await repository.session_by_id(db, row.session_id)
        if auth_session is None or auth_session.revoked_at is not None:
            return InvalidRefreshToken("this session was signed out; sign in again")
        exchanged = row.rotated_at is not None or not await repository.mark_rotated(
            db, token_hash, now
        )
        if exchanged and _lost_answer(ctx, row.rotated_at or now, auth_session, client, now):
            logger.info("auth.refresh_retried", session_id=auth_session.id)
        elif exchanged:
            await self.revoke(db, ctx, [auth_session.id], "refresh_reuse")
            await audit_event(
                db,
                client,
                action="auth.refresh_reuse",
                actor_id=auth_session.user_id,
                target_type="session",
                target_id=auth_session.id,
            )
            logger.warning("auth.refresh_reuse", session_id=auth_session.id)
            return InvalidRefreshToken(
                "this refresh token was already used, so the session was signed out for "
                "safety; sign in again"
            )
        if row.expires_at <= now or auth_session.expires_at <= now:
            return InvalidRefreshToken("the session has expired; sign in again")
        user = await repository.user_by_id(db, auth_session.user_id)
        if user is None:
            return InvalidRefreshToken("the account no longer exists")
        # Sliding expiry: a session in use lives on; an idle one ends after the refresh TTL.
        auth_session.last_seen_at = now
        auth_session.expires_at = now + timedelta(seconds=ctx.settings.auth.refresh_token_ttl_s)
        auth_session.ip = client.ip[:64]
        return await self._issue(db, ctx, user, auth_session)

    async def logout(
        self,
        db: AsyncSession,
        ctx: AuthContext,
        *,
        user_id: str,
        session_id: str,
        client: ClientInfo,
    ) -> None:
        """Sign the session out: its refresh token and access tokens stop working at once."""
        await self.revoke(db, ctx, [session_id], "logout")
        await audit_event(
            db,
            client,
            action="auth.logout",
            actor_id=user_id,
            target_type="session",
            target_id=session_id,
        )

    async def list_sessions(self, db: AsyncSession, user_id: str) -> list[AuthSession]:
        return list(await repository.active_sessions(db, user_id, utcnow()))

    async def revoke_session(
        self,
        db: AsyncSession,
        ctx: AuthContext,
        *,
        user_id: str,
        session_id: str,
        client: ClientInfo,
    ) -> None:
        """Revoke one of the user's own sessions; another user's is a 404."""
        target = await repository.session_by_id(db, session_id)
        if target is None or target.user_id != user_id or target.revoked_at is not None:
            raise NotFound("no such session")
        await self.revoke(db, ctx, [session_id], "revoked_by_user")
        await audit_event(
            db,
            client,
            action="auth.session_revoked",
            actor_id=user_id,
            target_type="session",
            target_id=session_id,
        )

    async def revoke_other_sessions(
        self,
        db: AsyncSession,
        ctx: AuthContext,
        *,
        user_id: str,
        keep_session_id: str,
        client: ClientInfo,
    ) -> int:
        """Revoke every session of the user but the current one; returns how many."""
        others = [
            s.id
            for s in await repository.active_sessions(db, user_id, utcnow())
            if s.id != keep_session_id
        ]
        await self.revoke(db, ctx, others, "revoked_by_user")
        await audit_event(
            db,
            client,
            action="auth.sessions_revoked",
            actor_id=user_id,
            target_type="user",
            target_id=user_id,
            details={"count": len(others)},
        )
        return len(others)

    async def revoke(
        self, db: AsyncSession, ctx: AuthContext, session_ids: list[str], reason: str
    ) -> None:
        """Revoke sessions: rows marked, and the session cache told at once so their access
        tokens stop working on every replica."""
        await repository.revoke_sessions(db, session_ids, utcnow(), reason)
        await db.flush()
        # Cached "revoked" before the commit errs on the safe side: at worst a session whose
        # revocation rolled back must sign in again.
        await session_cache.mark_revoked(
            ctx.cache, session_ids, ttl_s=ctx.settings.auth.access_token_ttl_s + 60
        )

    async def start_session(
        self, db: AsyncSession, ctx: AuthContext, user: User, client: ClientInfo
    ) -> IssuedTokens:
        """Open a new session for ``user`` (credentials already checked) and issue its tokens."""
        now = utcnow()
        auth_session = AuthSession(
            id=new_id(),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=ctx.settings.auth.refresh_token_ttl_s),
            ip=client.ip[:64],
            user_agent=client.user_agent[:400],
        )
        db.add(auth_session)
        return await self._issue(db, ctx, user, auth_session)

    async def _issue(
        self, db: AsyncSession, ctx: AuthContext, user: User, auth_session: AuthSession
    ) -> IssuedTokens:
        # Every way in (password, second factor, OpenID Connect, refresh) ends here.
        if user.disabled_at is not None:
            raise AccountDisabled("this account is disabled; contact your administrator")
        now = utcnow()
        refresh_token = secrets.token_urlsafe(32)
        refresh_expires = min(
            auth_session.expires_at,
            now + timedelta(seconds=ctx.settings.auth.refresh_token_ttl_s),
        )
        db.add(
            RefreshToken(
                token_hash=hash_refresh_token(refresh_token),
                session_id=auth_session.id,
                issued_at=now,
                expires_at=refresh_expires,
            )
        )
        await ctx.keyring.refresh_if_stale()
        access_token, access_expires = issue_access_token(
            ctx.keyring,
            ctx.settings.auth,
            user_id=user.id,
            session_id=auth_session.id,
            role=str(user.role),
        )
        return IssuedTokens(
            user=user,
            session_id=auth_session.id,
            access_token=access_token,
            access_expires_at=access_expires,
            refresh_token=refresh_token,
            refresh_expires_at=refresh_expires,
        )


auth_service = AuthService()


def _lost_answer(
    ctx: AuthContext,
    exchanged_at: datetime,
    auth_session: AuthSession,
    client: ClientInfo,
    now: datetime,
) -> bool:
    """Whether an exchanged refresh token presented again is the same device retrying.

    A browser that leaves a page while its refresh is in flight never stores the new cookie,
    and the next page sends the old one. Within the grace and from the address and user agent
    the session last refreshed from, that is a retry, not a copy; anything else is a copy.
    """
    grace = ctx.settings.auth.refresh_reuse_grace_s
    return (
        grace > 0
        and now - exchanged_at <= timedelta(seconds=grace)
        and auth_session.ip == client.ip[:64]
        and auth_session.user_agent == client.user_agent[:400]
    )
