"""`/api/v1/auth/mfa/*`: TOTP enrolment, the sign-in challenge, recovery codes, disabling.

Refusals that must be recorded (a wrong code or password, with its audit entry) come back from
`orin.auth.mfa.MfaService` as values and are committed here before they are raised. Answers
that carry a secret (the seed, recovery codes) are sent with ``Cache-Control: no-store``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Self

from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from orin.auth.deps import AuthContextDep, ClientDep, CurrentUser
from orin.auth.endpoints import token_pair
from orin.auth.mfa import RECOVERY_CODE_MAX_LENGTH, SecondFactor, mfa_service
from orin.auth.schemas import TokenPair
from orin.auth.service import auth_service
from orin.db import commit_refusal
from orin.deps import SessionDep
from orin.errors import OrinError
from orin.problems import problem_responses
from orin.security.ratelimit import AuthRateLimit

router = APIRouter(prefix="/api/v1/auth/mfa", tags=["auth"])
limited = [Depends(AuthRateLimit)]

PASSWORD_MAX_LENGTH = 1024
CODE_MAX_LENGTH = 16
CHALLENGE_TOKEN_MAX_LENGTH = 100

_CODE_DESCRIPTION = "The 6-digit code the authenticator app shows now (spaces allowed)."
_RECOVERY_DESCRIPTION = "One of the recovery codes, e.g. `7kq2-m9xd-4hzt` (case and dashes free)."


# --- wire formats ----------------------------------------------------------------------------


class SecondFactorIn(BaseModel):
    """A TOTP code or a recovery code: exactly one."""

    model_config = ConfigDict(extra="forbid")

    code: str | None = Field(None, max_length=CODE_MAX_LENGTH, description=_CODE_DESCRIPTION)
    recovery_code: str | None = Field(
        None, max_length=RECOVERY_CODE_MAX_LENGTH, description=_RECOVERY_DESCRIPTION
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.code is None) == (self.recovery_code is None):
            raise ValueError("send either `code` or `recovery_code`, not both and not neither")
        return self

    def factor(self) -> SecondFactor:
        return SecondFactor(code=self.code, recovery_code=self.recovery_code)


class MfaEnrolRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(
        max_length=PASSWORD_MAX_LENGTH,
        description="The account's current password: a stolen access token alone cannot enrol.",
    )


class MfaEnrolment(BaseModel):
    """A new seed for the authenticator app; not in force until confirmed."""

    secret: str = Field(description="Base32 seed, for typing into the app by hand.")
    otpauth_uri: str = Field(description="`otpauth://totp/...` URI, for a QR code.")


class MfaConfirmRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=CODE_MAX_LENGTH, description=_CODE_DESCRIPTION)


class MfaVerifyRequest(SecondFactorIn):
    challenge_token: str = Field(
        max_length=CHALLENGE_TOKEN_MAX_LENGTH, description="From the `MfaRequired` login answer."
    )
    use_cookie: bool = Field(
        False,
        description="Browsers: put the refresh token in an httpOnly cookie (with a CSRF "
        "cookie) instead of the response body.",
    )


class MfaDisableRequest(SecondFactorIn):
    password: str = Field(max_length=PASSWORD_MAX_LENGTH, description="The current password.")


class MfaRegenerateRequest(SecondFactorIn):
    """A current code (or an unused recovery code) proves the phone is still at hand."""


class RecoveryCodes(BaseModel):
    """Single-use codes for signing in without the app; shown only this once."""

    recovery_codes: list[str] = Field(description="Each works once; store them somewhere safe.")


class MfaStatusOut(BaseModel):
    """Where the caller's two-step sign-in stands."""

    enabled: bool
    enabled_at: datetime | None
    pending_enrolment: bool = Field(description="A seed was issued but not confirmed yet.")
    recovery_codes_remaining: int


class MfaTokenPair(TokenPair):
    """Tokens of the session the second factor opened."""

    recovery_codes_remaining: int | None = Field(
        None, description="Set when a recovery code was used: how many are left."
    )


# --- routes ----------------------------------------------------------------------------------


