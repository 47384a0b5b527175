"""The guard rule schema: validation, JSON round trips, and when a schedule is armed."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from orin.guards.compiler import compile_instruction
from orin.guards.rule import (
    LEFT_OBJECT_DWELL_S,
    MAX_COOLDOWN_S,
    MAX_DWELL_S,
    CountThreshold,
    ObjectClass,
    Rule,
    Schedule,
    Severity,
    TimeWindow,
    check_zones,
)

LONDON = ZoneInfo("Europe/London")
LONDON_LOCATION = (51.5074, -0.1278)
SVALBARD = ZoneInfo("Arctic/Longyearbyen")
SVALBARD_LOCATION = (78.2232, 15.6267)
ZONES = ["front door", "driveway", "yard", "porch", "gate"]

# --- strategies -------------------------------------------------------------------------------

days = st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True)
clock = st.times().map(lambda t: t.replace(tzinfo=None))
windows = st.builds(TimeWindow, days=days, start=clock, end=clock)


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    kind = draw(st.sampled_from(["always", "windows", "night", "day"]))
    if kind == "windows":
        return Schedule(kind="windows", windows=draw(st.lists(windows, min_size=1, max_size=3)))
    if kind == "always":
        return Schedule()
    return Schedule.model_validate(
        {"kind": kind, "days": draw(st.lists(st.integers(0, 6), unique=True))}
    )


counts = st.one_of(
    st.none(),
    st.builds(
        CountThreshold,
        op=st.sampled_from(["gt", "gte", "lte", "eq"]),
        value=st.integers(0, 1000),
    ),
    st.builds(CountThreshold, op=st.just("lt"), value=st.integers(1, 1000)),
)
zone_names = st.lists(
    st.text(min_size=1, max_size=64).map(str.strip).filter(bool),
    max_size=4,
    unique_by=str.casefold,
)


@st.composite
def rules(draw: st.DrawFn) -> Rule:
    left_object = draw(st.booleans())
    low = 0.001 if left_object else 0.0
    fields: dict[str, Any] = {
        "objects": draw(st.lists(st.sampled_from(list(ObjectClass)), min_size=1, unique=True)),
        "zones": draw(zone_names),
        "schedule": draw(schedules()),
        "min_dwell_s": draw(st.floats(low, MAX_DWELL_S, allow_nan=False)),
        "min_confidence": draw(st.floats(0, 1)),
        "min_size": draw(st.floats(0, 1)),
        "count": draw(counts),
        "left_object": left_object,
        "cooldown_s": draw(st.integers(0, MAX_COOLDOWN_S)),
        "severity": draw(st.sampled_from(list(Severity))),
        "channels": draw(
            st.lists(st.sampled_from(["push", "email", "sms", "webhook"]), unique=True)
        ),
    }
    return Rule.model_validate(fields)


FRAGMENTS = [
    "a person", "someone", "people", "cars", "a van", "a package", "a dog", "any animal", "a bike",
    "more than 3", "at least 2", "two or more", "a crowd", "between 2 and 5",
    "in the driveway", "at the front door", "near the gate", "on the porch", "in the yard",
    "after 10pm", "before 7am", "between 9pm and 6am", "from 22:00 to 06:00", "on weekends",
    "on weekdays", "on mondays", "at night", "during the day", "overnight", "except on sundays",
    "for more than 30 seconds", "longer than 2 minutes", "for 5 min", "loitering",
    "is left", "delivered", "dropped off", "urgent", "just let me know", "text me", "email me",
    "push", "call the webhook", "only if you are sure", "even if unsure", "once an hour",
    "a red car", "wearing a mask", "except cats", "in the pool area", "fire", "when John arrives",
]  # fmt: skip

# --- round trips ------------------------------------------------------------------------------


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(rules())
def test_every_rule_round_trips_through_json(rule: Rule) -> None:
    assert Rule.model_validate(rule.model_dump(mode="json")) == rule
    assert Rule.model_validate_json(rule.model_dump_json()) == rule


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=7))
def test_every_compiled_rule_round_trips(fragments: list[str]) -> None:
    compilation = compile_instruction(" ".join(fragments), zone_names=ZONES)
    if compilation.rule is None:
        assert compilation.status == "invalid"
        assert compilation.reason
        return
    rule = compilation.rule
    assert compilation.status == "valid"
    assert Rule.model_validate(rule.model_dump(mode="json")) == rule
    assert Rule.model_validate_json(rule.model_dump_json()) == rule
    assert check_zones(rule, ZONES) == []


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_the_compiler_never_raises(text: str) -> None:
    compilation = compile_instruction(text, zone_names=ZONES)
    assert (compilation.rule is None) == (compilation.status == "invalid")


def test_the_json_schema_is_exportable() -> None:
    schema = Rule.model_json_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"objects"}
    assert "Schedule" in schema["$defs"]


# --- validation -------------------------------------------------------------------------------


def test_a_left_object_rule_gets_a_default_dwell() -> None:
    rule = Rule(objects=[ObjectClass.PACKAGE], left_object=True)
    assert rule.min_dwell_s == LEFT_OBJECT_DWELL_S


def test_a_left_object_rule_without_dwell_is_refused() -> None:
    with pytest.raises(ValidationError, match="dwell"):
        Rule(objects=[ObjectClass.PACKAGE], left_object=True, min_dwell_s=0)


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"objects": []}, id="no-objects"),
        pytest.param({"objects": ["person", "person"]}, id="repeated-object"),
        pytest.param({"objects": ["giraffe"]}, id="unknown-object"),
        pytest.param({"objects": ["person"], "zones": ["Yard", "yard"]}, id="repeated-zone"),
        pytest.param({"objects": ["person"], "zones": [" yard"]}, id="padded-zone"),
        pytest.param({"objects": ["person"], "channels": ["sms", "sms"]}, id="repeated-channel"),
        pytest.param({"objects": ["person"], "channels": ["fax"]}, id="unknown-channel"),
        pytest.param({"objects": ["person"], "min_confidence": 1.5}, id="confidence"),
        pytest.param({"objects": ["person"], "min_dwell_s": MAX_DWELL_S + 1}, id="dwell"),
        pytest.param({"objects": ["person"], "cooldown_s": -1}, id="cooldown"),
        pytest.param({"objects": ["person"], "version": 2}, id="version"),
        pytest.param({"objects": ["person"], "colour": "red"}, id="extra-field"),
        pytest.param({"objects": ["person"], "count": {"op": "lt", "value": 0}}, id="count-lt-0"),
        pytest.param({"objects": ["person"], "schedule": {"kind": "windows"}}, id="no-windows"),
        pytest.param(
            {"objects": ["person"], "schedule": {"kind": "always", "days": [1]}},
            id="always-with-days",
        ),
        pytest.param(
            {
                "objects": ["person"],
                "schedule": {
                    "kind": "windows",
                    "windows": [{"days": [1, 1], "start": "22:00", "end": "06:00"}],
                },
            },
            id="repeated-day",
        ),
        pytest.param(
            {
                "objects": ["person"],
                "schedule": {
                    "kind": "windows",
                    "windows": [{"days": [7], "start": "22:00", "end": "06:00"}],
                },
            },
            id="day-out-of-range",
        ),
    ],
)
def test_invalid_rules_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Rule.model_validate(fields)


def test_rules_are_frozen() -> None:
    rule = Rule(objects=[ObjectClass.PERSON])
    with pytest.raises(ValidationError):
        rule.min_confidence = 0.9


def test_window_days_are_sorted() -> None:
    window = TimeWindow(days=[6, 0, 3], start=time(22), end=time(6))
    assert window.days == [0, 3, 6]


def test_check_zones_lists_unknown_names_case_insensitively() -> None:
    rule = Rule(objects=[ObjectClass.PERSON], zones=["Driveway", "pool"])
    assert rule.zone_names() == ("Driveway", "pool")
    assert check_zones(rule, ["driveway", "yard"]) == ["pool"]


@pytest.mark.parametrize(
    ("op", "value", "present", "matches"),
    [
        ("gt", 3, 4, True),
        ("gt", 3, 3, False),
        ("gte", 2, 2, True),
        ("lt", 2, 1, True),
        ("lte", 2, 3, False),
        ("eq", 2, 2, True),
    ],
)
def test_count_thresholds(op: str, value: int, present: int, matches: bool) -> None:
    assert CountThreshold.model_validate({"op": op, "value": value}).matches(present) is matches


# --- schedules --------------------------------------------------------------------------------


def _london(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def _utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _windows(*windows: TimeWindow) -> Schedule:
    return Schedule(kind="windows", windows=list(windows))


OVERNIGHT = _windows(TimeWindow(start=time(22), end=time(6)))


@pytest.mark.parametrize(
    ("at", "active"),
    [
        (_london(2024, 5, 1, 21, 59), False),
        (_london(2024, 5, 1, 22, 0), True),
        (_london(2024, 5, 2, 3, 0), True),
        (_london(2024, 5, 2, 5, 59), True),
        (_london(2024, 5, 2, 6, 0), False),
        (_london(2024, 5, 2, 12, 0), False),
    ],
)
def test_a_window_crosses_midnight(at: datetime, active: bool) -> None:
    assert OVERNIGHT.is_active(at, LONDON) is active


def test_a_window_crossing_midnight_belongs_to_the_day_it_starts() -> None:
    friday_night = _windows(TimeWindow(days=[4], start=time(22), end=time(6)))
    assert friday_night.is_active(_london(2024, 5, 3, 23, 0), LONDON)  # Friday
    assert friday_night.is_active(_london(2024, 5, 4, 5, 0), LONDON)  # Saturday morning
    assert not friday_night.is_active(_london(2024, 5, 2, 23, 0), LONDON)  # Thursday
    assert not friday_night.is_active(_london(2024, 5, 3, 5, 0), LONDON)  # Friday morning


def test_equal_start_and_end_is_the_whole_day() -> None:
    weekends = _windows(TimeWindow(days=[5, 6], start=time(0), end=time(0)))
    assert weekends.is_active(_london(2024, 5, 4, 0, 0), LONDON)  # Saturday
    assert weekends.is_active(_london(2024, 5, 5, 23, 59), LONDON)  # Sunday
    assert not weekends.is_active(_london(2024, 5, 6, 0, 0), LONDON)  # Monday
    assert not weekends.is_active(_london(2024, 5, 3, 12, 0), LONDON)  # Friday


def test_windows_use_the_space_timezone() -> None:
    # 23:30 UTC is 00:30 in Paris (inside) and 19:30 in New York (outside).
    late = _windows(TimeWindow(start=time(0), end=time(6)))
    at = _utc(2024, 1, 10, 23, 30)
    assert late.is_active(at, ZoneInfo("Europe/Paris"))
    assert not late.is_active(at, ZoneInfo("America/New_York"))


def test_always_is_always_active() -> None:
    assert Schedule().is_active(_utc(2024, 1, 1, 12, 0), LONDON)


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        OVERNIGHT.is_active(datetime(2024, 1, 1, 23, 0), LONDON)


def test_night_follows_the_sun_at_a_known_location() -> None:
    # London, 21 June 2024: sunset about 21:21 BST, sunrise about 04:43 BST.
    night = Schedule(kind="night")
    assert not night.is_active(_london(2024, 6, 21, 21, 0), LONDON, LONDON_LOCATION)
    assert night.is_active(_london(2024, 6, 21, 21, 40), LONDON, LONDON_LOCATION)
    assert night.is_active(_london(2024, 6, 22, 4, 30), LONDON, LONDON_LOCATION)
    assert not night.is_active(_london(2024, 6, 22, 5, 0), LONDON, LONDON_LOCATION)


def test_night_without_a_location_is_20_to_6() -> None:
    night = Schedule(kind="night")
    assert night.is_active(_london(2024, 6, 21, 21, 0), LONDON)
    assert not night.is_active(_london(2024, 6, 21, 19, 59), LONDON)
    assert night.is_active(_london(2024, 6, 22, 5, 59), LONDON)
    assert not night.is_active(_london(2024, 6, 22, 6, 0), LONDON)


def test_night_days_are_the_days_the_night_starts() -> None:
    weekend_nights = Schedule(kind="night", days=[5, 6])
    assert weekend_nights.is_active(_london(2024, 5, 4, 23, 0), LONDON)  # Saturday night
    assert weekend_nights.is_active(_london(2024, 5, 6, 3, 0), LONDON)  # Sunday's night
    assert not weekend_nights.is_active(_london(2024, 5, 3, 23, 0), LONDON)  # Friday night
    assert not weekend_nights.is_active(_london(2024, 5, 7, 3, 0), LONDON)  # Monday's night


@pytest.mark.parametrize(
    ("at", "active"),
    [
        (datetime(2024, 6, 21, 23, 0, tzinfo=SVALBARD), True),  # midnight sun: fallback
        (datetime(2024, 6, 21, 12, 0, tzinfo=SVALBARD), False),
        (datetime(2024, 12, 21, 12, 0, tzinfo=SVALBARD), False),  # polar night: fallback
        (datetime(2024, 12, 21, 21, 0, tzinfo=SVALBARD), True),
    ],
)
def test_polar_day_and_night_fall_back_to_20_to_6(at: datetime, active: bool) -> None:
    assert Schedule(kind="night").is_active(at, SVALBARD, SVALBARD_LOCATION) is active


def test_day_is_sunrise_to_sunset() -> None:
    day = Schedule(kind="day")
    assert day.is_active(_london(2024, 6, 21, 5, 0), LONDON, LONDON_LOCATION)
    assert not day.is_active(_london(2024, 6, 21, 21, 30), LONDON, LONDON_LOCATION)
    assert not day.is_active(_london(2024, 6, 21, 5, 0), LONDON)  # fallback 06:00-20:00


def test_windows_keep_wall_clock_time_on_the_spring_dst_change() -> None:
    # Europe/London, 31 March 2024: 01:00 GMT becomes 02:00 BST.
    assert OVERNIGHT.is_active(_utc(2024, 3, 31, 0, 30), LONDON)  # 00:30 GMT
    assert OVERNIGHT.is_active(_utc(2024, 3, 31, 4, 30), LONDON)  # 05:30 BST
    assert not OVERNIGHT.is_active(_utc(2024, 3, 31, 5, 30), LONDON)  # 06:30 BST
    assert not OVERNIGHT.is_active(_utc(2024, 3, 31, 20, 30), LONDON)  # 21:30 BST
    assert OVERNIGHT.is_active(_utc(2024, 3, 31, 21, 30), LONDON)  # 22:30 BST


def test_windows_keep_wall_clock_time_on_the_autumn_dst_change() -> None:
    # Europe/London, 27 October 2024: 01:00-02:00 happens twice.
    one_am = _windows(TimeWindow(start=time(1), end=time(2)))
    assert one_am.is_active(_utc(2024, 10, 27, 0, 30), LONDON)  # 01:30 BST
    assert one_am.is_active(_utc(2024, 10, 27, 1, 30), LONDON)  # 01:30 GMT
    assert not one_am.is_active(_utc(2024, 10, 27, 2, 30), LONDON)  # 02:30 GMT


def test_night_on_the_dst_change_day_uses_local_sunset() -> None:
    # Sunset in London on 31 March 2024 is about 19:32 BST (18:32 UTC).
    night = Schedule(kind="night")
    assert not night.is_active(_utc(2024, 3, 31, 18, 20), LONDON, LONDON_LOCATION)
    assert night.is_active(_utc(2024, 3, 31, 18, 45), LONDON, LONDON_LOCATION)
