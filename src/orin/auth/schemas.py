"""Wire formats of the auth endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from orin.models.user import Plan, UserRole


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320, description="The account's email address.")
    password: str = Field(max_length=1024, description="The account's password.")
    use_cookie: bool = Field(
        False,
        description="Browsers: put the refresh token in an httpOnly cookie (with a CSRF "
        "cookie) instead of the response body.",
    )


class Registration(Credentials):
    display_name: str = Field("", max_length=200, description="Name shown in the app.")


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str | None = Field(
        None,
        max_length=200,
        description="Mobile apps send the refresh token here; browsers send the cookie and "
        "the X-CSRF-Token header instead.",
    )


class UserOut(BaseModel):
    """A user as they see themselves."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    email_verified: bool
    display_name: str
    role: UserRole
    plan: Plan
    created_at: datetime


class TokenPair(BaseModel):
    """Tokens of a signed-in session."""

    token_type: str = Field("bearer", description="Always `bearer`.")
    access_token: str = Field(description="JWT (RS256) for `Authorization: Bearer`.")
    expires_in: int = Field(description="Seconds the access token stays valid.")
    session_id: str = Field(description="The session these tokens belong to.")
    refresh_token: str | None = Field(
        None, description="Opaque, single-use; absent when it was set as a cookie."
    )
    refresh_expires_at: datetime
    csrf_token: str | None = Field(
        None, description="Echo in X-CSRF-Token when refreshing with the cookie."
    )
    user: UserOut


class SessionOut(BaseModel):
    """A signed-in device."""

    id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ip: str
    user_agent: str
    current: bool = Field(description="True for the session making this request.")
