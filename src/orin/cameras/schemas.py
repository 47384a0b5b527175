"""Request and response bodies of the cameras API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, EmailStr, Field

from orin.cameras.geometry import PrivacyMask, Zone, Zones
from orin.cameras.stream_url import MAX_CREDENTIAL_LENGTH, has_control_character
from orin.models.camera import CameraStatus, RecordingMode, ShareRole
from orin.models.space import SpaceRole


def _printable_credential(value: str) -> str:
    if has_control_character(value):
        raise ValueError("must not contain control characters or line breaks")
    return value


Credential = Annotated[
    str, Field(max_length=MAX_CREDENTIAL_LENGTH), AfterValidator(_printable_credential)
]
"""A camera user name or password given apart from the URL (it goes into RTSP requests)."""

StreamUrlText = Field(
    min_length=1,
    max_length=2048,
    description="`rtsp://` or `rtsps://` (admins also `file://`); credentials may be inline.",
)


class DetectSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fps: float = Field(5.0, gt=0, le=30, description="Frames a second sent to detection.")
    width: int | None = Field(None, ge=160, le=3840, description="Detection frame width.")
    height: int | None = Field(None, ge=120, le=2160, description="Detection frame height.")


class CameraIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    space_id: str = Field(max_length=32)
    name: str = Field(min_length=1, max_length=100)
    main_url: str = StreamUrlText
    detect_url: str | None = Field(None, max_length=2048, description="Optional sub-stream.")
    username: Credential | None = Field(None, description="Overrides one in the URL.")
    password: Credential | None = Field(None, description="Overrides one in the URL.")
    enabled: bool = True
    detect: DetectSettings = Field(default_factory=DetectSettings)
    zones: Zones = Field(default_factory=list, max_length=50)
    privacy_masks: list[PrivacyMask] = Field(default_factory=list, max_length=50)
    recording_mode: RecordingMode = RecordingMode.EVENTS
    retention_days: int | None = Field(None, ge=1, le=3650, description="Within the plan's.")
    live_ladder: bool = Field(
        False, description="Live HLS also offers a transcoded 360p rendition (uses CPU)."
    )


class CameraUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(None, min_length=1, max_length=100)
    main_url: str | None = Field(None, min_length=1, max_length=2048)
    detect_url: str | None = Field(None, max_length=2048, description="Empty string removes it.")
    username: Credential | None = None
    password: Credential | None = None
    enabled: bool | None = None
    detect: DetectSettings | None = None
    zones: Zones | None = Field(None, max_length=50)
    privacy_masks: list[PrivacyMask] | None = Field(None, max_length=50)
    recording_mode: RecordingMode | None = None
    retention_days: int | None = Field(None, ge=1, le=3650)
    live_ladder: bool | None = None


class CameraOut(BaseModel):
    id: str
    space_id: str
    name: str
    main_url: str = Field(description="With the password masked.")
    detect_url: str | None
    has_credentials: bool
    enabled: bool
    status: CameraStatus
    status_reason: str
    detect: DetectSettings
    zones: list[Zone]
    privacy_masks: list[PrivacyMask]
    recording_mode: RecordingMode
    retention_days: int
    live_ladder: bool
    role: SpaceRole | ShareRole = Field(description="The caller's role on this camera.")
    shared_with_me: bool = Field(description="Reached through a camera share, not the space.")
    created_at: datetime


class ZonesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    zones: Zones = Field(max_length=50)


class MasksIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    privacy_masks: list[PrivacyMask] = Field(max_length=50)


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr = Field(max_length=320, description="An existing ORIN account.")
    role: ShareRole = ShareRole.VIEWER
    expires_at: AwareDatetime | None = Field(None, description="When the share stops working.")


class ShareOut(BaseModel):
    id: str
    camera_id: str
    user_id: str
    email: str
    role: ShareRole
    expires_at: datetime | None
    created_at: datetime
