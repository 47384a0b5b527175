"""Quiet hours with a controlled clock: every instant is built explicitly, in UTC or local time."""

from __future__ import annotations

import time as time_module
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orin.guards.rule import Severity
from orin.notifications.quiet_hours import (
    MAX_HOLD,
    Decision,
    decide,
    is_quiet,
    quiet_until,
    window_span,
)
from orin.users.schemas import Preferences, QuietWindow, Weekday

ALL_DAYS = "mon,tue,wed,thu,fri,sat,sun"
DAY_OF_INDEX = list(Weekday)


def window(days: str, start: str, end: str) -> QuietWindow:
    """``window("fri", "22:00", "06:00")``; days comma-separated."""
    return QuietWindow(
        days=[Weekday(day) for day in days.split(",")],
        start=time.fromisoformat(start),
        end=time.fromisoformat(end),
    )


def prefs(timezone: str, *windows: QuietWindow, critical_passes: bool = True) -> Preferences:
    return Preferences(
        timezone=timezone,
        quiet_hours=list(windows),
        critical_bypasses_quiet_hours=critical_passes,
    )


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(
    timezone: str, year: int, month: int, day: int, hour: int, minute: int = 0, *, fold: int = 0
) -> datetime:
    """The UTC instant of an (existing) local wall time."""
    moment = datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(timezone), fold=fold)
    return moment.astimezone(UTC)


# The reference week in UTC: Mon 2024-01-08 … Sun 2024-01-14.
OFFICE = prefs("UTC", window("mon", "09:00", "17:00"))
FRIDAY_NIGHT = prefs("UTC", window("fri", "22:00", "06:00"))


@pytest.mark.parametrize(
    ("preferences", "at", "expected"),
    [
        # A window inside one day: the start is quiet, the end is not.
        pytest.param(OFFICE, utc(2024, 1, 8, 8, 59, 59), None, id="day-before-start"),
        pytest.param(OFFICE, utc(2024, 1, 8, 9), utc(2024, 1, 8, 17), id="day-at-start"),
        pytest.param(OFFICE, utc(2024, 1, 8, 12), utc(2024, 1, 8, 17), id="day-inside"),
        pytest.param(
            OFFICE,
            utc(2024, 1, 8, 16, 59, 59).replace(microsecond=999_999),
            utc(2024, 1, 8, 17),
            id="day-last-microsecond",
        ),
        pytest.param(OFFICE, utc(2024, 1, 8, 17), None, id="day-at-end"),
        pytest.param(OFFICE, utc(2024, 1, 9, 12), None, id="day-other-weekday"),
        pytest.param(OFFICE, utc(2024, 1, 15, 10), utc(2024, 1, 15, 17), id="day-next-week"),
        # Crossing midnight: the listed day is the start day.
        pytest.param(FRIDAY_NIGHT, utc(2024, 1, 12, 21, 59), None, id="night-before-start"),
        pytest.param(FRIDAY_NIGHT, utc(2024, 1, 12, 22), utc(2024, 1, 13, 6), id="night-at-start"),
        pytest.param(FRIDAY_NIGHT, utc(2024, 1, 12, 23, 59), utc(2024, 1, 13, 6), id="night-fri"),
        pytest.param(FRIDAY_NIGHT, utc(2024, 1, 13), utc(2024, 1, 13, 6), id="night-midnight"),
        pytest.param(FRIDAY_NIGHT, utc(2024, 1, 13, 3), utc(2024, 1, 13, 6), id="night-sat-03"),
        pytest.param(FRIDAY_NIGHT, utc(2024, 1, 12, 3), None, id="night-fri-03-not-quiet"),
        pytest.param(FRIDAY_NIGHT, utc(2024, 1, 13, 6), None, id="night-at-end"),
        pytest.param(FRIDAY_NIGHT, utc(2024, 1, 13, 23), None, id="night-sat-evening"),
        pytest.param(FRIDAY_NIGHT, utc(2024, 1, 14, 3), None, id="night-sun-03"),
        # Sunday night runs into Monday, across the week's end.
        pytest.param(
            prefs("UTC", window("sun", "22:00", "06:00")),
            utc(2024, 1, 15, 3),
            utc(2024, 1, 15, 6),
            id="sunday-into-monday",
        ),
        pytest.param(
            prefs("UTC", window("sun", "22:00", "06:00")),
            utc(2024, 1, 8, 5, 59),
            utc(2024, 1, 8, 6),
            id="sunday-into-first-monday",
        ),
        # Nothing configured.
        pytest.param(prefs("UTC"), utc(2024, 1, 8, 3), None, id="no-windows"),
    ],
)
def test_quiet_until_windows_in_utc(
    preferences: Preferences, at: datetime, expected: datetime | None
) -> None:
    assert quiet_until(preferences, at) == expected


