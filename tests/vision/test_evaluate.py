"""Guard evaluation on tracked objects: classes, zones, schedule, dwell, counts, left objects,
confidence (with learnt thresholds), size and cooldown."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from orin.cameras.geometry import Zone
from orin.guards.rule import Rule
from orin.guards.tuning import threshold_for, thresholds, with_feedback
from orin.vision.evaluate import (
    LEFT_OBJECT_WARMUP_S,
    CameraEvaluator,
    GuardSpec,
    Match,
    ObjectView,
)

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC).timestamp()
PORCH = Zone(name="Porch", polygon=[(0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (0.0, 1.0)])
UTC_ZONE = ZoneInfo("UTC")


def spec(tuning: dict[str, Any] | None = None, **rule: Any) -> GuardSpec:
    return GuardSpec(
        guard_id="g1",
        rule=Rule.model_validate({"objects": ["person"], **rule}),
        tuning=tuning or {},
        timezone=UTC_ZONE,
    )


def person(
    track: str = "t1",
    *,
    x: float = 0.2,
    y: float = 0.9,
    confidence: float = 0.8,
    label: str = "person",
    first_seen: float = T0,
    size: float = 0.1,
    still_since: float | None = None,
) -> ObjectView:
    """An object whose ground point (bottom centre) is at (x, y)."""
    return ObjectView(
        track_id=track,
        label=label,
        confidence=confidence,
        box=(x - size / 2, y - size * 2, x + size / 2, y),
        first_seen=first_seen,
        stationary_since=still_since,
    )


def run(
    guard: GuardSpec,
    frames: Sequence[tuple[float, Sequence[ObjectView]]],
    zones: Sequence[Zone] = (PORCH,),
    started_at: float = T0,
) -> list[Match]:
    evaluator = CameraEvaluator(zones, started_at=started_at)
    matches: list[Match] = []
    for t, objects in frames:
        matches.extend(evaluator.evaluate([guard], objects, t))
    return matches


def test_a_person_in_the_zone_is_caught_once() -> None:
    frames = [(T0 + i * 0.2, [person()]) for i in range(20)]
    matches = run(spec(zones=["Porch"]), frames)
    assert len(matches) == 1
    assert (matches[0].zone, matches[0].label, matches[0].track_id) == ("Porch", "person", "t1")


def test_zone_uses_the_ground_point() -> None:
    # Feet on the path (y 0.4, above the porch), body reaching into it: not on the porch.
    frames = [(T0 + i, [person(y=0.45, size=0.3)]) for i in range(5)]
    assert run(spec(zones=["porch"]), frames) == []
    inside = [(T0 + i, [person(y=0.6, size=0.3)]) for i in range(5)]
    assert len(run(spec(zones=["porch"]), inside)) == 1  # zone names ignore case


def test_other_classes_small_boxes_and_low_confidence_are_ignored() -> None:
    frames = [(T0 + i, [person(label="dog")]) for i in range(5)]
    assert run(spec(), frames) == []
    assert run(spec(min_size=0.05), [(T0, [person(size=0.1)])]) == []  # area 0.02
    assert len(run(spec(min_size=0.01), [(T0, [person(size=0.1)])])) == 1
    assert run(spec(min_confidence=0.9), [(T0, [person(confidence=0.85)])]) == []


def test_dwell_counts_from_entering_the_zone() -> None:
    guard = spec(zones=["Porch"], min_dwell_s=3)
    outside = [(T0 + i * 0.5, [person(x=0.8)]) for i in range(10)]
    inside = [(T0 + 5 + i * 0.5, [person()]) for i in range(10)]
    matches = run(guard, [*outside, *inside])
    assert len(matches) == 1
    assert matches[0].at == pytest.approx(T0 + 8)
    assert matches[0].dwell_s == pytest.approx(3.0)


def test_leaving_the_zone_resets_dwell_but_a_short_jitter_does_not() -> None:
    guard = spec(zones=["Porch"], min_dwell_s=4)
    frames = [(T0 + i, [person()]) for i in range(3)]
    frames += [(T0 + 3.5, [person(x=0.8)])]  # 1.5 s out: within the grace, dwell kept
    frames += [(T0 + 4 + i, [person()]) for i in range(2)]
    assert len(run(guard, frames)) == 1
    long_exit = [(T0 + i, [person()]) for i in range(3)]
    long_exit += [(T0 + 3 + i, [person(x=0.8)]) for i in range(4)]
    long_exit += [(T0 + 7 + i, [person()]) for i in range(3)]
    assert run(guard, long_exit) == []


def test_schedule_excludes_times_outside_the_windows() -> None:
    night = {"kind": "windows", "windows": [{"start": "22:00", "end": "06:00"}]}
    frames = [(T0 + i, [person()]) for i in range(5)]  # 12:00 UTC
    assert run(spec(schedule=night), frames) == []
    late = datetime(2026, 11, 24, 23, 0, tzinfo=UTC).timestamp()
    assert len(run(spec(schedule=night), [(late + i, [person()]) for i in range(5)])) == 1


def test_schedule_uses_the_space_timezone() -> None:
    evening = {"kind": "windows", "windows": [{"start": "18:00", "end": "20:00"}]}
    guard = GuardSpec("g1", Rule.model_validate({"objects": ["person"], "schedule": evening}),
                      {}, ZoneInfo("Asia/Kolkata"))  # fmt: skip
    # 12:00 UTC is 17:30 in Kolkata: not yet; 13:00 UTC is 18:30: armed.
    assert run(guard, [(T0, [person()])]) == []
    assert len(run(guard, [(T0 + 3600, [person()])])) == 1


def test_cooldown_holds_back_a_second_object_until_it_ends() -> None:
    guard = spec(cooldown_s=10)
    frames = [(T0 + i, [person("a")]) for i in range(3)]
    frames += [(T0 + 3 + i, [person("a"), person("b", x=0.3)]) for i in range(10)]
    matches = run(guard, frames)
    assert [(m.track_id, m.at) for m in matches] == [("a", T0), ("b", T0 + 10)]


def test_cooldown_zero_catches_every_object() -> None:
    matches = run(spec(cooldown_s=0), [(T0, [person("a"), person("b", x=0.3)])])
    assert sorted(m.track_id for m in matches) == ["a", "b"]


def test_count_threshold_needs_enough_objects_at_once() -> None:
    guard = spec(count={"op": "gte", "value": 3}, cooldown_s=0)
    two = [person("a", x=0.1), person("b", x=0.2)]
    three = [*two, person("c", x=0.3, confidence=0.95)]
    assert run(guard, [(T0, two), (T0 + 1, two)]) == []
    matches = run(guard, [(T0, two), (T0 + 1, three)])
    assert len(matches) == 1
    assert (matches[0].track_id, matches[0].count) == ("c", 3)


def test_left_object_needs_a_new_still_object_for_the_dwell() -> None:
    guard = GuardSpec(
        "g1",
        Rule.model_validate({"objects": ["package"], "left_object": True, "min_dwell_s": 5}),
        {},
        UTC_ZONE,
    )
    arrive = T0 + LEFT_OBJECT_WARMUP_S + 5
    box = [
        (arrive + i, [person("box", label="package", first_seen=arrive, still_since=arrive + 1)])
        for i in range(10)
    ]
    matches = run(guard, box)
    assert len(matches) == 1
    assert matches[0].at == pytest.approx(arrive + 6)
    # Already there when watching began: not left.
    old = [
        (T0 + i, [person("old", label="package", first_seen=T0, still_since=T0)]) for i in range(30)
    ]
    assert run(guard, old) == []
    # Moving (never still): not left.
    moving = [(arrive + i, [person("m", label="package", first_seen=arrive)]) for i in range(10)]
    assert run(guard, moving) == []


def test_false_alarm_raises_the_threshold_and_confirmation_caps_it() -> None:
    rule = Rule.model_validate({"objects": ["person"], "zones": ["Porch"]})
    tuning = with_feedback({}, "person", "Porch", 0.7, confirmed=False)
    assert threshold_for(rule, tuning, "person", "Porch") == pytest.approx(0.75)
    assert threshold_for(rule, tuning, "person", None) == rule.min_confidence
    guard = spec(tuning, zones=["Porch"])
    assert run(guard, [(T0, [person(confidence=0.72)])]) == []
    assert len(run(guard, [(T0, [person(confidence=0.8)])])) == 1
    capped = with_feedback(tuning, "person", "Porch", 0.72, confirmed=True)
    assert threshold_for(rule, capped, "person", "Porch") == pytest.approx(0.72)
    assert thresholds(rule, capped) == {"person|Porch": pytest.approx(0.72)}
    assert capped["person|Porch"]["false_alarms"] == 1
    assert capped["person|Porch"]["confirmed"] == 1
