"""Guard evaluation: which tracked objects satisfy which guard's rule, right now.

The same code judges live tracks (ingest) and stored ones (backtests): it sees objects only as
`ObjectView` — label, aggregated confidence, normalised box, first seen, still since — and
keeps per guard what time alone decides (zone entry for dwell, cooldown, objects already
caught). A guard catches an object once; after a catch it waits ``cooldown_s`` before the
next one on this camera.

Zones are tested with the object's ground point (bottom centre of its box): a person whose
head is over the porch but whose feet are on the path is on the path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from orin.cameras.geometry import Zone
from orin.guards.rule import Rule
from orin.guards.tuning import threshold_for

LEFT_OBJECT_WARMUP_S = 10.0
"""Objects first seen this soon after watching began were already there, not left."""
ZONE_EXIT_GRACE_S = 2.0
"""An object out of its zone this briefly (a detection jitter) keeps its dwell time."""


@dataclass(frozen=True, slots=True)
class ObjectView:
    """A tracked object as guards see it at one instant."""

    track_id: str
    label: str
    confidence: float
    box: tuple[float, float, float, float]
    """x1, y1, x2, y2 in normalised frame coordinates."""
    first_seen: float
    stationary_since: float | None = None

    @property
    def ground(self) -> tuple[float, float]:
        x1, _, x2, y2 = self.box
        return ((x1 + x2) / 2, y2)

    @property
    def area(self) -> float:
        x1, y1, x2, y2 = self.box
        return max(0.0, x2 - x1) * max(0.0, y2 - y1)


@dataclass(frozen=True, slots=True)
class GuardSpec:
    """One guard as evaluated on one camera."""

    guard_id: str
    rule: Rule
    tuning: Mapping[str, Any]
    timezone: ZoneInfo
    location: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """A guard satisfied: what a catch is made of."""

    guard_id: str
    track_id: str
    label: str
    confidence: float
    zone: str | None
    box: tuple[float, float, float, float]
    at: float
    dwell_s: float
    count: int
    """Objects satisfying the rule at that instant (the one caught among them)."""


@dataclass(slots=True)
class _GuardMemory:
    entered: dict[tuple[str, str | None], float] = field(default_factory=dict)
    last_inside: dict[tuple[str, str | None], float] = field(default_factory=dict)
    caught: set[str] = field(default_factory=set)
    last_catch: float | None = None
    held: set[str] = field(default_factory=set)
    """Objects that satisfied the rule during a cooldown (counted once each)."""


@dataclass(frozen=True, slots=True)
class _Candidate:
    view: ObjectView
    zone: str | None
    dwell_s: float


class CameraEvaluator:
    """Evaluates the guards watching one camera, instant by instant (times in epoch seconds)."""

    def __init__(self, zones: Sequence[Zone], *, started_at: float) -> None:
        self.zones = {zone.name.casefold(): zone for zone in zones}
        self.started_at = started_at
        self._memory: dict[str, _GuardMemory] = {}

    def suppressed(self, guard_id: str) -> int:
        """Matches this guard's cooldown held back so far."""
        memory = self._memory.get(guard_id)
        return len(memory.held) if memory else 0

    def evaluate(
        self, guards: Iterable[GuardSpec], objects: Sequence[ObjectView], now: float
    ) -> list[Match]:
        """The catches due at ``now`` for ``objects`` (the tracks visible at that instant)."""
        matches: list[Match] = []
        for guard in guards:
            memory = self._memory.setdefault(guard.guard_id, _GuardMemory())
            candidates = self._candidates(guard, memory, objects, now)
            matches.extend(self._decide(guard, memory, candidates, now))
        return matches

    def undo(self, match: Match) -> None:
        """Take back a match whose catch could not be stored, so a later frame tries again."""
        memory = self._memory.get(match.guard_id)
        if memory is not None:
            memory.caught.discard(match.track_id)
            memory.last_catch = None

    def forget(self, track_ids: Iterable[str]) -> None:
        """Drop what is remembered about ended tracks (dwell, zone entries)."""
        gone = set(track_ids)
        for memory in self._memory.values():
            for key in [key for key in memory.entered if key[0] in gone]:
                memory.entered.pop(key, None)
                memory.last_inside.pop(key, None)

    def _zone_of(self, rule: Rule, view: ObjectView) -> tuple[bool, str | None]:
        if not rule.zones:
            return True, None
        for name in rule.zones:
            zone = self.zones.get(name.casefold())
            if zone is not None and zone.contains(view.ground):
                return True, zone.name
        return False, None

    def _candidates(
        self,
        guard: GuardSpec,
        memory: _GuardMemory,
        objects: Sequence[ObjectView],
        now: float,
    ) -> list[_Candidate]:
        rule = guard.rule
        wanted = {str(kind) for kind in rule.objects}
        result: list[_Candidate] = []
        for view in objects:
            if view.label not in wanted or view.area < rule.min_size:
                continue
            inside, zone = self._zone_of(rule, view)
            key = (view.track_id, zone)
            if not inside:
                continue
            last = memory.last_inside.get(key)
            if last is None or now - last > ZONE_EXIT_GRACE_S:
                memory.entered[key] = now
            memory.last_inside[key] = now
            if view.confidence < threshold_for(rule, guard.tuning, view.label, zone):
                continue
            dwell = now - memory.entered[key]
            if rule.left_object:
                if view.first_seen < self.started_at + LEFT_OBJECT_WARMUP_S:
                    continue
                if view.stationary_since is None:
                    continue
                dwell = now - max(view.stationary_since, memory.entered[key])
            if dwell < rule.min_dwell_s:
                continue
            result.append(_Candidate(view, zone, dwell))
        return result

    def _decide(
        self,
        guard: GuardSpec,
        memory: _GuardMemory,
        candidates: list[_Candidate],
        now: float,
    ) -> list[Match]:
        rule = guard.rule
        instant = datetime.fromtimestamp(now, UTC)
        if not rule.schedule.is_active(instant, guard.timezone, guard.location):
            return []
        if rule.count is not None:
            if not rule.count.matches(len(candidates)) or not candidates:
                return []
            fresh = [c for c in candidates if c.view.track_id not in memory.caught]
            if not fresh:
                return []
            chosen = [max(fresh, key=lambda c: c.view.confidence)]
        else:
            chosen = [c for c in candidates if c.view.track_id not in memory.caught]
        if not chosen:
            return []
        if memory.last_catch is not None and now - memory.last_catch < rule.cooldown_s:
            # Held back; an object still satisfying the rule when the cooldown ends is caught.
            memory.held.update(c.view.track_id for c in chosen)
            return []
        memory.last_catch = now
        # With a cooldown, one catch per instant: the others wait like any later object.
        first, rest = chosen[0], chosen[1:] if rule.cooldown_s == 0 else []
        memory.caught.update(c.view.track_id for c in [first, *rest])
        if rule.cooldown_s > 0:
            memory.held.update(c.view.track_id for c in chosen[1:])
        return [
            Match(
                guard_id=guard.guard_id,
                track_id=c.view.track_id,
                label=c.view.label,
                confidence=c.view.confidence,
                zone=c.zone,
                box=c.view.box,
                at=now,
                dwell_s=round(c.dwell_s, 2),
                count=len(candidates),
            )
            for c in [first, *rest]
        ]
