"""Request and response bodies of the spaces API."""

from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from orin.models.space import SpaceRole
from orin.users.schemas import TimeZoneName

SpaceName = Field(min_length=1, max_length=100, description="What the place is called.")


class _Location(BaseModel):
    latitude: float | None = Field(None, ge=-90, le=90, description="For sunset/sunrise.")
    longitude: float | None = Field(None, ge=-180, le=180, description="For sunset/sunrise.")

    @model_validator(mode="after")
    def _both_or_neither(self) -> Self:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("give both latitude and longitude, or neither")
        return self


class SpaceIn(_Location):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = SpaceName
    timezone: TimeZoneName = Field("UTC", description="IANA time zone of the place.")


class SpaceUpdate(_Location):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(None, min_length=1, max_length=100)
    timezone: TimeZoneName | None = None


class SpaceOut(BaseModel):
    id: str
    name: str
    timezone: str
    latitude: float | None
    longitude: float | None
    role: SpaceRole = Field(description="The caller's role in this space.")
    created_at: datetime


class SpaceStats(BaseModel):
    cameras: int
    cameras_online: int
    catches_today: int = Field(description="Catches since midnight in the space's time zone.")
    guards_active: int
    guards: int


class MemberOut(BaseModel):
    user_id: str
    email: str
    display_name: str
    role: SpaceRole
    joined_at: datetime


class InviteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr = Field(max_length=320)
    role: SpaceRole = Field(SpaceRole.VIEWER, description="`manager` or `viewer`.")


class InviteOut(BaseModel):
    id: str
    space_id: str
    space_name: str
    email: str
    role: SpaceRole
    created_at: datetime
    expires_at: datetime


class MembersOut(BaseModel):
    members: list[MemberOut]
    invites: list[InviteOut] = Field(description="Pending invitations.")


class RoleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: SpaceRole = Field(
        description="New role; making someone `owner` hands ownership over (you become manager)."
    )