CHAIN = prefs("UTC", window("mon", "22:00", "07:00"), window("tue", "06:00", "08:00"))
TOUCHING = prefs("UTC", window("mon", "22:00", "07:00"), window("tue", "07:00", "09:00"))
APART = prefs("UTC", window("mon", "22:00", "06:00"), window("tue", "07:00", "08:00"))
NESTED = prefs("UTC", window("mon", "20:00", "23:00"), window("mon", "21:00", "22:00"))
WEEKEND = prefs("UTC", window(ALL_DAYS, "22:00", "07:00"), window("sat,sun", "07:00", "22:00"))


@pytest.mark.parametrize(
    ("preferences", "at", "expected"),
    [
        pytest.param(CHAIN, utc(2024, 1, 8, 23), utc(2024, 1, 9, 8), id="overlap-from-first"),
        pytest.param(CHAIN, utc(2024, 1, 9, 6, 30), utc(2024, 1, 9, 8), id="overlap-inside-both"),
        pytest.param(CHAIN, utc(2024, 1, 9, 7, 30), utc(2024, 1, 9, 8), id="overlap-second-only"),
        pytest.param(CHAIN, utc(2024, 1, 9, 8), None, id="overlap-at-end"),
        pytest.param(TOUCHING, utc(2024, 1, 8, 22), utc(2024, 1, 9, 9), id="touching-from-first"),
        pytest.param(TOUCHING, utc(2024, 1, 9, 7), utc(2024, 1, 9, 9), id="touching-at-seam"),
        pytest.param(APART, utc(2024, 1, 8, 23), utc(2024, 1, 9, 6), id="apart-first"),
        pytest.param(APART, utc(2024, 1, 9, 6, 30), None, id="apart-between"),
        pytest.param(APART, utc(2024, 1, 9, 7), utc(2024, 1, 9, 8), id="apart-second"),
        pytest.param(NESTED, utc(2024, 1, 8, 21, 30), utc(2024, 1, 8, 23), id="nested"),
        pytest.param(WEEKEND, utc(2024, 1, 12, 23), utc(2024, 1, 15, 7), id="weekend-chain"),
        pytest.param(WEEKEND, utc(2024, 1, 13, 12), utc(2024, 1, 15, 7), id="weekend-midday"),
        pytest.param(WEEKEND, utc(2024, 1, 15, 7), None, id="weekend-over"),
        pytest.param(WEEKEND, utc(2024, 1, 10, 3), utc(2024, 1, 10, 7), id="weekday-night"),
    ],
)
def test_chained_and_overlapping_windows_release_at_end_of_whole_stretch(
    preferences: Preferences, at: datetime, expected: datetime | None
) -> None:
    assert quiet_until(preferences, at) == expected


