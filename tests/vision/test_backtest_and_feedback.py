"""Backtests over stored tracks, and reviews that tune a guard, through the API (both adapter
sets)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from orin.models.event import Event
from orin.models.track import Track
from tests.events.helpers import add_event
from tests.fixtures.api import Api, Person

T0 = datetime(2026, 3, 10, 22, 30, tzinfo=UTC)
PORCH = [[0.0, 0.5], [0.5, 0.5], [0.5, 1.0], [0.0, 1.0]]


async def porch_guard(person: Person, instruction: str) -> tuple[str, str, str]:
    space = await person.create_space(timezone="UTC")
    camera = await person.create_camera(space["id"], zones=[{"name": "Porch", "polygon": PORCH}])
    response = await person.post(
        "/api/v1/guards",
        json={
            "space_id": space["id"],
            "name": "Porch watch",
            "instruction": instruction,
            "camera_ids": [camera["id"]],
        },
    )
    assert response.status_code == 201, response.text
    return space["id"], camera["id"], response.json()["id"]


async def add_track(
    api: Api,
    camera_id: str,
    track_id: str,
    start: datetime,
    *,
    x: float,
    seconds: int = 10,
    label: str = "person",
    confidence: float = 0.8,
) -> None:
    """A track standing still with its feet at (x, 0.9), sampled twice a second."""
    path = [[t / 2, x - 0.05, 0.7, x + 0.05, 0.9, confidence] for t in range(seconds * 2)]
    async with api.database.transaction() as session:
        session.add(
            Track(
                id=track_id,
                camera_id=camera_id,
                label=label,
                first_seen=start,
                last_seen=start + timedelta(seconds=seconds),
                confidence=confidence,
                hits=len(path),
                path=path,
                ended=True,
            )
        )


def window(start: datetime, hours: float = 2) -> dict[str, Any]:
    return {"start": start.isoformat(), "end": (start + timedelta(hours=hours)).isoformat()}


async def test_backtest_replays_tracks_through_the_rule(api: Api) -> None:
    alice = await api.sign_up()
    _, camera, guard = await porch_guard(alice, "a person on the porch after 22:00")
    await add_track(api, camera, "on-porch", T0, x=0.2)
    await add_track(api, camera, "on-lawn", T0 + timedelta(minutes=5), x=0.8)
    await add_track(api, camera, "a-dog", T0 + timedelta(minutes=6), x=0.2, label="dog")
    await add_track(api, camera, "daytime", T0 - timedelta(hours=10), x=0.2)
    await add_track(api, camera, "second", T0 + timedelta(minutes=30), x=0.3)

    response = await alice.post(
        f"/api/v1/guards/{guard}/backtest", json=window(T0 - timedelta(hours=11), hours=12)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tracks_replayed"] == 5
    assert [(c["track_id"], c["zone"]) for c in body["catches"]] == [
        ("on-porch", "Porch"),
        ("second", "Porch"),
    ]
    assert body["catches"][0]["camera_id"] == camera
    # Nothing was recorded (the database is shared with other tests: count this camera's).
    async with api.database.transaction() as session:
        recorded = select(func.count()).select_from(Event).where(Event.camera_id == camera)
        assert await session.scalar(recorded) == 0

    # A what-if rule: dogs anywhere, at any time.
    what_if = await alice.post(
        f"/api/v1/guards/{guard}/backtest",
        json={**window(T0 - timedelta(hours=11), hours=12), "rule": {"objects": ["dog"]}},
    )
    assert [c["track_id"] for c in what_if.json()["catches"]] == ["a-dog"]


async def test_backtest_rejects_bad_windows_and_hides_other_peoples_guards(api: Api) -> None:
    alice, mallory = await api.sign_up(), await api.sign_up()
    _, _, guard = await porch_guard(alice, "a person on the porch")
    for body in (
        {"start": T0.isoformat(), "end": T0.isoformat()},
        window(T0, hours=24 * 40),
        {"start": "2026-03-10T22:00:00", "end": "2026-03-11T22:00:00"},  # no timezone
    ):
        response = await alice.post(f"/api/v1/guards/{guard}/backtest", json=body)
        assert response.status_code == 422, body
        assert response.headers["content-type"].startswith("application/problem+json")
    stranger = await mallory.post(f"/api/v1/guards/{guard}/backtest", json=window(T0))
    assert stranger.status_code == 404


async def test_false_alarms_raise_the_threshold_and_backtests_follow(api: Api) -> None:
    alice = await api.sign_up()
    space, camera, guard = await porch_guard(alice, "a person on the porch")
    await add_track(api, camera, "weak", T0, x=0.2, confidence=0.6)
    await add_track(api, camera, "strong", T0 + timedelta(minutes=10), x=0.2, confidence=0.9)
    before = (await alice.post(f"/api/v1/guards/{guard}/backtest", json=window(T0))).json()
    assert [c["track_id"] for c in before["catches"]] == ["weak", "strong"]

    catch = await add_event(
        api, space, camera, guard_id=guard, confidence=0.6, zone="Porch", started_at=T0
    )
    response = await alice.patch(f"/api/v1/events/{catch}", json={"review_state": "false_alarm"})
    assert response.status_code == 200, response.text

    stats = (await alice.get(f"/api/v1/guards/{guard}/stats")).json()
    assert stats["tuning"] == {"person|Porch": 0.65}
    assert stats["false_alarm_rate"] == 1.0
    after = (await alice.post(f"/api/v1/guards/{guard}/backtest", json=window(T0))).json()
    assert [c["track_id"] for c in after["catches"]] == ["strong"]

    # A confirmed catch at 0.62 caps the threshold there: such catches are real.
    real = await add_event(
        api,
        space,
        camera,
        guard_id=guard,
        confidence=0.62,
        zone="Porch",
        started_at=T0 + timedelta(hours=1),
    )
    await alice.patch(f"/api/v1/events/{real}", json={"review_state": "confirmed"})
    stats = (await alice.get(f"/api/v1/guards/{guard}/stats")).json()
    assert stats["tuning"] == {"person|Porch": 0.62}