def _no_store(response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"


@router.get(
    "",
    operation_id="auth_mfa_status",
    dependencies=limited,
    responses=problem_responses(401, 429),
)
async def mfa_status(user: CurrentUser, db: SessionDep) -> MfaStatusOut:
    """Whether two-step sign-in is on for the caller, and how many recovery codes are left."""
    state = await mfa_service.status(db, user)
    return MfaStatusOut(
        enabled=state.enabled,
        enabled_at=state.enabled_at,
        pending_enrolment=state.pending_enrolment,
        recovery_codes_remaining=state.recovery_codes_remaining,
    )


@router.post(
    "/enrol",
    operation_id="auth_mfa_enrol",
    dependencies=limited,
    responses=problem_responses(401, 403, 409, 422, 429),
)
async def mfa_enrol(
    body: MfaEnrolRequest,
    user: CurrentUser,
    db: SessionDep,
    ctx: AuthContextDep,
    client: ClientDep,
    response: Response,
) -> MfaEnrolment:
    """Start enrolling an authenticator app: returns a new seed, to confirm with a code.

    Needs the current password (403 when wrong); 409 when two-step sign-in is already on.
    Enrolling again before confirming replaces the previous seed.
    """
    outcome = await mfa_service.enrol(db, ctx, user, password=body.password, client=client)
    if isinstance(outcome, OrinError):
        await commit_refusal(db, outcome)  # keep the audit entry of the failed password check
    _no_store(response)
    return MfaEnrolment(secret=outcome.secret, otpauth_uri=outcome.otpauth_uri)


@router.post(
    "/confirm",
    operation_id="auth_mfa_confirm",
    dependencies=limited,
    responses=problem_responses(401, 403, 409, 422, 429),
)
async def mfa_confirm(
    body: MfaConfirmRequest,
    user: CurrentUser,
    db: SessionDep,
    ctx: AuthContextDep,
    client: ClientDep,
    response: Response,
) -> RecoveryCodes:
    """Turn two-step sign-in on with a first code from the app; returns the recovery codes.

    The codes are shown only in this answer. A wrong code is a 403.
    """
    outcome = await mfa_service.confirm(db, ctx, user, code=body.code, client=client)
    if isinstance(outcome, OrinError):
        await commit_refusal(db, outcome)  # the wrong code's audit entry counts
    _no_store(response)
    return RecoveryCodes(recovery_codes=outcome)


@router.post(
    "/verify",
    operation_id="auth_mfa_verify",
    dependencies=limited,
    responses=problem_responses(401, 422, 429),
)
async def mfa_verify(
    body: MfaVerifyRequest,
    db: SessionDep,
    ctx: AuthContextDep,
    client: ClientDep,
    response: Response,
) -> MfaTokenPair:
    """Finish signing in: the challenge token from login and a code (or a recovery code).

    A wrong code is a 401 and counts: after five, the challenge is gone and the password must
    be sent again. A code is accepted once. Using a recovery code spends it; the answer says
    how many are left.
    """
    outcome = await mfa_service.verify_challenge(
        db, ctx, challenge_token=body.challenge_token, factor=body.factor(), client=client
    )
    if isinstance(outcome, OrinError):
        await commit_refusal(db, outcome)  # keep the failure's audit entry, then refuse
    tokens = await auth_service.start_session(db, ctx, outcome.user, client)
    pair = token_pair(tokens, ctx, response, use_cookie=body.use_cookie)
    return MfaTokenPair.model_validate(
        {**pair.model_dump(), "recovery_codes_remaining": outcome.recovery_codes_remaining}
    )


@router.post(
    "/disable",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="auth_mfa_disable",
    dependencies=limited,
    responses=problem_responses(401, 403, 409, 422, 429),
)
async def mfa_disable(
    body: MfaDisableRequest,
    user: CurrentUser,
    db: SessionDep,
    ctx: AuthContextDep,
    client: ClientDep,
) -> None:
    """Turn two-step sign-in off: needs the password and a code (or a recovery code)."""
    outcome = await mfa_service.disable(
        db, ctx, user, password=body.password, factor=body.factor(), client=client
    )
    if isinstance(outcome, OrinError):
        await commit_refusal(db, outcome)  # keep the failure's audit entry, then refuse


@router.post(
    "/recovery-codes",
    operation_id="auth_mfa_regenerate_recovery_codes",
    dependencies=limited,
    responses=problem_responses(401, 403, 409, 422, 429),
)
async def mfa_regenerate_recovery_codes(
    body: MfaRegenerateRequest,
    user: CurrentUser,
    db: SessionDep,
    ctx: AuthContextDep,
    client: ClientDep,
    response: Response,
) -> RecoveryCodes:
    """Replace all recovery codes with a new set (needs a code); the old ones stop working."""
    outcome = await mfa_service.regenerate_recovery_codes(
        db, ctx, user, factor=body.factor(), client=client
    )
    if isinstance(outcome, OrinError):
        await commit_refusal(db, outcome)  # keep the failure's audit entry, then refuse
    _no_store(response)
    return RecoveryCodes(recovery_codes=outcome)