@pytest.mark.parametrize("day", range(8, 15))
def test_every_day_window_holds_each_night_and_not_each_noon(day: int) -> None:
    preferences = prefs("UTC", window(ALL_DAYS, "23:00", "06:00"))
    assert quiet_until(preferences, utc(2024, 1, day, 23, 30)) == utc(2024, 1, day + 1, 6)
    assert quiet_until(preferences, utc(2024, 1, day, 2)) == utc(2024, 1, day, 6)
    assert quiet_until(preferences, utc(2024, 1, day, 12)) is None


def test_windows_covering_every_instant_hold_for_at_most_max_hold() -> None:
    preferences = prefs(
        "UTC", window(ALL_DAYS, "00:00", "12:00"), window(ALL_DAYS, "12:00", "00:00")
    )
    at = utc(2024, 1, 10, 5, 17)
    assert quiet_until(preferences, at) == at + MAX_HOLD


def test_one_minute_gaps_each_day_end_the_stretch() -> None:
    preferences = prefs("UTC", window(ALL_DAYS, "00:00", "23:59"))
    assert quiet_until(preferences, utc(2024, 1, 10, 5)) == utc(2024, 1, 10, 23, 59)
    assert quiet_until(preferences, utc(2024, 1, 10, 23, 59, 30)) is None


# 2024 transitions, in UTC:
PARIS = "Europe/Paris"  # forward Sun 31 Mar 01:00, back Sun 27 Oct 01:00
NEW_YORK = "America/New_York"  # forward Sun 10 Mar 07:00, back Sun 3 Nov 06:00
SYDNEY = "Australia/Sydney"  # back (local Sun 7 Apr) 6 Apr 16:00, forward (Sun 6 Oct) 5 Oct 16:00
ADELAIDE = "Australia/Adelaide"  # +09:30 / +10:30; changes at 16:30 UTC on the same days as Sydney
KOLKATA = "Asia/Kolkata"  # +05:30, no DST


