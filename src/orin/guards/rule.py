"""The guard rule: what a compiled instruction asks the ingest pipeline to watch for.

A rule is plain data (pydantic, frozen, ``extra="forbid"``) so it can be stored as JSON next to
its guard, shown by the API and evaluated by any process. ``version`` names the schema: a change
that alters the meaning or the shape of stored rules adds a new version, and stored rules of
older versions are migrated (see ``docs/guards.md``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from datetime import date, datetime, time, timedelta
from enum import IntEnum, StrEnum
from typing import Annotated, Literal, Self, TypeVar, assert_never
from zoneinfo import ZoneInfo

from astral import Observer
from astral.sun import sunrise, sunset
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "ALL_DAYS",
    "DEFAULT_COOLDOWN_S",
    "DEFAULT_MIN_CONFIDENCE",
    "FALLBACK_DAY",
    "FALLBACK_NIGHT",
    "LEFT_OBJECT_DWELL_S",
    "MAX_COOLDOWN_S",
    "MAX_DWELL_S",
    "RULE_VERSION",
    "Channel",
    "CountThreshold",
    "ObjectClass",
    "Rule",
    "Schedule",
    "Severity",
    "TimeWindow",
    "Weekday",
    "check_zones",
]

RULE_VERSION = 1
MAX_DWELL_S = 24 * 3600
MAX_COOLDOWN_S = 24 * 3600
DEFAULT_COOLDOWN_S = 60
DEFAULT_MIN_CONFIDENCE = 0.5
#: Dwell given to a left-object rule that names none.
LEFT_OBJECT_DWELL_S = 30.0
#: Local night used when the space has no location or the sun neither sets nor rises.
FALLBACK_NIGHT = (time(20, 0), time(6, 0))
#: Local daytime used in the same cases.
FALLBACK_DAY = (time(6, 0), time(20, 0))
MAX_ZONE_NAME = 64

_T = TypeVar("_T")


class ObjectClass(StrEnum):
    """Object kinds the detectors report (COCO labels ORIN uses, and Open Images' Box)."""

    PERSON = "person"
    BICYCLE = "bicycle"
    CAR = "car"
    MOTORCYCLE = "motorcycle"
    BUS = "bus"
    TRUCK = "truck"
    BOAT = "boat"
    BIRD = "bird"
    CAT = "cat"
    DOG = "dog"
    HORSE = "horse"
    SHEEP = "sheep"
    COW = "cow"
    BEAR = "bear"
    BACKPACK = "backpack"
    UMBRELLA = "umbrella"
    HANDBAG = "handbag"
    SUITCASE = "suitcase"
    PACKAGE = "package"


class Severity(StrEnum):
    """How loudly a catch is announced."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Weekday(IntEnum):
    """Days as stored in rules: Monday is 0, as ``date.weekday()``."""

    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


Channel = Literal["push", "email", "sms", "webhook"]
ALL_DAYS: tuple[int, ...] = tuple(range(7))

_FROZEN = ConfigDict(extra="forbid", frozen=True)


def _sorted_unique_days(days: list[int]) -> list[int]:
    if len(set(days)) != len(days):
        raise ValueError("days must not repeat")
    return sorted(days)


def _no_duplicates(values: list[_T], what: str) -> list[_T]:
    if len(set(values)) != len(values):
        raise ValueError(f"{what} must not repeat")
    return values


Day = Annotated[int, Field(ge=0, le=6)]


class TimeWindow(BaseModel):
    """A daily window of local time on some days.

    ``end <= start`` means the window crosses midnight (``start == end`` is a full 24 hours);
    ``days`` are the days on which the window *starts*.
    """

    model_config = _FROZEN

    days: list[Day] = Field(
        default_factory=lambda: list(ALL_DAYS),
        min_length=1,
        description="Days the window starts on, 0 = Monday … 6 = Sunday (sorted, unique).",
    )
    start: time = Field(description="Local start time (inclusive).")
    end: time = Field(description="Local end time (exclusive); at or before start: next day.")

    @field_validator("days")
    @classmethod
    def _days(cls, days: list[int]) -> list[int]:
        return _sorted_unique_days(days)

    @field_validator("start", "end")
    @classmethod
    def _naive(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("times are local to the space: give them without a timezone")
        return value

    @property
    def crosses_midnight(self) -> bool:
        """Whether the window ends on the day after it starts."""
        return self.end <= self.start

    def contains(self, local: datetime) -> bool:
        """Whether the naive or local wall-clock time ``local`` lies inside the window."""
        clock = local.time().replace(tzinfo=None)
        weekday = local.weekday()
        if not self.crosses_midnight:
            return weekday in self.days and self.start <= clock < self.end
        if weekday in self.days and clock >= self.start:
            return True
        return (weekday - 1) % 7 in self.days and clock < self.end


class Schedule(BaseModel):
    """When a guard is armed, in the space's timezone.

    ``always``: at all times. ``windows``: inside any of ``windows``. ``night``: from sunset to
    the next sunrise; ``day``: from sunrise to sunset. For ``night`` and ``day``, ``days`` are
    the days the night or day starts on (all days when empty).
    """

    model_config = _FROZEN

    kind: Literal["always", "windows", "night", "day"] = Field(
        "always", description="How the schedule is given."
    )
    windows: list[TimeWindow] = Field(
        default_factory=list, description="Time windows (kind `windows` only, at least one)."
    )
    days: list[Day] = Field(
        default_factory=list,
        description="Start days for kinds `night` and `day` (0 = Monday); empty means every day.",
    )

    @field_validator("days")
    @classmethod
    def _days(cls, days: list[int]) -> list[int]:
        return _sorted_unique_days(days)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind == "windows" and not self.windows:
            raise ValueError("a `windows` schedule needs at least one window")
        if self.kind != "windows" and self.windows:
            raise ValueError(f"a `{self.kind}` schedule takes no windows")
        if self.kind in ("always", "windows") and self.days:
            raise ValueError(f"a `{self.kind}` schedule takes no days (windows carry their own)")
        return self

    def is_active(
        self, at: datetime, tz: ZoneInfo, location: tuple[float, float] | None = None
    ) -> bool:
        """Whether the schedule is armed at the aware instant ``at``.

        ``night`` runs from sunset to the next sunrise at ``location`` (latitude, longitude),
        computed with astral; without a location, or on days the sun does not set or rise
        (polar day and night), it runs from 20:00 to 06:00 local time. ``day`` is the
        complement: sunrise to sunset, else 06:00 to 20:00.
        """
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("is_active needs an aware datetime")
        if self.kind == "always":
            return True
        local = at.astimezone(tz)
        if self.kind == "windows":
            return any(window.contains(local) for window in self.windows)
        days = self.days or ALL_DAYS
        today = local.date()
        if self.kind == "day":
            if today.weekday() not in days:
                return False
            start, end = _daytime(today, tz, location)
            return start <= local < end
        for start_day in (today - timedelta(days=1), today):
            if start_day.weekday() not in days:
                continue
            start, end = _night(start_day, tz, location)
            if start <= local < end:
                return True
        return False


def _at(day: date, clock: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=tz)


def _night(
    start_day: date, tz: ZoneInfo, location: tuple[float, float] | None
) -> tuple[datetime, datetime]:
    """The night that starts on ``start_day``: (sunset, next sunrise) as aware datetimes."""
    next_day = start_day + timedelta(days=1)
    if location is not None:
        observer = Observer(latitude=location[0], longitude=location[1])
        # Polar day or night: the sun does not cross the horizon, so the fallback applies.
        with contextlib.suppress(ValueError):
            return sunset(observer, start_day, tz), sunrise(observer, next_day, tz)
    return _at(start_day, FALLBACK_NIGHT[0], tz), _at(next_day, FALLBACK_NIGHT[1], tz)


def _daytime(
    day: date, tz: ZoneInfo, location: tuple[float, float] | None
) -> tuple[datetime, datetime]:
    """Daytime on ``day``: (sunrise, sunset) as aware datetimes."""
    if location is not None:
        observer = Observer(latitude=location[0], longitude=location[1])
        with contextlib.suppress(ValueError):  # polar day or night: the fallback applies
            return sunrise(observer, day, tz), sunset(observer, day, tz)
    return _at(day, FALLBACK_DAY[0], tz), _at(day, FALLBACK_DAY[1], tz)


class CountThreshold(BaseModel):
    """How many matching objects must be in view at once."""

    model_config = _FROZEN

    op: Literal["gt", "gte", "lt", "lte", "eq"] = Field(description="Comparison with `value`.")
    value: int = Field(ge=0, le=1000, description="Number of objects compared against.")

    @model_validator(mode="after")
    def _satisfiable(self) -> Self:
        if self.op == "lt" and self.value == 0:
            raise ValueError("fewer than 0 objects can never happen")
        return self

    def matches(self, n: int) -> bool:
        """Whether ``n`` objects satisfy the threshold."""
        match self.op:
            case "gt":
                return n > self.value
            case "gte":
                return n >= self.value
            case "lt":
                return n < self.value
            case "lte":
                return n <= self.value
            case "eq":
                return n == self.value
            case _:
                assert_never(self.op)


ZoneName = Annotated[str, Field(min_length=1, max_length=MAX_ZONE_NAME)]


class Rule(BaseModel):
    """A guard's compiled, validated rule (schema version 1)."""

    model_config = _FROZEN

    version: Literal[1] = Field(1, description="Rule schema version.")
    objects: list[ObjectClass] = Field(
        min_length=1, description="Object kinds that trigger the guard (unique)."
    )
    zones: list[ZoneName] = Field(
        default_factory=list,
        description="Camera zone names the object must be in; empty means anywhere in view.",
    )
    schedule: Schedule = Field(
        default_factory=Schedule, description="When the guard is armed (space timezone)."
    )
    min_dwell_s: float = Field(
        0.0, ge=0, le=MAX_DWELL_S, description="Seconds an object must stay before it counts."
    )
    min_confidence: float = Field(
        DEFAULT_MIN_CONFIDENCE, ge=0, le=1, description="Lowest detector confidence accepted."
    )
    min_size: float = Field(
        0.0, ge=0, le=1, description="Smallest object box, as a fraction of the frame area."
    )
    count: CountThreshold | None = Field(
        None, description="How many matching objects must be present at once; none: any."
    )
    left_object: bool = Field(
        False, description="Trigger on an object that appears and then stays still (left)."
    )
    cooldown_s: int = Field(
        DEFAULT_COOLDOWN_S,
        ge=0,
        le=MAX_COOLDOWN_S,
        description="Seconds after a catch during which the guard does not catch again.",
    )
    severity: Severity = Field(Severity.WARNING, description="How loudly catches are announced.")
    channels: list[Channel] = Field(
        default_factory=list,
        description="Notification channels; empty means the members' own preferences.",
    )

    @model_validator(mode="before")
    @classmethod
    def _left_object_dwell(cls, data: object) -> object:
        # A left object is one that stays: give it a dwell unless the caller set one.
        if isinstance(data, dict) and data.get("left_object") and "min_dwell_s" not in data:
            return {**data, "min_dwell_s": LEFT_OBJECT_DWELL_S}
        return data

    @field_validator("objects")
    @classmethod
    def _objects(cls, objects: list[ObjectClass]) -> list[ObjectClass]:
        return _no_duplicates(objects, "objects")

    @field_validator("zones")
    @classmethod
    def _zones(cls, zones: list[str]) -> list[str]:
        for zone in zones:
            if zone != zone.strip():
                raise ValueError("zone names must not start or end with spaces")
        if len({zone.casefold() for zone in zones}) != len(zones):
            raise ValueError("zones must not repeat")
        return zones

    @field_validator("channels")
    @classmethod
    def _channels(cls, channels: list[Channel]) -> list[Channel]:
        return _no_duplicates(channels, "channels")

    @model_validator(mode="after")
    def _left_object_needs_dwell(self) -> Self:
        if self.left_object and self.min_dwell_s <= 0:
            raise ValueError("a left-object rule needs a dwell time above 0 s")
        return self

    def zone_names(self) -> tuple[str, ...]:
        """The zones the rule is limited to (empty: anywhere in view)."""
        return tuple(self.zones)


def check_zones(rule: Rule, known: Collection[str]) -> list[str]:
    """The rule's zone names that are not in ``known`` (compared case-insensitively)."""
    known_folded = {name.casefold() for name in known}
    return [zone for zone in rule.zones if zone.casefold() not in known_folded]
