"""Two-step sign-in: TOTP (RFC 6238) with single-use recovery codes.

Enrolment stores a fresh base32 seed sealed (`orin.kit.crypto`, purpose ``totp``) and turns
nothing on until the user proves their app holds it with a code (`MfaService.confirm`); that
confirmation issues the recovery codes, shown once and stored only as salted SHA-256 digests.

Signing in to an account with two-step sign-in on takes two requests: the password opens a
*challenge* (a random token kept in the cache port under its SHA-256, for
``settings.mfa.challenge_ttl_s``), and a code sent with that token starts the session. Guessing is
bounded three ways: five wrong codes destroy a challenge, ten wrong codes in fifteen minutes
refuse every code of the account for the rest of that window, and every route is under the
per-IP auth rate limit. A TOTP code is accepted once: the last accepted time step of each user
is remembered for as long as a code stays valid, and older or equal steps are refused.

The service never commits. Refusals whose audit entry must survive are returned as values, so
the request commits before it raises them (as `AuthService.login` does).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final, Literal

import pyotp
import structlog
from pydantic import BaseModel, Field
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from orin.audit import audit_event
from orin.auth.passwords import burn_password_check, verify_password
from orin.errors import Conflict, Forbidden, OrinError, RateLimited, Unauthorized
from orin.kit.crypto import SealError
from orin.models.base import new_id, utcnow
from orin.models.mfa_recovery_code import MfaRecoveryCode
from orin.models.user import User

if TYPE_CHECKING:
    # Types only: `orin.auth.service` imports this module to open challenges at login.
    from orin.auth.service import AuthContext, ClientInfo

logger = structlog.get_logger(__name__)

TOTP_PURPOSE: Final = "totp"
"""Purpose label the seed is sealed under; a value sealed for anything else will not open."""

TOTP_DIGITS: Final = 6
TOTP_INTERVAL_S: Final = 30
VALID_WINDOW: Final = 1
"""Time steps accepted either side of the current one, for clock drift and typing time."""

REPLAY_TTL_S: Final = (2 * VALID_WINDOW + 1) * TOTP_INTERVAL_S
"""How long an accepted step is remembered: the longest a code stays acceptable (90 s)."""

MAX_WRONG_CODES_PER_CHALLENGE: Final = 5
"""Wrong codes after which a sign-in challenge is destroyed (the password must be sent again)."""

MAX_WRONG_CODES_PER_USER: Final = 10
USER_FAILURE_WINDOW_S: Final = 900
"""At most `MAX_WRONG_CODES_PER_USER` wrong codes per account in this many seconds, across all
challenges: a password holder opening challenge after challenge still gets ~1000 guesses a day
at a 6-digit code, not millions."""

RECOVERY_ALPHABET: Final = "0123456789abcdefghjkmnpqrstvwxyz"
"""Crockford's base32 alphabet: no i, l, o or u, so a code read aloud or copied by hand is
unambiguous. 32 symbols give 5 bits each."""

RECOVERY_GROUPS: Final = (4, 4, 4)
"""``xxxx-xxxx-xxxx``: 12 symbols, 60 bits."""

RECOVERY_CODE_MAX_LENGTH: Final = 32
"""Longest recovery code accepted on input (the code plus generous separators)."""

_RECOVERY_HASH_LABEL: Final = "orin.mfa.recovery.v1"
_CROCKFORD_ALIASES: Final = str.maketrans({"o": "0", "i": "1", "l": "1"})
_SEPARATORS: Final = frozenset("- \t")


# --- errors ----------------------------------------------------------------------------------


class InvalidMfaChallenge(Unauthorized):
    type_slug = "invalid-mfa-challenge"
    title = "Sign-in challenge invalid"


class InvalidMfaCode(Unauthorized):
    """A wrong code at sign-in (the caller has no session yet, so 401)."""

    type_slug = "invalid-mfa-code"
    title = "Wrong verification code"


class SecondFactorRefused(Forbidden):
    """A wrong code or password from a signed-in caller changing their two-step settings.

    403, not 401: the access token is fine, and a client should not sign out over a typo.
    """

    type_slug = "second-factor-refused"
    title = "Confirmation refused"


class TooManyWrongCodes(RateLimited):
    type_slug = "too-many-wrong-codes"
    title = "Too many wrong codes"


class MfaStateConflict(Conflict):
    type_slug = "mfa-state-conflict"
    title = "Two-step sign-in state does not allow this"


class MfaSecretUnreadable(OrinError):
    status_code = 500
    type_slug = "mfa-secret-unreadable"
    title = "Two-step secret unreadable"


# --- values ----------------------------------------------------------------------------------

MfaMethod = Literal["totp", "recovery_code"]
"""A kind of second factor."""


def _all_methods() -> list[MfaMethod]:
    return ["totp", "recovery_code"]


class MfaRequired(BaseModel):
    """The password was right; the session starts once a code is sent to ``/mfa/verify``."""

    mfa_required: Literal[True] = Field(
        True, description="Always true: tells this answer apart from a `TokenPair`."
    )
    challenge_token: str = Field(description="Send with the code to /api/v1/auth/mfa/verify.")
    expires_in: int = Field(description="Seconds left to send the code.")
    methods: list[MfaMethod] = Field(
        default_factory=_all_methods,
        description="Second factors the account can use.",
    )


@dataclass(frozen=True, slots=True)
class MfaChallenge:
    """A sign-in waiting for its second factor."""

    token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A seed waiting for its first code; shown to the user once."""

    secret: str
    otpauth_uri: str


