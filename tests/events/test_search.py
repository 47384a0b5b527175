"""Text search on both adapter sets: ranking, threshold, filters, scope, offset pages."""

from __future__ import annotations

from datetime import timedelta

from tests.events.helpers import T0, add_event, space_with_camera
from tests.fixtures.api import Api, Person

URL = "/api/v1/events"


async def _search(person: Person, q: str, **params: str | int) -> list[dict[str, object]]:
    response = await person.get(URL, params={"q": q, **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


async def test_search_ranks_matching_labels_first(api: Api) -> None:
    alice = await api.sign_up()
    space_id, camera_id = await space_with_camera(alice)
    made: dict[str, str] = {}
    for n, label in enumerate(["person", "dog", "car", "package", "cat", "person", "dog"]):
        made[
            await add_event(
                api, space_id, camera_id, label=label, started_at=T0 + timedelta(minutes=n)
            )
        ] = label

    dogs = await _search(alice, "dog")
    labels = [made[str(item["id"])] for item in dogs]
    assert labels[:2] == ["dog", "dog"]
    assert "person" not in labels[:2]
    # Equal scores: newest first.
    assert [item["started_at"] for item in dogs[:2]] == sorted(
        (str(item["started_at"]) for item in dogs[:2]), reverse=True
    )
    scores = [float(str(item["score"])) for item in dogs]
    assert scores == sorted(scores, reverse=True)
    assert all(score >= 0.25 for score in scores)

    parcels = await _search(alice, "parcel")
    assert parcels
    assert made[str(parcels[0]["id"])] == "package"
    cars = await _search(alice, "vehicle")
    assert made[str(cars[0]["id"])] == "car"


async def test_search_keeps_filters_and_scope(api: Api) -> None:
    alice, bob = await api.sign_up(), await api.sign_up()
    space_id, front = await space_with_camera(alice)
    back = (await alice.create_camera(space_id, name="Back yard"))["id"]
    on_front = await add_event(api, space_id, front, label="dog")
    on_back = await add_event(api, space_id, back, label="dog", started_at=T0 + timedelta(hours=1))
    bob_space, bob_camera = await space_with_camera(bob)
    await add_event(api, bob_space, bob_camera, label="dog")

    assert {item["id"] for item in await _search(alice, "dog")} == {on_front, on_back}
    assert [item["id"] for item in await _search(alice, "dog", camera_id=back)] == [on_back]
    until = (T0 + timedelta(minutes=30)).isoformat()
    assert [item["id"] for item in await _search(alice, "dog", until=until)] == [on_front]
    assert (await bob.get(URL, params={"q": "dog", "space_id": space_id})).status_code == 404


async def test_search_pages_by_offset(api: Api) -> None:
    alice = await api.sign_up()
    space_id, camera_id = await space_with_camera(alice)
    dogs = {
        await add_event(api, space_id, camera_id, label="dog", started_at=T0 + timedelta(minutes=n))
        for n in range(5)
    }
    seen: list[str] = []
    cursor = None
    while True:
        params = {"q": "dog", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await alice.get(URL, params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert set(seen) >= dogs
    assert len(seen) == len(set(seen))
    # A search cursor is bound to its query.
    first = (await alice.get(URL, params={"q": "dog", "limit": 2})).json()
    other = await alice.get(URL, params={"q": "cat", "cursor": first["next_cursor"]})
    assert other.status_code == 400
    listing = await alice.get(URL, params={"cursor": first["next_cursor"]})
    assert listing.status_code == 400


async def test_unrelated_queries_find_nothing(api: Api) -> None:
    alice = await api.sign_up()
    space_id, camera_id = await space_with_camera(alice)
    await add_event(api, space_id, camera_id, label="dog")
    assert await _search(alice, "quarterly tax spreadsheet formulas") == []
