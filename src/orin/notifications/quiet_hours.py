"""Quiet hours: whether a notification goes out now or waits, from the user's preferences alone.

Everything here is pure: it reads a `Preferences` and an aware instant and answers in UTC. The
machine's own time zone never matters. A `QuietWindow` is local wall time in the user's zone:
it starts at ``start`` on each listed weekday and ends at ``end`` the same day, or the next day
when ``end`` is earlier than ``start``. A window is quiet from its start (included) to its end
(excluded). Windows that overlap or touch make one quiet stretch, and a held notification is
released when the whole stretch ends.

DST rules, chosen so that a window is never longer or shorter than its wall-clock length by more
than the DST shift, and is always finite:

- **Spring forward.** A local time in the gap does not exist; a start or an end inside the gap
  moves to the first instant after it (the transition). A window lying wholly inside the gap
  is empty that day; one that spans the gap is shorter by the part of the gap it covers.
- **Fall back.** A repeated local time is ambiguous. A start takes the first occurrence (fold=0)
  and an end the second occurrence (fold=1). So every instant whose wall clock reads inside a
  window is quiet, and a window that ends in or spans the repeated hour is longer by up to the
  shift, never shorter: on the one night a year this matters, holding a little longer is the
  lesser mistake for quiet hours.

A start and an end are resolved each by its own rule, so each can only move within the shift.
If the windows leave no gap at all (always quiet), a stretch is cut at `MAX_HOLD` after the
instant asked about, so nothing is ever held forever.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo

from orin.users.schemas import Preferences, QuietWindow, Weekday

__all__ = [
    "CRITICAL",
    "MAX_HOLD",
    "Decision",
    "Outcome",
    "decide",
    "is_quiet",
    "quiet_until",
    "window_span",
]

MAX_HOLD: Final = timedelta(days=7)
"""The longest a notification is held, even when the windows cover every instant."""

CRITICAL: Final = "critical"
"""The severity that may pass through quiet hours."""

Outcome = Literal["send", "hold"]

# `date.weekday()` numbers Monday as 0, the order `Weekday` is declared in.
_WEEKDAY_INDEX: Final[dict[Weekday, int]] = {day: index for index, day in enumerate(Weekday)}

# Days looked at before an instant's local date: a window lasts about a day at most, plus the
# shift of one transition; the margin also covers zones that skipped a whole day.
_DAYS_BEFORE: Final = 2
_DAYS_AFTER: Final = 2


@dataclass(frozen=True)
class Decision:
    """What to do with one notification now: ``send`` it, or ``hold`` it until ``release_at``."""

    outcome: Outcome
    release_at: datetime | None = None
    """UTC instant the quiet stretch ends and held notifications go out; None when sent."""
    bypassed: bool = False
    """True when a critical notification is sent although it is quiet hours."""

    @property
    def held(self) -> bool:
        """Whether the notification waits for ``release_at``."""
        return self.outcome == "hold"


def quiet_until(preferences: Preferences, at: datetime) -> datetime | None:
    """The UTC instant the quiet stretch containing ``at`` ends, or None when ``at`` is not quiet.

    Overlapping or touching windows are one stretch (Mon 22:00-07:00 and Tue 06:00-08:00 hold
    a notification from Monday night until Tuesday 08:00). The answer is at most
    ``at + MAX_HOLD``.
    """
    _require_aware(at)
    if not preferences.quiet_hours:
        return None
    zone = ZoneInfo(preferences.timezone)
    horizon = at + MAX_HOLD
    first_day = at.astimezone(zone).date() - timedelta(days=_DAYS_BEFORE)
    last_day = horizon.astimezone(zone).date() + timedelta(days=_DAYS_AFTER)
    for start, end in _merge(_spans(preferences.quiet_hours, zone, first_day, last_day)):
        if start <= at < end:
            return min(end, horizon).astimezone(UTC)
        if start > at:
            break
    return None


def is_quiet(preferences: Preferences, at: datetime) -> bool:
    """Whether ``at`` falls in the user's quiet hours."""
    return quiet_until(preferences, at) is not None


def decide(preferences: Preferences, at: datetime, severity: str) -> Decision:
    """Send a notification of ``severity`` at ``at``, or hold it until its quiet stretch ends.

    A ``critical`` one passes through quiet hours when the user allows it.
    """
    release_at = quiet_until(preferences, at)
    if release_at is None:
        return Decision("send")
    if severity == CRITICAL and preferences.critical_bypasses_quiet_hours:
        return Decision("send", bypassed=True)
    return Decision("hold", release_at)


def window_span(window: QuietWindow, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants ``[start, end)`` that ``window`` covers when it starts on local ``day``.

    ``day`` need not be one of the window's days. Start and end may be equal (a window inside a
    spring-forward gap), never reversed.
    """
    start_time = window.start.replace(tzinfo=None)
    end_time = window.end.replace(tzinfo=None)
    end_day = day if end_time > start_time else day + timedelta(days=1)
    start = _instant(datetime.combine(day, start_time), zone, earliest=True)
    end = _instant(datetime.combine(end_day, end_time), zone, earliest=False)
    return start, max(start, end)


def _spans(
    windows: Iterable[QuietWindow], zone: ZoneInfo, first_day: date, last_day: date
) -> list[tuple[datetime, datetime]]:
    """Every non-empty window occurrence starting on a local day in ``[first_day, last_day]``."""
    spans: list[tuple[datetime, datetime]] = []
    for window in windows:
        weekdays = {_WEEKDAY_INDEX[day] for day in window.days}
        day = first_day
        while day <= last_day:
            if day.weekday() in weekdays:
                start, end = window_span(window, day, zone)
                if start < end:
                    spans.append((start, end))
            day += timedelta(days=1)
    return spans


def _merge(spans: Sequence[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Overlapping or touching spans joined, in order."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _instant(wall: datetime, zone: ZoneInfo, *, earliest: bool) -> datetime:
    """The UTC instant of naive local ``wall`` time in ``zone``, by the module's DST rules.

    ``earliest`` picks the first occurrence of a repeated time (starts), otherwise the second
    (ends); a time in a gap is the first instant after the gap either way.
    """
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    offset_first = _offset(first)
    offset_second = _offset(second)
    if offset_first == offset_second:
        return first.astimezone(UTC)
    if offset_first > offset_second:
        # Repeated: fold=0 reads the earlier offset, the first occurrence.
        return (first if earliest else second).astimezone(UTC)
    # Gap: fold=1 applies the later offset and lands before the transition, fold=0 after it.
    return _transition(zone, before=second.astimezone(UTC), after=first.astimezone(UTC))


def _transition(zone: ZoneInfo, *, before: datetime, after: datetime) -> datetime:
    """The instant in ``(before, after]`` where the offset of ``zone`` changes."""
    # Transitions fall on whole seconds, so a binary search over seconds finds the exact one.
    old = _offset(before.astimezone(zone))
    low = math.floor(before.timestamp())
    high = math.ceil(after.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(datetime.fromtimestamp(middle, zone)) == old:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def _offset(moment: datetime) -> timedelta:
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("a naive time has no UTC offset")
    return offset


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at!r} has no time zone; pass an aware UTC datetime")
