"""Rendering notices: titles, bodies, severity, ordering, truncation and local times."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from orin.notifications.notice import CatchSummary, Notice
from orin.notifications.render import render_catch, render_digest

EVENTS = "https://orin.example/events"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


BASE = CatchSummary(
    event_id="evt-1",
    guard_id="grd-1",
    guard_name="Yard watch",
    camera_id="cam-1",
    camera_name="Front door",
    space_id="spc-1",
    space_name="Home",
    label="person",
    confidence=0.92,
    severity="info",
    occurred_at=utc(2024, 7, 5, 20, 41),
    link="https://orin.example/events/evt-1",
    snapshot_url="https://media.orin.example/evt-1.jpg?sig=abc",
)


def catch(**changes: Any) -> CatchSummary:
    """A catch like ``BASE`` with ``changes``; its link follows its event id."""
    event_id = changes.get("event_id", BASE.event_id)
    changes.setdefault("link", f"{EVENTS}/{event_id}")
    return dataclasses.replace(BASE, **changes)


# One catch.


def test_catch_notice_says_what_where_and_which_guard() -> None:
    notice = render_catch("ntf-1", BASE)
    assert notice.key == "ntf-1"
    assert notice.kind == "catch"
    assert notice.title == "Person at Front door — Yard watch"
    assert notice.body == (
        "Yard watch caught a person at Front door (Home) at 20:41, 92% confidence."
    )
    assert notice.link == BASE.link
    assert notice.catches == (BASE,)
    assert notice.severity == "info"
    assert notice.snapshot is None
    assert notice.extra == {"timezone": "UTC"}


@pytest.mark.parametrize(
    ("timezone", "clock"),
    [
        ("UTC", "20:41"),
        ("Europe/Paris", "22:41"),  # summer time, +02:00
        ("America/New_York", "16:41"),
        ("Asia/Kolkata", "02:11"),  # +05:30, past midnight
        ("Australia/Adelaide", "06:11"),  # +09:30 in the southern winter
    ],
)
def test_catch_time_is_in_the_users_zone(timezone: str, clock: str) -> None:
    notice = render_catch("ntf-1", BASE, timezone=timezone)
    assert f" at {clock}, " in notice.body
    assert notice.extra["timezone"] == timezone


def test_catch_severity_link_and_snapshot_pass_through() -> None:
    jpeg = b"\xff\xd8\xff\xe0fake"
    urgent = catch(severity="critical", event_id="evt-9")
    notice = render_catch("ntf-2", urgent, snapshot=jpeg, timezone="Europe/Paris")
    assert notice.severity == "critical"
    assert notice.link == f"{EVENTS}/evt-9"
    assert notice.snapshot == jpeg


@pytest.mark.parametrize(
    ("label", "title_start", "phrase"),
    [
        ("license_plate", "License plate at", "caught a license plate at"),
        ("umbrella", "Umbrella at", "caught an umbrella at"),
        ("car", "Car at", "caught a car at"),
    ],
)
def test_labels_read_as_words(label: str, title_start: str, phrase: str) -> None:
    notice = render_catch("ntf-1", catch(label=label))
    assert notice.title.startswith(title_start)
    assert phrase in notice.body


def test_naive_time_is_read_as_utc() -> None:
    naive = catch(occurred_at=datetime(2024, 7, 5, 20, 41))
    assert "at 22:41," in render_catch("ntf-1", naive, timezone="Europe/Paris").body


def test_unknown_timezone_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        render_catch("ntf-1", BASE, timezone="Mars/Olympus_Mons")


# Digests. The quiet night: Fri 5 Jul 2024 22:00 to Sat 07:00 in Paris (20:00 to 05:00 UTC).

NIGHT_START = utc(2024, 7, 5, 20)
NIGHT_END = utc(2024, 7, 6, 5)


def digest(catches: list[CatchSummary], **options: Any) -> Notice:
    options.setdefault("window_start", NIGHT_START)
    options.setdefault("window_end", NIGHT_END)
    options.setdefault("timezone", "Europe/Paris")
    options.setdefault("events_link", EVENTS)
    return render_digest("ntf-digest", catches, **options)


NIGHT = [
    catch(event_id="a", occurred_at=utc(2024, 7, 5, 20, 41)),
    catch(
        event_id="b",
        label="car",
        camera_id="cam-2",
        camera_name="Driveway",
        guard_name="Car watch",
        severity="warning",
        occurred_at=utc(2024, 7, 5, 23, 5),
    ),
    catch(event_id="c", severity="critical", occurred_at=utc(2024, 7, 6, 1, 10)),
    catch(event_id="d", occurred_at=utc(2024, 7, 6, 3)),
]


def test_digest_lists_breakdown_then_catches_most_severe_then_newest() -> None:
    notice = digest(NIGHT)
    assert notice.key == "ntf-digest"
    assert notice.kind == "digest"
    assert notice.title == "4 catches during quiet hours"
    assert notice.body == (
        "Held from 22:00 to 07:00.\n"
        "Front door: person (3)\n"
        "Driveway: car (1)\n"
        "\n"
        "03:10 Person at Front door — Yard watch (critical)\n"
        "01:05 Car at Driveway — Car watch (warning)\n"
        "05:00 Person at Front door — Yard watch\n"
        "22:41 Person at Front door — Yard watch"
    )
    assert [c.event_id for c in notice.catches] == ["c", "b", "d", "a"]
    assert notice.severity == "critical"
    assert notice.link == EVENTS


@pytest.mark.parametrize(
    ("severities", "expected"),
    [
        (["info", "warning", "info"], "warning"),
        (["info", "info"], "info"),
        (["warning", "critical", "info"], "critical"),
        (["critical"], "critical"),
        (["unheard-of", "info"], "info"),
    ],
)
def test_digest_severity_is_the_most_severe(severities: list[str], expected: str) -> None:
    catches = [
        catch(event_id=f"e{index}", severity=severity, occurred_at=utc(2024, 7, 5, 21, index))
        for index, severity in enumerate(severities)
    ]
    assert digest(catches).severity == expected


def test_same_severity_lists_newest_first_whatever_the_input_order() -> None:
    catches = [
        catch(event_id="old", occurred_at=utc(2024, 7, 5, 21)),
        catch(event_id="new", occurred_at=utc(2024, 7, 6, 4)),
        catch(event_id="mid", occurred_at=utc(2024, 7, 6, 0, 30)),
    ]
    assert [c.event_id for c in digest(catches).catches] == ["new", "mid", "old"]


def test_one_catch_is_singular() -> None:
    notice = digest([BASE])
    assert notice.title == "1 catch during quiet hours"
    assert notice.catches == (BASE,)
    assert not notice.body.splitlines()[-1].startswith("and ")


def test_long_digest_is_capped_with_and_n_more() -> None:
    catches = [
        catch(event_id=f"e{minute}", occurred_at=utc(2024, 7, 5, 21, minute)) for minute in range(8)
    ]
    notice = digest(catches)
    lines = notice.body.splitlines()
    listed = [line for line in lines if "— Yard watch" in line]
    assert listed == [
        f"23:0{minute} Person at Front door — Yard watch" for minute in (7, 6, 5, 4, 3)
    ]
    assert lines[-1] == "and 3 more"
    assert notice.title == "8 catches during quiet hours"
    assert len(notice.catches) == 8
    assert "Front door: person (8)" in lines


def test_limit_is_adjustable_and_exact_fit_has_no_more_line() -> None:
    catches = [
        catch(event_id=f"e{minute}", occurred_at=utc(2024, 7, 5, 21, minute)) for minute in range(3)
    ]
    assert not digest(catches, limit=3).body.endswith("more")
    assert digest(catches, limit=2).body.endswith("\nand 1 more")
    with pytest.raises(ValueError, match="limit"):
        digest(catches, limit=0)


def test_breakdown_counts_labels_per_camera_busiest_first() -> None:
    catches = [
        catch(event_id="1", camera_id="cam-2", camera_name="Garage", label="car"),
        catch(event_id="2", camera_id="cam-2", camera_name="Garage", label="person"),
        catch(event_id="3", camera_id="cam-2", camera_name="Garage", label="car"),
        catch(event_id="4", camera_id="cam-1", camera_name="Front door", label="dog"),
    ]
    lines = digest(catches).body.splitlines()
    assert lines[1:3] == ["Garage: car (2), person (1)", "Front door: dog (1)"]


def test_many_cameras_are_capped_in_the_breakdown() -> None:
    catches = [
        catch(event_id=f"e{index}", camera_id=f"cam-{index}", camera_name=f"Camera {index}")
        for index in range(7)
    ]
    lines = digest(catches, limit=5).body.splitlines()
    assert lines[6] == "and 2 more cameras"


def test_cameras_of_several_spaces_name_their_space() -> None:
    catches = [
        catch(event_id="1"),
        catch(
            event_id="2",
            space_id="spc-2",
            space_name="Warehouse 2",
            camera_id="cam-1",
            camera_name="Front door",
            occurred_at=utc(2024, 7, 5, 22),
        ),
    ]
    body = digest(catches).body
    assert "Front door (Home): person (1)" in body
    assert "Front door (Warehouse 2): person (1)" in body
    assert "00:00 Person at Front door (Warehouse 2) — Yard watch" in body


@pytest.mark.parametrize(
    ("timezone", "header", "first"),
    [
        ("UTC", "Held from 20:00 to 05:00.", "03:00 Person"),
        ("America/New_York", "Held from 16:00 to 01:00.", "23:00 Person"),
        ("Asia/Kolkata", "Held from 01:30 to 10:30.", "08:30 Person"),
    ],
)
def test_digest_times_are_in_the_users_zone(timezone: str, header: str, first: str) -> None:
    notice = digest([catch(occurred_at=utc(2024, 7, 6, 3))], timezone=timezone)
    lines = notice.body.splitlines()
    assert lines[0] == header
    assert lines[3].startswith(first)
    assert notice.extra == {
        "timezone": timezone,
        "window_start": "2024-07-05T20:00:00+00:00",
        "window_end": "2024-07-06T05:00:00+00:00",
    }


def test_a_digest_spanning_days_names_the_weekdays() -> None:
    notice = digest(
        [catch(occurred_at=utc(2024, 7, 6, 12, 15))],
        window_end=utc(2024, 7, 8, 5),  # Mon 07:00 in Paris
    )
    lines = notice.body.splitlines()
    assert lines[0] == "Held from Fri 22:00 to Mon 07:00."
    assert lines[3] == "Sat 14:15 Person at Front door — Yard watch"


def test_window_given_in_another_zone_is_reported_in_utc() -> None:
    start = datetime(2024, 7, 6, 0, tzinfo=ZoneInfo("Europe/Paris"))
    notice = digest([BASE], window_start=start)
    assert notice.extra["window_start"] == "2024-07-05T22:00:00+00:00"


def test_empty_digest_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one catch"):
        digest([])
