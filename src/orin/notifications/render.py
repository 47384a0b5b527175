"""What people read: a `Notice` for one catch, or for the digest of catches held in quiet hours.

Rendering is pure and channel-neutral: titles and bodies are short plain text, times in them are
in the user's time zone (24-hour clock, weekday names in English so the machine's locale never
matters), and ``extra["timezone"]`` tells channels which zone to format any other time in.
Naive datetimes are read as UTC, the convention for every ``*_at`` in ORIN.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orin.notifications.notice import SEVERITY_RANK, CatchSummary, Notice

__all__ = ["DIGEST_LIST_LIMIT", "render_catch", "render_digest"]

"""Higher is more severe; an unknown severity ranks below ``info``."""

DIGEST_LIST_LIMIT: Final = 5
"""How many catches (and cameras) a digest lists before "and N more"."""

_WEEKDAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def render_catch(
    key: str, catch: CatchSummary, *, snapshot: bytes | None = None, timezone: str = "UTC"
) -> Notice:
    """The notice for one catch: "Person at Front door — Yard watch", linking to its event."""
    zone = _zone(timezone)
    label = _label(catch.label)
    body = (
        f"{catch.guard_name} caught {_article(label)} {label.lower()} at {catch.camera_name} "
        f"({catch.space_name}) at {_clock(catch.occurred_at, zone)}, "
        f"{catch.confidence:.0%} confidence."
    )
    return Notice(
        key=key,
        kind="catch",
        title=f"{label} at {catch.camera_name} — {catch.guard_name}",
        body=body,
        link=catch.link,
        catches=(catch,),
        severity=catch.severity,
        snapshot=snapshot,
        extra={"timezone": timezone},
    )


def render_digest(
    key: str,
    catches: Sequence[CatchSummary],
    *,
    window_start: datetime,
    window_end: datetime,
    timezone: str,
    events_link: str,
    snapshot: bytes | None = None,
    limit: int = DIGEST_LIST_LIMIT,
) -> Notice:
    """The notice for the catches held from ``window_start`` to ``window_end``.

    The body gives the quiet period, a count per camera and label, then the catches most severe
    first and newest first within a severity, at most ``limit`` of them and "and N more". The
    notice's catches are in that order, its severity is the most severe one, and its link is
    ``events_link`` (the events page). Raises ValueError when there is no catch.
    """
    if not catches:
        raise ValueError("a digest needs at least one catch")
    if limit < 1:
        raise ValueError("limit must be at least 1")
    zone = _zone(timezone)
    ordered = sorted(catches, key=lambda catch: -_utc(catch.occurred_at).timestamp())
    ordered.sort(key=lambda catch: -_rank(catch.severity))
    long_window = _utc(window_end) - _utc(window_start) >= timedelta(hours=24)
    several_spaces = len({catch.space_id for catch in ordered}) > 1

    def camera(catch: CatchSummary) -> str:
        return f"{catch.camera_name} ({catch.space_name})" if several_spaces else catch.camera_name

    lines = [
        f"Held from {_clock(window_start, zone, long_window)} "
        f"to {_clock(window_end, zone, long_window)}."
    ]
    lines += _breakdown(ordered, camera, limit)
    lines.append("")
    for catch in ordered[:limit]:
        line = (
            f"{_clock(catch.occurred_at, zone, long_window)} {_label(catch.label)} "
            f"at {camera(catch)} — {catch.guard_name}"
        )
        if _rank(catch.severity) > SEVERITY_RANK["info"]:
            line += f" ({catch.severity})"
        lines.append(line)
    if len(ordered) > limit:
        lines.append(f"and {len(ordered) - limit} more")
    count = len(ordered)
    return Notice(
        key=key,
        kind="digest",
        title=f"{count} {'catch' if count == 1 else 'catches'} during quiet hours",
        body="\n".join(lines),
        link=events_link,
        catches=tuple(ordered),
        severity=ordered[0].severity,
        snapshot=snapshot,
        extra={
            "timezone": timezone,
            "window_start": _utc(window_start).isoformat(),
            "window_end": _utc(window_end).isoformat(),
        },
    )


def _breakdown(
    ordered: Sequence[CatchSummary], camera: Callable[[CatchSummary], str], limit: int
) -> list[str]:
    """One line per camera, busiest first: "Front door: person (3), car (1)"."""
    labels: dict[str, Counter[str]] = {}
    names: dict[str, str] = {}
    for catch in ordered:
        key = f"{catch.space_id}/{catch.camera_id}"
        labels.setdefault(key, Counter())[catch.label] += 1
        names[key] = camera(catch)
    busiest = sorted(labels, key=lambda key: (-labels[key].total(), names[key].casefold()))
    lines = []
    for key in busiest[:limit]:
        counts = sorted(labels[key].items(), key=lambda item: (-item[1], item[0]))
        parts = ", ".join(f"{_label(label).lower()} ({number})" for label, number in counts)
        lines.append(f"{names[key]}: {parts}")
    if len(busiest) > limit:
        lines.append(f"and {len(busiest) - limit} more cameras")
    return lines


def _rank(severity: str) -> int:
    return SEVERITY_RANK.get(severity, -1)


def _label(label: str) -> str:
    """``license_plate`` → ``License plate``."""
    words = label.replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else "Object"


def _article(word: str) -> str:
    return "an" if word[:1].lower() in ("a", "e", "i", "o", "u") else "a"


def _clock(moment: datetime, zone: ZoneInfo, with_day: bool = False) -> str:
    """``22:41``, or ``Sat 22:41`` with the weekday, in ``zone``."""
    local = _utc(moment).astimezone(zone)
    clock = f"{local.hour:02d}:{local.minute:02d}"
    return f"{_WEEKDAYS[local.weekday()]} {clock}" if with_day else clock


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
