"""Wire formats of the user's own settings."""

from __future__ import annotations

import re
from datetime import time
from enum import StrEnum
from functools import cache
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from orin.errors import OrinError
from orin.models.user import Plan
from orin.users.plans import PlanLimits

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$")


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


class Channel(StrEnum):
    PUSH = "push"
    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"


@cache
def _known_timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def _timezone(value: str) -> str:
    if value not in _known_timezones():
        raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Paris)")
    return value


def _locale(value: str) -> str:
    if not _LOCALE.match(value):
        raise ValueError(f"{value!r} is not a locale tag like en, en-GB or pt-BR")
    return value


def _phone_number(value: str) -> str:
    if not _E164.match(value):
        raise ValueError("a phone number in E.164 form, like +14155550100")
    return value


def _webhook_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("an http(s) URL with a host")
    if parts.username or parts.password:
        raise ValueError("credentials in the URL are not allowed (use the signature)")
    return value


TimeZoneName = Annotated[str, AfterValidator(_timezone)]
LocaleTag = Annotated[str, AfterValidator(_locale)]
PhoneNumber = Annotated[str, AfterValidator(_phone_number)]
WebhookUrl = Annotated[str, Field(max_length=2000), AfterValidator(_webhook_url)]


class QuietWindow(BaseModel):
    """Notifications are held from ``start`` to ``end`` on ``days`` (an end before the start
    runs past midnight into the next day)."""

    model_config = ConfigDict(extra="forbid")

    days: list[Weekday] = Field(min_length=1, max_length=7, description="Days the window starts.")
    start: time = Field(description="Local start time, HH:MM.")
    end: time = Field(description="Local end time, HH:MM.")

    @model_validator(mode="after")
    def _not_empty(self) -> QuietWindow:
        if self.start == self.end:
            raise ValueError("a quiet window needs different start and end times")
        if len(set(self.days)) != len(self.days):
            raise ValueError("a day is listed twice")
        return self


class Preferences(BaseModel):
    """The user's own settings."""

    model_config = ConfigDict(extra="forbid")

    timezone: TimeZoneName = Field("UTC", description="IANA time zone for quiet hours.")
    locale: LocaleTag = Field("en", description="Language and region of the app and messages.")
    quiet_hours: list[QuietWindow] = Field(
        default_factory=list, max_length=14, description="When notifications are held."
    )
    critical_bypasses_quiet_hours: bool = Field(
        True, description="Let `critical` guards notify during quiet hours."
    )
    channels: list[Channel] = Field(
        default_factory=lambda: [Channel.PUSH],
        max_length=4,
        description="How catches reach the user; email needs a verified address, sms a "
        "`sms_number`, webhook a `webhook_url`.",
    )
    sms_number: PhoneNumber | None = Field(
        None, description="Mobile number for SMS notifications, E.164 (+14155550100)."
    )
    webhook_url: WebhookUrl | None = Field(
        None,
        description="Where webhook notifications are POSTed (https; signed with the secret "
        "from `GET /user/me/webhook-secret`).",
    )


class PreferencesUpdate(BaseModel):
    """Fields to change; omitted ones keep their value."""

    model_config = ConfigDict(extra="forbid")

    timezone: TimeZoneName | None = None
    locale: LocaleTag | None = None
    quiet_hours: list[QuietWindow] | None = Field(None, max_length=14)
    critical_bypasses_quiet_hours: bool | None = None
    channels: list[Channel] | None = Field(None, max_length=4)
    sms_number: PhoneNumber | None = None
    webhook_url: WebhookUrl | None = None


CLEARABLE_PREFERENCES = frozenset({"sms_number", "webhook_url"})
"""Preferences a PATCH may set to null (the others keep their value when null)."""


class ChannelNotReady(OrinError):
    """A notification channel was turned on without what it needs."""

    status_code = 422
    type_slug = "channel-not-ready"
    title = "Channel not ready"


class Subscription(BaseModel):
    plan: Plan
    limits: PlanLimits
