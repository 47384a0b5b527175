"""Listing events on both adapter sets: filters, keyset pages, scope, bad input."""

from __future__ import annotations

from datetime import timedelta

from orin.models.event import EventKind, ReviewState
from tests.events.helpers import T0, add_event, add_events, add_guard, ids, space_with_camera
from tests.fixtures.api import Api

URL = "/api/v1/events"


async def test_each_filter_narrows_the_list(api: Api) -> None:
    alice = await api.sign_up()
    space_id, front = await space_with_camera(alice)
    back = (await alice.create_camera(space_id, name="Back yard"))["id"]
    guard = await add_guard(api, space_id)
    person = await add_event(api, space_id, front, started_at=T0)
    dog = await add_event(
        api, space_id, back, label="dog", guard_id=guard, started_at=T0 + timedelta(hours=1)
    )
    offline = await add_event(
        api,
        space_id,
        back,
        kind=EventKind.CAMERA_OFFLINE,
        label=None,
        started_at=T0 + timedelta(hours=2),
    )

    assert await ids(alice, URL) == [offline, dog, person]
    assert await ids(alice, URL, space_id=space_id) == [offline, dog, person]
    assert await ids(alice, URL, camera_id=back) == [offline, dog]
    assert await ids(alice, URL, guard_id=guard) == [dog]
    assert await ids(alice, URL, label="dog") == [dog]
    assert await ids(alice, URL, kind="camera_offline") == [offline]
    assert await ids(alice, URL, kind="catch") == [dog, person]
    assert await ids(alice, URL, review_state="new") == [dog, person]
    assert await ids(alice, URL, review_state="seen") == []
    since = (T0 + timedelta(hours=1)).isoformat()
    assert await ids(alice, URL, since=since) == [offline, dog]
    assert await ids(alice, URL, until=since) == [person]
    assert await ids(alice, URL, since=T0.isoformat(), until=since, label="person") == [person]

    body = (await alice.get(f"{URL}/{dog}")).json()
    assert (body["label"], body["review_state"], body["guard_id"]) == ("dog", "new", guard)
    system = (await alice.get(f"{URL}/{offline}")).json()
    assert (system["kind"], system["review_state"]) == ("camera_offline", None)


async def test_pages_return_every_event_once_while_new_ones_arrive(api: Api) -> None:
    alice = await api.sign_up()
    space_id, camera_id = await space_with_camera(alice)
    original = set(await add_events(api, space_id, camera_id, 25))
    # Several events at the very same instant: the id breaks the tie.
    original |= set(await add_events(api, space_id, camera_id, 1, start=T0 + timedelta(minutes=5)))
    for _ in range(4):
        original.add(
            await add_event(api, space_id, camera_id, started_at=T0 + timedelta(minutes=5))
        )

    seen: list[str] = []
    cursor: str | None = None
    later = T0 + timedelta(days=1)
    pages = 0
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        response = await alice.get(URL, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        # New events arrive between page fetches.
        await add_events(api, space_id, camera_id, 2, start=later)
        later += timedelta(minutes=5)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert set(seen) == original
    assert pages == 8


async def test_a_shared_camera_shows_only_its_events(api: Api) -> None:
    alice, bob = await api.sign_up(), await api.sign_up()
    space_id, front = await space_with_camera(alice)
    back = (await alice.create_camera(space_id, name="Back yard"))["id"]
    on_front = await add_event(api, space_id, front)
    on_back = await add_event(api, space_id, back, started_at=T0 + timedelta(minutes=1))
    shared = await alice.post(
        f"/api/v1/cameras/{front}/shares", json={"email": bob.email, "role": "viewer"}
    )
    assert shared.status_code == 201, shared.text

    assert await ids(bob, URL) == [on_front]
    assert await ids(bob, URL, camera_id=front) == [on_front]
    assert (await bob.get(URL, params={"camera_id": back})).status_code == 404
    assert (await bob.get(URL, params={"space_id": space_id})).status_code == 404
    assert (await bob.get(f"{URL}/{on_front}")).status_code == 200
    assert (await bob.get(f"{URL}/{on_back}")).status_code == 404
    assert await ids(alice, URL) == [on_back, on_front]


async def test_strangers_see_nothing_and_get_404s(api: Api) -> None:
    alice, mallory = await api.sign_up(), await api.sign_up()
    space_id, camera_id = await space_with_camera(alice)
    guard = await add_guard(api, space_id)
    event_id = await add_event(api, space_id, camera_id)

    assert await ids(mallory, URL) == []
    for params in ({"space_id": space_id}, {"camera_id": camera_id}, {"guard_id": guard}):
        response = await mallory.get(URL, params=params)
        assert response.status_code == 404, params
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await mallory.get(f"{URL}/{event_id}")).status_code == 404
    assert (await mallory.get(f"{URL}/{'f' * 40}")).status_code == 404


async def test_bad_input_is_a_problem_never_a_500(api: Api) -> None:
    alice = await api.sign_up()
    space_id, _ = await space_with_camera(alice)
    for params in (
        {"cursor": "not-a-cursor"},
        {"cursor": "eyJhdCI6Im5vdC1hLXRpbWUiLCJpZCI6IngifQ"},  # {"at":"not-a-time","id":"x"}
        {"since": "2026-03-10T12:00:00+00:00", "until": "2026-03-10T11:00:00+00:00"},
        {"since": "2026-03-10T12:00:00"},  # naive
        {"since": "yesterday"},
        {"limit": 0},
        {"limit": 10000},
        {"limit": "ten"},
        {"kind": "explosion"},
        {"review_state": "maybe"},
        {"space_id": "x" * 33},
        {"q": "x" * 201},
        {"q": "dog", "cursor": "eyJvIjotMSwiaCI6IngifQ"},  # {"o":-1,"h":"x"}
    ):
        response = await alice.get(URL, params=params)
        assert 400 <= response.status_code < 500, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json"), params
    stats = f"{URL}/stats"
    for params in (
        {},
        {"space_id": space_id, "bucket": "week"},
        {"space_id": space_id, "by": "colour"},
        {"space_id": space_id, "since": "2026-01-01T00:00:00+00:00"},  # too many hours
        {"space_id": space_id, "since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"},
    ):
        response = await alice.get(stats, params=params)
        assert 400 <= response.status_code < 500, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json"), params


async def test_an_event_shows_signed_media_urls(api: Api) -> None:
    alice = await api.sign_up()
    space_id, camera_id = await space_with_camera(alice)
    key = f"spaces/{space_id}/cameras/{camera_id}/events/e1/snapshot.jpg"
    with_media = await add_event(api, space_id, camera_id, snapshot_key=key, clip_key=key)
    without = await add_event(api, space_id, camera_id)

    body = (await alice.get(f"{URL}/{with_media}")).json()
    assert body["snapshot_url"]
    assert body["clip_url"]
    assert body["thumbnail_url"] is None
    assert body["urls_expire_at"] is not None
    listed = (await alice.get(URL)).json()["items"]
    assert {item["id"]: item["has_snapshot"] for item in listed} == {
        with_media: True,
        without: False,
    }
    plain = (await alice.get(f"{URL}/{without}")).json()
    assert (plain["snapshot_url"], plain["urls_expire_at"]) == (None, None)
    assert plain["review_state"] == ReviewState.NEW