@pytest.mark.parametrize(
    ("preferences", "at", "expected"),
    [
        # Spring forward in Paris: 02:00-02:59 does not exist on Sun 31 Mar.
        pytest.param(
            prefs(PARIS, window("sun", "02:30", "06:00")),
            utc(2024, 3, 31, 0, 59, 59),
            None,
            id="paris-spring-start-in-gap-before",
        ),
        pytest.param(
            prefs(PARIS, window("sun", "02:30", "06:00")),
            utc(2024, 3, 31, 1),
            utc(2024, 3, 31, 4),
            id="paris-spring-start-in-gap-moves-to-transition",
        ),
        pytest.param(
            prefs(PARIS, window("sat", "23:00", "02:30")),
            local(PARIS, 2024, 3, 30, 23),
            utc(2024, 3, 31, 1),
            id="paris-spring-end-in-gap-moves-to-transition",
        ),
        pytest.param(
            prefs(PARIS, window("sat", "23:00", "02:30")),
            utc(2024, 3, 31, 1),
            None,
            id="paris-spring-end-in-gap-over-at-transition",
        ),
        pytest.param(
            prefs(PARIS, window("sun", "01:00", "03:00")),
            utc(2024, 3, 31, 0, 30),
            utc(2024, 3, 31, 1),
            id="paris-spring-window-spanning-gap-is-an-hour-shorter",
        ),
        pytest.param(
            prefs(PARIS, window("sun", "02:10", "02:50")),
            utc(2024, 3, 31, 1),
            None,
            id="paris-spring-window-inside-gap-is-empty",
        ),
        pytest.param(
            prefs(PARIS, window("sun", "02:10", "02:50")),
            local(PARIS, 2024, 4, 7, 2, 10),
            local(PARIS, 2024, 4, 7, 2, 50),
            id="paris-spring-window-inside-gap-back-next-week",
        ),
        pytest.param(
            prefs(PARIS, window(ALL_DAYS, "22:00", "07:00")),
            local(PARIS, 2024, 3, 30, 22),
            local(PARIS, 2024, 3, 31, 7),
            id="paris-spring-every-night",
        ),
        # Fall back in Paris: 02:00-02:59 happens twice on Sun 27 Oct.
        pytest.param(
            prefs(PARIS, window("sun", "02:30", "05:00")),
            utc(2024, 10, 27, 0, 29),
            None,
            id="paris-fall-start-before-first-occurrence",
        ),
        pytest.param(
            prefs(PARIS, window("sun", "02:30", "05:00")),
            utc(2024, 10, 27, 0, 30),
            utc(2024, 10, 27, 4),
            id="paris-fall-start-takes-first-occurrence",
        ),
        pytest.param(
            prefs(PARIS, window("sun", "02:30", "05:00")),
            utc(2024, 10, 27, 1, 15),
            utc(2024, 10, 27, 4),
            id="paris-fall-stays-quiet-when-clock-goes-back",
        ),
        pytest.param(
            prefs(PARIS, window("sat", "22:00", "02:30")),
            utc(2024, 10, 27, 0, 45),
            utc(2024, 10, 27, 1, 30),
            id="paris-fall-end-takes-second-occurrence",
        ),
        pytest.param(
            prefs(PARIS, window("sat", "22:00", "02:30")),
            local(PARIS, 2024, 10, 27, 2, 29, fold=1),
            utc(2024, 10, 27, 1, 30),
            id="paris-fall-end-second-occurrence-last-minute",
        ),
        pytest.param(
            prefs(PARIS, window("sat", "22:00", "02:30")),
            local(PARIS, 2024, 10, 27, 2, 30, fold=1),
            None,
            id="paris-fall-end-second-occurrence-is-not-quiet",
        ),
        pytest.param(
            prefs(PARIS, window("sun", "02:15", "02:45")),
            local(PARIS, 2024, 10, 27, 2, 15),
            utc(2024, 10, 27, 1, 45),
            id="paris-fall-window-inside-repeated-hour",
        ),
        pytest.param(
            prefs(PARIS, window(ALL_DAYS, "23:00", "06:00")),
            local(PARIS, 2024, 10, 26, 23),
            utc(2024, 10, 27, 5),
            id="paris-fall-every-night-an-hour-longer",
        ),
        # Spring forward in New York: 02:00-02:59 does not exist on Sun 10 Mar.
        pytest.param(
            prefs(NEW_YORK, window("sun", "02:00", "04:00")),
            utc(2024, 3, 10, 6, 59),
            None,
            id="new-york-spring-start-at-gap-before",
        ),
        pytest.param(
            prefs(NEW_YORK, window("sun", "02:00", "04:00")),
            utc(2024, 3, 10, 7),
            utc(2024, 3, 10, 8),
            id="new-york-spring-start-at-gap",
        ),
        pytest.param(
            prefs(NEW_YORK, window("sat", "22:00", "02:30")),
            utc(2024, 3, 10, 3),
            utc(2024, 3, 10, 7),
            id="new-york-spring-end-in-gap",
        ),
        # Fall back in New York: 01:00-01:59 happens twice on Sun 3 Nov.
        pytest.param(
            prefs(NEW_YORK, window("sat", "23:00", "01:30")),
            local(NEW_YORK, 2024, 11, 2, 23),
            utc(2024, 11, 3, 6, 30),
            id="new-york-fall-end-second-occurrence",
        ),
        pytest.param(
            prefs(NEW_YORK, window("sat", "23:00", "01:30")),
            local(NEW_YORK, 2024, 11, 3, 1, 45, fold=0),
            utc(2024, 11, 3, 6, 30),
            id="new-york-fall-first-pass-after-end-still-quiet",
        ),
        pytest.param(
            prefs(NEW_YORK, window("sat", "23:00", "01:30")),
            utc(2024, 11, 3, 6, 30),
            None,
            id="new-york-fall-released-at-second-occurrence",
        ),
        pytest.param(
            prefs(NEW_YORK, window("sun", "01:30", "03:00")),
            utc(2024, 11, 3, 5, 29),
            None,
            id="new-york-fall-before-first-occurrence",
        ),
        pytest.param(
            prefs(NEW_YORK, window("sun", "01:30", "03:00")),
            utc(2024, 11, 3, 5, 30),
            utc(2024, 11, 3, 8),
            id="new-york-fall-start-first-occurrence",
        ),
        pytest.param(
            prefs(NEW_YORK, window("sun", "01:30", "03:00")),
            local(NEW_YORK, 2024, 11, 3, 1, 10, fold=1),
            utc(2024, 11, 3, 8),
            id="new-york-fall-repeated-hour-stays-quiet",
        ),
        # Southern hemisphere: Sydney is +11 in January, +10 in July.
        pytest.param(
            prefs(SYDNEY, window("mon", "22:00", "06:00")),
            utc(2024, 1, 8, 10, 59),
            None,
            id="sydney-summer-before",
        ),
        pytest.param(
            prefs(SYDNEY, window("mon", "22:00", "06:00")),
            utc(2024, 1, 8, 11),
            utc(2024, 1, 8, 19),
            id="sydney-summer",
        ),
        pytest.param(
            prefs(SYDNEY, window("mon", "22:00", "06:00")),
            utc(2024, 7, 8, 12),
            utc(2024, 7, 8, 20),
            id="sydney-winter",
        ),
        pytest.param(
            prefs(SYDNEY, window("sat", "22:00", "02:30")),
            utc(2024, 4, 6, 16, 29),
            utc(2024, 4, 6, 16, 30),
            id="sydney-fall-back-end-second-occurrence",
        ),
        pytest.param(
            prefs(SYDNEY, window("sat", "22:00", "02:30")),
            utc(2024, 4, 6, 11),
            utc(2024, 4, 6, 16, 30),
            id="sydney-fall-back-from-start",
        ),
        pytest.param(
            prefs(SYDNEY, window("sun", "02:30", "07:00")),
            utc(2024, 10, 5, 15, 59),
            None,
            id="sydney-spring-forward-before",
        ),
        pytest.param(
            prefs(SYDNEY, window("sun", "02:30", "07:00")),
            utc(2024, 10, 5, 16),
            utc(2024, 10, 5, 20),
            id="sydney-spring-forward-start-in-gap",
        ),
        # Half-hour offsets.
        pytest.param(
            prefs(KOLKATA, window("mon", "22:00", "06:30")),
            utc(2024, 1, 8, 16, 29, 59),
            None,
            id="kolkata-before",
        ),
        pytest.param(
            prefs(KOLKATA, window("mon", "22:00", "06:30")),
            utc(2024, 1, 8, 16, 30),
            utc(2024, 1, 9, 1),
            id="kolkata-at-start",
        ),
        pytest.param(
            prefs(KOLKATA, window("mon", "22:00", "06:30")),
            utc(2024, 1, 9, 1),
            None,
            id="kolkata-at-end",
        ),
        pytest.param(
            prefs(KOLKATA, window("tue", "00:00", "05:30")),
            utc(2024, 1, 8, 18, 30),
            utc(2024, 1, 9),
            id="kolkata-local-tuesday-is-utc-monday",
        ),
        pytest.param(
            prefs(ADELAIDE, window("sun", "02:15", "04:00")),
            utc(2024, 10, 5, 16, 29),
            None,
            id="adelaide-spring-before",
        ),
        pytest.param(
            prefs(ADELAIDE, window("sun", "02:15", "04:00")),
            utc(2024, 10, 5, 16, 30),
            utc(2024, 10, 5, 17, 30),
            id="adelaide-spring-start-in-gap",
        ),
        pytest.param(
            prefs(ADELAIDE, window("sat", "23:00", "02:45")),
            utc(2024, 4, 6, 16, 40),
            utc(2024, 4, 6, 17, 15),
            id="adelaide-fall-end-second-occurrence",
        ),
        # The local weekday decides, not the UTC one.
        pytest.param(
            prefs("Pacific/Auckland", window("mon", "07:00", "09:00")),
            utc(2024, 1, 7, 19),
            utc(2024, 1, 7, 20),
            id="auckland-monday-is-utc-sunday",
        ),
    ],
)
def test_quiet_until_in_local_time_across_dst(
    preferences: Preferences, at: datetime, expected: datetime | None
) -> None:
    assert quiet_until(preferences, at) == expected


