"""The guards API on both adapter sets: validate, create (valid, invalid, hand-edited rule),
cameras of one space, pause/resume, stats, limits, bad input."""

from __future__ import annotations

from typing import Any

from tests.fixtures.api import Api, Person

SQUARE = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.1, 0.5]]


async def space_with_zones(person: Person) -> tuple[dict[str, Any], dict[str, Any]]:
    space = await person.create_space(timezone="America/New_York")
    camera = await person.create_camera(
        space["id"],
        zones=[
            {"name": "Front door", "polygon": SQUARE},
            {"name": "Driveway", "polygon": [[0.5, 0.5], [0.9, 0.5], [0.9, 0.9]]},
        ],
    )
    return space, camera


async def test_validate_explains_the_compiled_rule(api: Api) -> None:
    alice = await api.sign_up()
    space, _ = await space_with_zones(alice)
    response = await alice.post(
        "/api/v1/guards/validate",
        json={
            "instruction": "a person in the driveway after 22:00 for more than 30 seconds",
            "space_id": space["id"],
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "valid"
    assert body["timezone"] == "America/New_York"
    assert body["rule"]["objects"] == ["person"]
    assert body["rule"]["zones"] == ["Driveway"]
    assert body["rule"]["min_dwell_s"] == 30
    assert body["rule"]["schedule"]["kind"] == "windows"
    assert body["understood"]
    assert sorted(body["zones_known"]) == ["Driveway", "Front door"]


async def test_validate_refuses_unknown_zones_and_unsupported_things(api: Api) -> None:
    alice = await api.sign_up()
    space, _ = await space_with_zones(alice)
    for instruction, words in (
        ("a person in the pool area", "pool"),
        ("tell me when John arrives", ""),
        ("a gun in the driveway", ""),
    ):
        body = (
            await alice.post(
                "/api/v1/guards/validate",
                json={"instruction": instruction, "space_id": space["id"]},
            )
        ).json()
        assert body["status"] == "invalid", instruction
        assert body["rule"] is None
        assert words in body["reason"].lower()


async def test_guard_lifecycle(api: Api) -> None:
    alice = await api.sign_up()
    space, camera = await space_with_zones(alice)
    created = await alice.post(
        "/api/v1/guards",
        json={
            "space_id": space["id"],
            "name": "Parcels",
            "instruction": "a package is left at the front door",
            "camera_ids": [camera["id"]],
        },
    )
    assert created.status_code == 201, created.text
    guard = created.json()
    assert guard["state"] == "active"
    assert guard["rule"]["left_object"] is True
    assert guard["rule"]["zones"] == ["Front door"]
    assert guard["camera_ids"] == [camera["id"]]
    gid = guard["id"]

    paused = await alice.post(f"/api/v1/guards/{gid}/pause")
    assert paused.json()["state"] == "paused"
    resumed = await alice.post(f"/api/v1/guards/{gid}/resume")
    assert resumed.json()["state"] == "active"

    # A new instruction that cannot be compiled makes the guard invalid, with the reason.
    broken = await alice.patch(f"/api/v1/guards/{gid}", json={"instruction": "when it rains"})
    assert broken.status_code == 200
    assert broken.json()["state"] == "invalid"
    assert broken.json()["invalid_reason"]
    assert (await alice.post(f"/api/v1/guards/{gid}/resume")).status_code == 409

    # A hand-edited rule replaces it and makes it valid again.
    rule = guard["rule"] | {"min_confidence": 0.8}
    edited = await alice.patch(f"/api/v1/guards/{gid}", json={"rule": rule})
    assert edited.status_code == 200, edited.text
    assert edited.json()["state"] == "active"
    assert edited.json()["rule_edited"] is True
    assert edited.json()["rule"]["min_confidence"] == 0.8

    # A zone a guard watches cannot be removed from its camera.
    removed = await alice.put(f"/api/v1/cameras/{camera['id']}/zones", json={"zones": []})
    assert removed.status_code == 409
    assert "Parcels" in removed.json()["detail"]

    stats = (await alice.get(f"/api/v1/guards/{gid}/stats")).json()
    assert stats["catches"] == 0
    assert stats["false_alarm_rate"] is None

    listed = (await alice.get("/api/v1/guards", params={"space_id": space["id"]})).json()
    assert [item["id"] for item in listed["items"]] == [gid]
    one = (await alice.get(f"/api/v1/guards/{gid}")).json()
    assert listed["items"] == [one]
    assert one["camera_ids"] == [camera["id"]]
    assert (await alice.delete(f"/api/v1/guards/{gid}")).status_code == 204
    assert (await alice.get(f"/api/v1/guards/{gid}")).status_code == 404


async def test_cameras_must_be_in_the_guards_space(api: Api) -> None:
    alice, bob = await api.sign_up(), await api.sign_up()
    space, _ = await space_with_zones(alice)
    other_space = await bob.create_space()
    foreign = await bob.create_camera(other_space["id"])
    response = await alice.post(
        "/api/v1/guards",
        json={
            "space_id": space["id"],
            "name": "x",
            "instruction": "a person",
            "camera_ids": [foreign["id"]],
        },
    )
    assert response.status_code == 422
    assert foreign["id"] in response.json()["detail"]


async def test_bad_guard_input_is_4xx_never_500(api: Api) -> None:
    alice = await api.sign_up()
    space, _ = await space_with_zones(alice)
    good_rule = {"objects": ["person"], "zones": []}
    cases: list[dict[str, Any]] = [
        {"space_id": space["id"], "name": "x", "instruction": "a" * 5000},
        {"space_id": space["id"], "name": "x", "instruction": ""},
        {"space_id": space["id"], "name": "x", "instruction": 42},
        {"space_id": space["id"], "name": "", "instruction": "a person"},
        {"space_id": space["id"], "name": "x", "instruction": "x", "rule": {"objects": []}},
        {"space_id": space["id"], "name": "x", "instruction": "x", "rule": {"version": 99}},
        {
            "space_id": space["id"],
            "name": "x",
            "instruction": "x",
            "rule": good_rule | {"zones": ["Nowhere"]},
        },
        {
            "space_id": space["id"],
            "name": "x",
            "instruction": "x",
            "rule": good_rule | {"min_confidence": 3},
        },
    ]
    for body in cases:
        response = await alice.post("/api/v1/guards", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    huge = await alice.post("/api/v1/guards/validate", json={"instruction": "person " * 100})
    assert huge.status_code == 200
    assert huge.json()["status"] == "invalid"
    assert "500" in huge.json()["reason"]
    wrong = await alice.post(f"/api/v1/guards/{'0' * 32}/pause")
    assert wrong.status_code == 404


async def test_viewers_see_guards_but_cannot_change_them(api: Api) -> None:
    alice, bob, carol = await api.sign_up(), await api.sign_up(), await api.sign_up()
    space, _ = await space_with_zones(alice)
    await alice.invite(space["id"], bob, "viewer")
    guard = (
        await alice.post(
            "/api/v1/guards",
            json={"space_id": space["id"], "name": "x", "instruction": "a person"},
        )
    ).json()
    assert (await bob.get(f"/api/v1/guards/{guard['id']}")).status_code == 200
    assert (await bob.post(f"/api/v1/guards/{guard['id']}/pause")).status_code == 403
    assert (await carol.get(f"/api/v1/guards/{guard['id']}")).status_code == 404
    assert (await carol.get("/api/v1/guards")).json()["items"] == []
