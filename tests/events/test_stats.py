"""Event counts per local hour and day: half-hour offsets, DST changes, splits, access."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from orin.events.stats import bucket_end, bucket_start
from orin.models.event import EventKind
from tests.events.helpers import add_event, add_guard, space_with_camera
from tests.fixtures.api import Api, Person

URL = "/api/v1/events/stats"
PARIS = ZoneInfo("Europe/Paris")
KOLKATA = ZoneInfo("Asia/Kolkata")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_bucket_starts_follow_the_local_clock() -> None:
    # 17:45Z is 23:15 in Kolkata: its hour starts at 17:30Z, its day at 18:30Z the day before.
    assert bucket_start(utc(2026, 3, 10, 17, 45), KOLKATA, "hour") == utc(2026, 3, 10, 17, 30)
    assert bucket_start(utc(2026, 3, 10, 17, 45), KOLKATA, "day") == utc(2026, 3, 9, 18, 30)
    # Nepal is +05:45.
    nepal = ZoneInfo("Asia/Kathmandu")
    assert bucket_start(utc(2026, 3, 10, 0, 0), nepal, "hour") == utc(2026, 3, 9, 23, 15)
    # Paris, clocks back on 2026-10-25 at 01:00Z: 02:xx local happens twice, as two hours.
    first = bucket_start(utc(2026, 10, 25, 0, 30), PARIS, "hour")
    second = bucket_start(utc(2026, 10, 25, 1, 30), PARIS, "hour")
    assert (first, second) == (utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 1, 0))
    assert first.astimezone(PARIS).isoformat() == "2026-10-25T02:00:00+02:00"
    assert second.astimezone(PARIS).isoformat() == "2026-10-25T02:00:00+01:00"
    day = bucket_start(utc(2026, 10, 25, 12), PARIS, "day")
    assert bucket_end(day, PARIS, "day") - day == timedelta(hours=25)
    spring = bucket_start(utc(2026, 3, 29, 12), PARIS, "day")
    assert bucket_end(spring, PARIS, "day") - spring == timedelta(hours=23)


async def _stats(person: Person, space_id: str, **params: str) -> dict[str, Any]:
    response = await person.get(URL, params={"space_id": space_id, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _nonzero(body: dict[str, Any]) -> dict[str, int]:
    return {b["start"]: b["total"] for b in body["buckets"] if b["total"]}


async def test_kolkata_half_hour_offset(api: Api) -> None:
    alice = await api.sign_up()
    space_id, camera_id = await space_with_camera(alice, timezone="Asia/Kolkata")
    for at in (utc(2026, 3, 10, 18, 25), utc(2026, 3, 10, 18, 29, 59), utc(2026, 3, 10, 18, 35)):
        await add_event(api, space_id, camera_id, started_at=at)

    window = {"since": "2026-03-10T00:00:00+05:30", "until": "2026-03-12T00:00:00+05:30"}
    days = await _stats(alice, space_id, bucket="day", **window)
    assert days["timezone"] == "Asia/Kolkata"
    assert [(b["start"], b["total"]) for b in days["buckets"]] == [
        ("2026-03-10T00:00:00+05:30", 2),
        ("2026-03-11T00:00:00+05:30", 1),
    ]
    assert days["total"] == 3
    hours = await _stats(alice, space_id, bucket="hour", **window)
    assert len(hours["buckets"]) == 48
    assert _nonzero(hours) == {"2026-03-10T23:00:00+05:30": 2, "2026-03-11T00:00:00+05:30": 1}


async def test_paris_across_dst_changes(api: Api) -> None:
    alice = await api.sign_up()
    space_id, camera_id = await space_with_camera(alice, timezone="Europe/Paris")
    for at in (
        utc(2026, 10, 25, 0, 30),  # 02:30+02:00
        utc(2026, 10, 25, 1, 30),  # 02:30+01:00, the same wall clock an hour later
        utc(2026, 10, 25, 22, 59),  # 23:59+01:00, still the 25th
        utc(2026, 10, 25, 23, 0),  # 00:00+01:00 on the 26th
    ):
        await add_event(api, space_id, camera_id, started_at=at)

    window = {"since": "2026-10-25T00:00:00+02:00", "until": "2026-10-27T00:00:00+01:00"}
    hours = await _stats(alice, space_id, bucket="hour", **window)
    assert len(hours["buckets"]) == 49  # a 25-hour day and a 24-hour day
    assert _nonzero(hours) == {
        "2026-10-25T02:00:00+02:00": 1,
        "2026-10-25T02:00:00+01:00": 1,
        "2026-10-25T23:00:00+01:00": 1,
        "2026-10-26T00:00:00+01:00": 1,
    }
    days = await _stats(alice, space_id, bucket="day", **window)
    assert [(b["start"], b["end"], b["total"]) for b in days["buckets"]] == [
        ("2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00", 3),
        ("2026-10-26T00:00:00+01:00", "2026-10-27T00:00:00+01:00", 1),
    ]

    await add_event(api, space_id, camera_id, started_at=utc(2026, 3, 29, 1, 30))  # 03:30+02:00
    spring = await _stats(
        alice,
        space_id,
        bucket="hour",
        since="2026-03-29T00:00:00+01:00",
        until="2026-03-29T05:00:00+02:00",
    )
    assert [b["start"] for b in spring["buckets"]] == [
        "2026-03-29T00:00:00+01:00",
        "2026-03-29T01:00:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T04:00:00+02:00",
    ]
    assert _nonzero(spring) == {"2026-03-29T03:00:00+02:00": 1}


async def test_counts_split_by_label_camera_and_guard(api: Api) -> None:
    alice, mallory = await api.sign_up(), await api.sign_up()
    space_id, front = await space_with_camera(alice, timezone="UTC")
    back = (await alice.create_camera(space_id, name="Back yard"))["id"]
    guard = await add_guard(api, space_id, "Pets")
    at = utc(2026, 3, 10, 10)
    await add_event(api, space_id, front, started_at=at)
    await add_event(api, space_id, back, label="dog", guard_id=guard, started_at=at)
    await add_event(api, space_id, back, label="dog", started_at=at + timedelta(minutes=20))
    await add_event(api, space_id, back, kind=EventKind.MOTION, label=None, started_at=at)
    window = {"since": "2026-03-10T00:00:00Z", "until": "2026-03-11T00:00:00Z", "bucket": "day"}

    by_label = await _stats(alice, space_id, by="label", **window)
    assert by_label["buckets"][0]["counts"] == {"person": 1, "dog": 2}
    assert by_label["total"] == 4
    by_camera = await _stats(alice, space_id, by="camera", **window)
    assert by_camera["buckets"][0]["counts"] == {front: 1, back: 3}
    assert by_camera["names"] == {front: "Front door", back: "Back yard"}
    by_guard = await _stats(alice, space_id, by="guard", **window)
    assert by_guard["buckets"][0]["counts"] == {guard: 1}
    assert by_guard["names"] == {guard: "Pets"}
    catches = await _stats(alice, space_id, kind="catch", **window)
    assert catches["total"] == 3

    assert (await mallory.get(URL, params={"space_id": space_id, **window})).status_code == 404