def test_release_is_reported_in_utc_whatever_zone_at_is_in() -> None:
    at = datetime(2024, 1, 13, 12, tzinfo=ZoneInfo("Asia/Tokyo"))  # Sat 03:00 UTC
    release_at = quiet_until(FRIDAY_NIGHT, at)
    assert release_at == utc(2024, 1, 13, 6)
    assert release_at is not None
    assert release_at.tzinfo is UTC


def test_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        quiet_until(FRIDAY_NIGHT, datetime(2024, 1, 13, 3))


@pytest.fixture
def machine_zone_far_away() -> Iterator[None]:
    """The process's local zone set to one that differs from every zone used here."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "Pacific/Kiritimati")
        time_module.tzset()
        yield
    time_module.tzset()


@pytest.mark.usefixtures("machine_zone_far_away")
def test_machine_local_zone_does_not_matter() -> None:
    preferences = prefs(PARIS, window("fri", "22:00", "06:00"))
    assert quiet_until(preferences, local(PARIS, 2024, 1, 13, 3)) == local(PARIS, 2024, 1, 13, 6)
    assert quiet_until(preferences, local(PARIS, 2024, 1, 12, 3)) is None


NIGHT = window(ALL_DAYS, "22:00", "07:00")


@pytest.mark.parametrize(
    ("critical_passes", "severity", "at", "expected"),
    [
        pytest.param(True, "info", utc(2024, 1, 10, 12), Decision("send"), id="day-info"),
        pytest.param(True, "critical", utc(2024, 1, 10, 12), Decision("send"), id="day-critical"),
        pytest.param(
            True, "info", utc(2024, 1, 10, 23), Decision("hold", utc(2024, 1, 11, 7)), id="info"
        ),
        pytest.param(
            True,
            "warning",
            utc(2024, 1, 10, 23),
            Decision("hold", utc(2024, 1, 11, 7)),
            id="warning",
        ),
        pytest.param(
            True,
            "critical",
            utc(2024, 1, 10, 23),
            Decision("send", bypassed=True),
            id="critical-passes",
        ),
        pytest.param(
            False,
            "critical",
            utc(2024, 1, 10, 23),
            Decision("hold", utc(2024, 1, 11, 7)),
            id="critical-held-when-not-allowed",
        ),
        pytest.param(
            False, "critical", utc(2024, 1, 10, 12), Decision("send"), id="critical-day-no-bypass"
        ),
        pytest.param(
            True, "info", utc(2024, 1, 10, 22), Decision("hold", utc(2024, 1, 11, 7)), id="at-start"
        ),
        pytest.param(True, "info", utc(2024, 1, 11, 7), Decision("send"), id="at-end"),
    ],
)
def test_decide(critical_passes: bool, severity: str, at: datetime, expected: Decision) -> None:
    preferences = prefs("UTC", NIGHT, critical_passes=critical_passes)
    assert decide(preferences, at, severity) == expected


def test_decide_accepts_the_guard_severity_enum() -> None:
    preferences = prefs("UTC", NIGHT)
    decision = decide(preferences, utc(2024, 1, 10, 23), Severity.CRITICAL)
    assert decision.outcome == "send"
    assert decision.bypassed
    assert not decision.held
    held = decide(preferences, utc(2024, 1, 10, 23), Severity.WARNING)
    assert held.held
    assert held.release_at == utc(2024, 1, 11, 7)


def test_release_at_is_exactly_the_window_end_and_then_sends() -> None:
    preferences = prefs(NEW_YORK, window("fri", "22:00", "06:00"))
    decision = decide(preferences, local(NEW_YORK, 2024, 1, 12, 23, 15), "info")
    assert decision.release_at == local(NEW_YORK, 2024, 1, 13, 6)
    assert decision.release_at is not None
    assert decide(preferences, decision.release_at, "info") == Decision("send")
    assert is_quiet(preferences, decision.release_at - timedelta(microseconds=1))


@pytest.mark.parametrize(
    ("timezone", "quiet", "day", "expected"),
    [
        pytest.param(
            PARIS,
            window("sun", "02:30", "06:00"),
            date(2024, 3, 31),
            (utc(2024, 3, 31, 1), utc(2024, 3, 31, 4)),
            id="start-in-gap",
        ),
        pytest.param(
            PARIS,
            window("sun", "02:10", "02:50"),
            date(2024, 3, 31),
            (utc(2024, 3, 31, 1), utc(2024, 3, 31, 1)),
            id="inside-gap-empty",
        ),
        pytest.param(
            PARIS,
            window("sun", "02:15", "02:45"),
            date(2024, 10, 27),
            (utc(2024, 10, 27, 0, 15), utc(2024, 10, 27, 1, 45)),
            id="inside-repeated-hour",
        ),
        pytest.param(
            "America/Santiago",  # clocks go from 00:00 to 01:00 on Sun 8 Sep 2024
            window("sat", "23:00", "00:30"),
            date(2024, 9, 7),
            (utc(2024, 9, 8, 3), utc(2024, 9, 8, 4)),
            id="end-in-midnight-gap",
        ),
        pytest.param(
            "Pacific/Apia",  # Fri 30 Dec 2011 never happened there
            window("fri", "22:00", "06:00"),
            date(2011, 12, 30),
            (utc(2011, 12, 30, 10), utc(2011, 12, 30, 16)),
            id="skipped-day",
        ),
    ],
)
def test_window_span(
    timezone: str, quiet: QuietWindow, day: date, expected: tuple[datetime, datetime]
) -> None:
    assert window_span(quiet, day, ZoneInfo(timezone)) == expected


# Properties over random windows and instants, biased towards DST transitions.

ZONES = [
    "UTC",
    PARIS,
    NEW_YORK,
    SYDNEY,
    ADELAIDE,
    KOLKATA,
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "America/Santiago",  # transitions at midnight
    "Pacific/Auckland",
    "Pacific/Apia",  # skipped a whole day in 2011
]


@cache
def transitions(timezone: str) -> tuple[datetime, ...]:
    """Instants (to the hour) around which ``timezone`` changed offset in 2011 and 2024."""
    zone = ZoneInfo(timezone)
    found: list[datetime] = []
    for year in (2011, 2024):
        moment = utc(year, 1, 1)
        previous = moment.astimezone(zone).utcoffset()
        while moment.year == year:
            moment += timedelta(hours=1)
            offset = moment.astimezone(zone).utcoffset()
            if offset != previous:
                found.append(moment)
            previous = offset
    return tuple(found)


quiet_times = st.one_of(
    st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45, 59])),
    st.builds(time, st.sampled_from([0, 1, 2, 3, 23]), st.integers(0, 59)),
)


@st.composite
def quiet_windows(draw: st.DrawFn) -> QuietWindow:
    start = draw(quiet_times)
    end = draw(quiet_times.filter(lambda end: end != start))
    days = draw(st.lists(st.sampled_from(DAY_OF_INDEX), min_size=1, max_size=7, unique=True))
    return QuietWindow(days=days, start=start, end=end)


@st.composite
def preferences_and_instants(draw: st.DrawFn) -> tuple[Preferences, datetime]:
    timezone = draw(st.sampled_from(ZONES))
    windows = draw(st.lists(quiet_windows(), min_size=1, max_size=4))
    critical = draw(st.booleans())
    near = transitions(timezone)
    if len(near) > 0 and draw(st.booleans()):
        around = draw(st.sampled_from(near))
        at = around + timedelta(minutes=draw(st.integers(-36 * 60, 36 * 60)))
    else:
        at = draw(st.datetimes(datetime(2010, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC)))
    return prefs(timezone, *windows, critical_passes=critical), at


def wall_clock_quiet(preferences: Preferences, at: datetime) -> bool:
    """Whether the user's wall clock at ``at`` reads inside one of their windows."""
    wall = at.astimezone(ZoneInfo(preferences.timezone)).replace(tzinfo=None)
    for quiet in preferences.quiet_hours:
        for days_back in (0, 1):
            day = wall.date() - timedelta(days=days_back)
            if DAY_OF_INDEX[day.weekday()] not in quiet.days:
                continue
            end_day = day if quiet.end > quiet.start else day + timedelta(days=1)
            start = datetime.combine(day, quiet.start)
            end = datetime.combine(end_day, quiet.end)
            if start <= wall < end:
                return True
    return False


