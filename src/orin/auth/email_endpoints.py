"""`/api/v1/auth/verify-email*` and `/api/v1/auth/password/*`: links mailed to the user.

The web app opens ``/verify-email?token=...`` and ``/reset-password?token=...`` from the mail and
posts the token here. Asking for a reset link answers the same 202 whether or not the address
has an account.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from orin.auth.deps import AuthContextDep, ClientDep, CurrentUser
from orin.auth.email_flows import (
    TOKEN_MAX_LENGTH,
    forgot_password,
    resend_verification,
    reset_password,
    verify_email,
)
from orin.auth.passwords import PASSWORD_MAX_LENGTH
from orin.auth.schemas import UserOut
from orin.deps import SessionDep
from orin.models.user import User
from orin.problems import problem_responses
from orin.security.ratelimit import AuthRateLimit

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
limited = [Depends(AuthRateLimit)]

RESET_REQUESTED = "If an account exists for this address, a reset link is on its way."


class EmailTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(
        min_length=1, max_length=TOKEN_MAX_LENGTH, description="The token from the mailed link."
    )


class PasswordForgotten(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320, description="The account's email address.")


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(
        min_length=1, max_length=TOKEN_MAX_LENGTH, description="The token from the mailed link."
    )
    password: str = Field(max_length=PASSWORD_MAX_LENGTH, description="The new password.")


class Accepted(BaseModel):
    """The request was taken; a mail may follow."""

    detail: str = Field(description="What happens next, for a person.")


def _user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        email_verified=user.email_verified_at is not None,
        display_name=user.display_name,
        role=user.role,
        plan=user.plan,
        created_at=user.created_at,
    )


@router.post(
    "/verify-email",
    operation_id="auth_verify_email",
    dependencies=limited,
    responses=problem_responses(400, 410, 422, 429),
)
async def post_verify_email(
    body: EmailTokenIn, db: SessionDep, ctx: AuthContextDep, client: ClientDep
) -> UserOut:
    """Confirm the account's email address with the token from the verification mail.

    No sign-in is needed: the link may be opened on another device. Each link works once.
    """
    user = await verify_email(db, ctx, body.token, client)
    return _user_out(user)


@router.post(
    "/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="auth_resend_verification",
    dependencies=limited,
    responses=problem_responses(401, 409, 429),
)
async def post_resend_verification(
    user: CurrentUser, db: SessionDep, ctx: AuthContextDep
) -> Accepted:
    """Mail the signed-in user a new verification link (a few per hour at most)."""
    await resend_verification(db, ctx, user)
    return Accepted(detail="A new verification link is on its way to your email address.")


@router.post(
    "/password/forgot",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="auth_password_forgot",
    dependencies=limited,
    responses=problem_responses(422, 429),
)
async def post_password_forgot(
    body: PasswordForgotten, db: SessionDep, ctx: AuthContextDep, client: ClientDep
) -> Accepted:
    """Ask for a password reset link by mail.

    The answer is the same whether or not the address has an account, so it cannot be used to
    find out who has one.
    """
    await forgot_password(db, ctx, body.email, client)
    return Accepted(detail=RESET_REQUESTED)


@router.post(
    "/password/reset",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="auth_password_reset",
    dependencies=limited,
    responses=problem_responses(400, 410, 422, 429),
)
async def post_password_reset(
    body: PasswordReset, db: SessionDep, ctx: AuthContextDep, client: ClientDep
) -> None:
    """Choose a new password with the token from the reset mail.

    Every session of the account is signed out; sign in again with the new password.
    """
    await reset_password(db, ctx, body.token, body.password, client)
