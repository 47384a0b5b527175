"""What reviews teach a guard: confidence thresholds per object label and zone.

Each ``false_alarm`` review raises the threshold for its catch's label and zone to just above
that catch's confidence, so an equally confident detection there no longer fires; each
``confirmed`` review sets a ceiling at its catch's confidence, so tuning never silences a kind
of catch a person said was real. The threshold used is::

    max(rule.min_confidence, min(highest false-alarm confidence + STEP, lowest confirmed))

Stored in ``guard.tuning`` as ``{"<label>|<zone or *>": {"false_alarm_max": c,
"confirmed_min": c, "false_alarms": n, "confirmed": n}}`` and shown in the guard's stats.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orin.guards.rule import Rule

STEP = 0.05
"""How far above a false alarm's confidence the threshold moves."""
MAX_THRESHOLD = 0.95
ANY_ZONE = "*"


def tuning_key(label: str, zone: str | None) -> str:
    return f"{label}|{zone or ANY_ZONE}"


def learnt_threshold(entry: Mapping[str, Any]) -> float:
    """The threshold one tuning entry asks for (0 when it has no false alarms)."""
    false_alarm = entry.get("false_alarm_max")
    if false_alarm is None:
        return 0.0
    threshold = min(MAX_THRESHOLD, float(false_alarm) + STEP)
    confirmed = entry.get("confirmed_min")
    if confirmed is not None:
        threshold = min(threshold, float(confirmed))
    return threshold


def threshold_for(rule: Rule, tuning: Mapping[str, Any], label: str, zone: str | None) -> float:
    """The confidence a catch of ``label`` in ``zone`` needs under this guard."""
    entry = tuning.get(tuning_key(label, zone))
    learnt = learnt_threshold(entry) if isinstance(entry, Mapping) else 0.0
    return max(rule.min_confidence, learnt)


def with_feedback(
    tuning: Mapping[str, Any], label: str, zone: str | None, confidence: float, confirmed: bool
) -> dict[str, Any]:
    """A new tuning dict with one review of a catch (``confirmed`` or a false alarm) applied."""
    key = tuning_key(label, zone)
    entry = dict(tuning.get(key) or {})
    if confirmed:
        previous = entry.get("confirmed_min")
        entry["confirmed_min"] = confidence if previous is None else min(previous, confidence)
        entry["confirmed"] = int(entry.get("confirmed", 0)) + 1
    else:
        previous = entry.get("false_alarm_max")
        entry["false_alarm_max"] = confidence if previous is None else max(previous, confidence)
        entry["false_alarms"] = int(entry.get("false_alarms", 0)) + 1
    return {**tuning, key: entry}


def thresholds(rule: Rule, tuning: Mapping[str, Any]) -> dict[str, float]:
    """Every learnt ``label|zone`` threshold in force (for guard stats)."""
    result: dict[str, float] = {}
    for key, entry in tuning.items():
        if isinstance(entry, Mapping):
            result[key] = round(max(rule.min_confidence, learnt_threshold(entry)), 4)
    return result