@settings(max_examples=300, deadline=None)
@given(preferences_and_instants())
def test_held_until_a_release_that_ends_an_unbroken_quiet_stretch(
    case: tuple[Preferences, datetime],
) -> None:
    preferences, at = case
    release_at = quiet_until(preferences, at)
    if release_at is None:
        assert decide(preferences, at, "info") == Decision("send")
        return
    assert release_at > at
    assert release_at <= at + MAX_HOLD
    capped = release_at == at + MAX_HOLD
    assert capped or not is_quiet(preferences, release_at)
    steps = 12
    samples = [at + (release_at - at) * step / steps for step in range(steps)]
    samples.append(release_at - timedelta(microseconds=1))
    for sample in samples:
        later = quiet_until(preferences, sample)
        assert later is not None, sample
        assert later == release_at or (capped and later >= release_at)
    decision = decide(preferences, at, "critical")
    if preferences.critical_bypasses_quiet_hours:
        assert decision == Decision("send", bypassed=True)
    else:
        assert decision == Decision("hold", release_at)


@settings(max_examples=300, deadline=None)
@given(preferences_and_instants())
def test_every_instant_whose_wall_clock_reads_inside_a_window_is_quiet(
    case: tuple[Preferences, datetime],
) -> None:
    preferences, at = case
    if wall_clock_quiet(preferences, at):
        assert is_quiet(preferences, at)