@dataclass(frozen=True, slots=True)
class SecondFactor:
    """What the caller sent as proof: a TOTP code or a recovery code (exactly one is set)."""

    code: str | None = None
    recovery_code: str | None = None


@dataclass(frozen=True, slots=True)
class FactorAccepted:
    """A second factor that passed; ``recovery_codes_remaining`` is set when one was spent."""

    method: MfaMethod
    recovery_codes_remaining: int | None = None


@dataclass(frozen=True, slots=True)
class MfaVerified:
    """A challenge answered: the session can start for ``user``."""

    user: User
    method: MfaMethod
    recovery_codes_remaining: int | None


@dataclass(frozen=True, slots=True)
class MfaStatus:
    """Where a user's two-step sign-in stands."""

    enabled: bool
    enabled_at: datetime | None
    pending_enrolment: bool
    recovery_codes_remaining: int


# --- helpers ---------------------------------------------------------------------------------


def normalize_recovery_code(code: str) -> str:
    """Lower-cased, separators removed, Crockford look-alikes (o, i, l) mapped to digits."""
    kept = "".join(ch for ch in code.strip().lower() if ch not in _SEPARATORS)
    return kept.translate(_CROCKFORD_ALIASES)


def recovery_code_hash(user_id: str, code: str) -> str:
    """SHA-256 (hex) of a normalised code, salted with the user id.

    The salt makes a leaked table cost a separate 60-bit search per account instead of one
    search for every account at once.
    """
    material = f"{_RECOVERY_HASH_LABEL}:{user_id}:{normalize_recovery_code(code)}"
    return hashlib.sha256(material.encode()).hexdigest()


def new_recovery_code() -> str:
    """A fresh random code, ``xxxx-xxxx-xxxx``."""
    groups = (
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(size)) for size in RECOVERY_GROUPS
    )
    return "-".join(groups)


def challenge_key(token: str) -> str:
    """Cache key of a challenge: its SHA-256, so a cache dump holds no usable token."""
    return "mfa:challenge:" + hashlib.sha256(token.encode()).hexdigest()


def _normalized_totp(code: str) -> str | None:
    digits = "".join(ch for ch in code if ch not in _SEPARATORS)
    if len(digits) != TOTP_DIGITS or not digits.isascii() or not digits.isdigit():
        return None
    return digits