@st.composite
def zones_and_days(draw: st.DrawFn) -> tuple[str, date]:
    timezone = draw(st.sampled_from(ZONES))
    near = transitions(timezone)
    if len(near) > 0 and draw(st.booleans()):
        moment = draw(st.sampled_from(near)) + timedelta(days=draw(st.integers(-1, 0)))
        return timezone, moment.astimezone(ZoneInfo(timezone)).date()
    return timezone, draw(st.dates(date(2010, 1, 1), date(2030, 1, 1)))


@settings(max_examples=300, deadline=None)
@given(zone_and_day=zones_and_days(), quiet=quiet_windows())
def test_a_window_is_finite_and_off_its_wall_clock_length_by_at_most_the_dst_shift(
    zone_and_day: tuple[str, date], quiet: QuietWindow
) -> None:
    timezone, day = zone_and_day
    zone = ZoneInfo(timezone)
    start, end = window_span(quiet, day, zone)
    assert start <= end
    end_day = day if quiet.end > quiet.start else day + timedelta(days=1)
    wall_length = datetime.combine(end_day, quiet.end) - datetime.combine(day, quiet.start)
    offsets = [
        (start + timedelta(hours=hour)).astimezone(zone).utcoffset() or timedelta()
        for hour in range(-26, 52)
    ]
    shift = max(offsets) - min(offsets)
    assert abs((end - start) - wall_length) <= shift
    assert end - start <= timedelta(days=1) + shift