# --- service ---------------------------------------------------------------------------------


class MfaService:
    """Enrolment, the sign-in challenge and recovery codes; one instance serves every request.

    ``clock`` gives the Unix time TOTP steps are computed from (tests replace it).
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock

    # enrolment --------------------------------------------------------------------------------

    async def status(self, db: AsyncSession, user: User) -> MfaStatus:
        """Whether two-step sign-in is on, and how many recovery codes are left."""
        return MfaStatus(
            enabled=user.mfa_enabled_at is not None,
            enabled_at=user.mfa_enabled_at,
            pending_enrolment=user.mfa_enabled_at is None and user.totp_secret_sealed is not None,
            recovery_codes_remaining=await self._unused_codes(db, user.id),
        )

    async def enrol(
        self,
        db: AsyncSession,
        ctx: AuthContext,
        user: User,
        *,
        password: str,
        client: ClientInfo,
    ) -> Enrolment | OrinError:
        """Give the user a new seed (sealed at rest, not yet in force) after their password.

        Enrolling again before confirming replaces the pending seed. A wrong password is
        returned, to be committed with its audit entry.
        """
        if user.mfa_enabled_at is not None:
            raise MfaStateConflict(
                "two-step sign-in is already on; disable it first to enrol a new device"
            )
        refused = await self._check_password(db, ctx, user, password, client, "enrol")
        if refused is not None:
            return refused
        secret = pyotp.random_base32()
        user.totp_secret_sealed = ctx.sealer.seal(secret.encode(), purpose=TOTP_PURPOSE)
        uri = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL_S).provisioning_uri(
            name=user.email, issuer_name=ctx.settings.mfa.issuer
        )
        await audit_event(
            db,
            client,
            action="auth.mfa_enrolment_started",
            actor_id=user.id,
            target_type="user",
            target_id=user.id,
        )
        logger.info("auth.mfa_enrolment_started", user_id=user.id)
        return Enrolment(secret=secret, otpauth_uri=uri)

    async def confirm(
        self, db: AsyncSession, ctx: AuthContext, user: User, *, code: str, client: ClientInfo
    ) -> list[str] | OrinError:
        """Turn two-step sign-in on with a first code; returns the recovery codes (once)."""
        if user.mfa_enabled_at is not None:
            raise MfaStateConflict("two-step sign-in is already on")
        if user.totp_secret_sealed is None:
            raise MfaStateConflict("nothing to confirm: start with POST /api/v1/auth/mfa/enrol")
        outcome = await self._check_factor(
            db,
            ctx,
            user,
            SecondFactor(code=code),
            client,
            context="confirm",
            wrong=SecondFactorRefused,
        )
        if isinstance(outcome, OrinError):
            return outcome
        user.mfa_enabled_at = utcnow()
        codes = await self._replace_recovery_codes(db, ctx, user)
        await audit_event(
            db,
            client,
            action="auth.mfa_enabled",
            actor_id=user.id,
            target_type="user",
            target_id=user.id,
            details={"recovery_codes": len(codes)},
        )
        logger.info("auth.mfa_enabled", user_id=user.id)
        return codes

    async def disable(
        self,
        db: AsyncSession,
        ctx: AuthContext,
        user: User,
        *,
        password: str,
        factor: SecondFactor,
        client: ClientInfo,
    ) -> OrinError | None:
        """Turn two-step sign-in off (password and a code); the seed and codes are deleted."""
        if user.mfa_enabled_at is None:
            raise MfaStateConflict("two-step sign-in is not on")
        refused = await self._check_password(db, ctx, user, password, client, "disable")
        if refused is not None:
            return refused
        outcome = await self._check_factor(
            db, ctx, user, factor, client, context="disable", wrong=SecondFactorRefused
        )
        if isinstance(outcome, OrinError):
            return outcome
        user.totp_secret_sealed = None
        user.mfa_enabled_at = None
        await db.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
        await audit_event(
            db,
            client,
            action="auth.mfa_disabled",
            actor_id=user.id,
            target_type="user",
            target_id=user.id,
            details={"method": outcome.method},
        )
        logger.info("auth.mfa_disabled", user_id=user.id)
        return None

    async def regenerate_recovery_codes(
        self,
        db: AsyncSession,
        ctx: AuthContext,
        user: User,
        *,
        factor: SecondFactor,
        client: ClientInfo,
    ) -> list[str] | OrinError:
        """Replace every recovery code with a new set (after a code); the old ones stop working."""
        if user.mfa_enabled_at is None:
            raise MfaStateConflict("two-step sign-in is not on")
        outcome = await self._check_factor(
            db, ctx, user, factor, client, context="regenerate", wrong=SecondFactorRefused
        )
        if isinstance(outcome, OrinError):
            return outcome
        codes = await self._replace_recovery_codes(db, ctx, user)
        await audit_event(
            db,
            client,
            action="auth.mfa_recovery_codes_regenerated",
            actor_id=user.id,
            target_type="user",
            target_id=user.id,
            details={"recovery_codes": len(codes)},
        )
        logger.info("auth.mfa_recovery_codes_regenerated", user_id=user.id)
        return codes

    # sign-in ----------------------------------------------------------------------------------

    async def open_challenge(
        self, db: AsyncSession, ctx: AuthContext, user: User, client: ClientInfo
    ) -> MfaChallenge:
        """Remember that ``user`` passed the password check; the token is the only handle."""
        token = secrets.token_urlsafe(32)
        ttl_s = ctx.settings.mfa.challenge_ttl_s
        value = json.dumps({"user_id": user.id, "ip": client.ip[:64]}).encode()
        await ctx.cache.set(challenge_key(token), value, ttl_s=ttl_s)
        await audit_event(
            db,
            client,
            action="auth.mfa_challenged",
            actor_id=user.id,
            target_type="user",
            target_id=user.id,
        )
        return MfaChallenge(token=token, expires_in=ttl_s)

    async def verify_challenge(
        self,
        db: AsyncSession,
        ctx: AuthContext,
        *,
        challenge_token: str,
        factor: SecondFactor,
        client: ClientInfo,
    ) -> MfaVerified | OrinError:
        """Check the second factor of a sign-in; refusals are returned, to be committed.

        A challenge is used once: it is deleted when the code is accepted, and after
        `MAX_WRONG_CODES_PER_CHALLENGE` wrong codes.
        """
        key = challenge_key(challenge_token)
        raw = await ctx.cache.get(key)
        if raw is None:
            return InvalidMfaChallenge(
                "this sign-in challenge is unknown or has expired; sign in with your password again"
            )
        opened = json.loads(raw)
        user_id = str(opened["user_id"])
        user = await db.get(User, user_id)
        if user is None or user.mfa_enabled_at is None or user.totp_secret_sealed is None:
            await ctx.cache.delete(key)
            return InvalidMfaChallenge("two-step sign-in changed on this account; sign in again")
        outcome = await self._check_factor(
            db, ctx, user, factor, client, context="login", wrong=InvalidMfaCode
        )
        if isinstance(outcome, InvalidMfaCode):
            failures = await ctx.cache.incr(
                key + ":failures", ttl_s=ctx.settings.mfa.challenge_ttl_s
            )
            if failures >= MAX_WRONG_CODES_PER_CHALLENGE:
                await ctx.cache.delete(key, key + ":failures")
                logger.warning("auth.mfa_challenge_destroyed", user_id=user.id, failures=failures)
                return InvalidMfaChallenge(
                    f"{failures} wrong codes: this sign-in was cancelled; sign in with your "
                    "password again"
                )
            return outcome
        if isinstance(outcome, OrinError):
            return outcome
        # Deleting is the claim: of two requests racing with valid codes, only one gets a 1.
        if await ctx.cache.delete(key) == 0:
            return InvalidMfaChallenge("this sign-in challenge was already used; sign in again")
        await ctx.cache.delete(key + ":failures")
        await audit_event(
            db,
            client,
            action="auth.login",
            actor_id=user.id,
            target_type="user",
            target_id=user.id,
            details={"mfa": outcome.method, "password_ip": str(opened.get("ip", ""))},
        )
        return MfaVerified(
            user=user,
            method=outcome.method,
            recovery_codes_remaining=outcome.recovery_codes_remaining,
        )

    # checks -----------------------------------------------------------------------------------

    async def _check_password(
        self,
        db: AsyncSession,
        ctx: AuthContext,
        user: User,
        password: str,
        client: ClientInfo,
        context: str,
    ) -> OrinError | None:
        """None when ``password`` is the user's; otherwise the audited refusal."""
        if user.password_hash is None:
            await burn_password_check(password, rounds=ctx.settings.auth.bcrypt_rounds)
            raise SecondFactorRefused(
                "this account signs in through another provider and has no password; "
                "set a password first"
            )
        if await verify_password(password, user.password_hash):
            return None
        await audit_event(
            db,
            client,
            action="auth.mfa_reauth_failed",
            actor_id=user.id,
            target_type="user",
            target_id=user.id,
            details={"context": context},
        )
        return SecondFactorRefused("the password is wrong")

    async def _check_factor(
        self,
        db: AsyncSession,
        ctx: AuthContext,
        user: User,
        factor: SecondFactor,
        client: ClientInfo,
        *,
        context: str,
        wrong: Callable[[str], OrinError],
    ) -> FactorAccepted | OrinError:
        """Check a TOTP or recovery code under the per-user wrong-code limit.

        ``wrong`` builds the refusal for a wrong code (401 at sign-in, 403 otherwise).
        """
        failures_key = f"mfa:failures:user:{user.id}"
        seen = await ctx.cache.get(failures_key)
        if seen is not None and int(seen) >= MAX_WRONG_CODES_PER_USER:
            minutes = max(1, USER_FAILURE_WINDOW_S // 60)
            return TooManyWrongCodes(
                f"too many wrong codes for this account: try again in up to {minutes} minutes",
                headers={"Retry-After": str(USER_FAILURE_WINDOW_S)},
            )
        accepted: FactorAccepted | None
        reason: str
        if factor.recovery_code is not None:
            remaining = await self._spend_recovery_code(db, user.id, factor.recovery_code)
            accepted = None if remaining is None else FactorAccepted("recovery_code", remaining)
            reason = "the recovery code is wrong or was already used"
        else:
            accepted, reason = await self._check_totp(ctx, user, factor.code or "")
        if accepted is not None:
            await ctx.cache.delete(failures_key)
            if accepted.method == "recovery_code":
                await audit_event(
                    db,
                    client,
                    action="auth.mfa_recovery_code_used",
                    actor_id=user.id,
                    target_type="user",
                    target_id=user.id,
                    details={"context": context, "remaining": accepted.recovery_codes_remaining},
                )
                logger.info(
                    "auth.mfa_recovery_code_used",
                    user_id=user.id,
                    remaining=accepted.recovery_codes_remaining,
                )
            return accepted
        failures = await ctx.cache.incr(failures_key, ttl_s=USER_FAILURE_WINDOW_S)
        method = "recovery_code" if factor.recovery_code is not None else "totp"
        await audit_event(
            db,
            client,
            action="auth.mfa_failed",
            actor_id=user.id,
            target_type="user",
            target_id=user.id,
            details={"context": context, "method": method, "failures": failures},
        )
        if failures >= MAX_WRONG_CODES_PER_USER:
            logger.warning("auth.mfa_throttled", user_id=user.id, failures=failures)
        return wrong(reason)

    async def _check_totp(
        self, ctx: AuthContext, user: User, code: str
    ) -> tuple[FactorAccepted | None, str]:
        digits = _normalized_totp(code)
        if digits is None:
            return None, f"a code from the authenticator app has {TOTP_DIGITS} digits"
        step = self._matching_step(self._open_secret(ctx, user), digits)
        if step is None:
            return None, "the code is wrong or has expired; use the one your app shows now"
        if not await self._claim_step(ctx, user.id, step):
            return None, "this code was already used; wait for the next one"
        return FactorAccepted("totp"), ""

    def _open_secret(self, ctx: AuthContext, user: User) -> str:
        if user.totp_secret_sealed is None:
            raise MfaStateConflict("two-step sign-in is not set up")
        try:
            return ctx.sealer.open(user.totp_secret_sealed, purpose=TOTP_PURPOSE).decode()
        except SealError:
            logger.error("auth.mfa_secret_unreadable", user_id=user.id)
            raise MfaSecretUnreadable(
                "the two-step secret of this account cannot be read (the server's secret key "
                "changed?); sign in with a recovery code or ask an administrator"
            ) from None

    def _matching_step(self, secret: str, digits: str) -> int | None:
        """The time step whose code is ``digits``, within `VALID_WINDOW` of now."""
        totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL_S)
        now_step = totp.timecode(self.clock())
        for step in range(now_step - VALID_WINDOW, now_step + VALID_WINDOW + 1):
            if hmac.compare_digest(totp.generate_otp(step), digits):
                return step
        return None

    async def _claim_step(self, ctx: AuthContext, user_id: str, step: int) -> bool:
        """Accept ``step`` once: False when it, or a later step, was already accepted."""
        last_key = f"mfa:totp:last:{user_id}"
        last = await ctx.cache.get(last_key)
        if last is not None and step <= int(last):
            return False
        # The counter makes the same step atomic across concurrent requests and replicas.
        if await ctx.cache.incr(f"mfa:totp:step:{user_id}:{step}", ttl_s=REPLAY_TTL_S) > 1:
            return False
        await ctx.cache.set(last_key, str(step).encode(), ttl_s=REPLAY_TTL_S)
        return True

    # recovery codes ---------------------------------------------------------------------------

    async def _replace_recovery_codes(
        self, db: AsyncSession, ctx: AuthContext, user: User
    ) -> list[str]:
        await db.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
        codes = [new_recovery_code() for _ in range(ctx.settings.mfa.recovery_codes)]
        now = utcnow()
        db.add_all(
            MfaRecoveryCode(
                id=new_id(),
                user_id=user.id,
                code_hash=recovery_code_hash(user.id, code),
                created_at=now,
            )
            for code in codes
        )
        await db.flush()
        return codes

    async def _spend_recovery_code(self, db: AsyncSession, user_id: str, code: str) -> int | None:
        """Mark the matching unused code used; the number left, or None when none matched."""
        if not code.strip():
            return None
        result = await db.execute(
            update(MfaRecoveryCode)
            .where(
                MfaRecoveryCode.user_id == user_id,
                MfaRecoveryCode.code_hash == recovery_code_hash(user_id, code),
                MfaRecoveryCode.used_at.is_(None),
            )
            .values(used_at=utcnow())
        )
        # The conditional UPDATE is the claim: two requests with one code cannot both match.
        if not getattr(result, "rowcount", 0):
            return None
        return await self._unused_codes(db, user_id)

    async def _unused_codes(self, db: AsyncSession, user_id: str) -> int:
        count = await db.scalar(
            select(func.count())
            .select_from(MfaRecoveryCode)
            .where(MfaRecoveryCode.user_id == user_id, MfaRecoveryCode.used_at.is_(None))
        )
        return int(count or 0)


mfa_service = MfaService()
