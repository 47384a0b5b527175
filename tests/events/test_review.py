"""Reviewing catches on both adapter sets: transitions, roles, notes, audit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from orin.events.service import InvalidReviewTransition, check_transition
from orin.models.audit_entry import AuditEntry
from orin.models.event import EventKind, ReviewState
from tests.events.helpers import add_event, ids, space_with_camera
from tests.fixtures.api import Api

URL = "/api/v1/events"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("new", "seen"),
        ("new", "confirmed"),
        ("new", "false_alarm"),
        ("new", "resolved"),
        ("seen", "confirmed"),
        ("seen", "false_alarm"),
        ("seen", "resolved"),
        ("confirmed", "resolved"),
        ("false_alarm", "resolved"),
        ("seen", "seen"),
    ],
)
def test_allowed_transitions(before: str, after: str) -> None:
    check_transition(ReviewState(before), ReviewState(after))


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("seen", "new"),
        ("resolved", "new"),
        ("resolved", "seen"),
        ("confirmed", "false_alarm"),
        ("false_alarm", "confirmed"),
        ("confirmed", "seen"),
        ("resolved", "confirmed"),
    ],
)
def test_refused_transitions(before: str, after: str) -> None:
    with pytest.raises(InvalidReviewTransition):
        check_transition(ReviewState(before), ReviewState(after))


async def test_a_catch_is_reviewed_step_by_step_and_audited(api: Api) -> None:
    alice = await api.sign_up()
    space_id, camera_id = await space_with_camera(alice)
    event_id = await add_event(api, space_id, camera_id)

    seen = await alice.patch(f"{URL}/{event_id}", json={"review_state": "seen"})
    assert seen.status_code == 200, seen.text
    assert (seen.json()["review_state"], seen.json()["reviewed_by"]) == ("seen", alice.user_id)
    assert seen.json()["reviewed_at"] is not None

    back = await alice.patch(f"{URL}/{event_id}", json={"review_state": "new"})
    assert back.status_code == 409
    assert back.headers["content-type"].startswith("application/problem+json")
    assert "cannot go from `seen` to `new`" in back.json()["detail"]

    confirmed = await alice.patch(f"{URL}/{event_id}", json={"review_state": "confirmed"})
    assert confirmed.json()["review_state"] == "confirmed"
    flip = await alice.patch(f"{URL}/{event_id}", json={"review_state": "false_alarm"})
    assert flip.status_code == 409
    resolved = await alice.patch(f"{URL}/{event_id}", json={"review_state": "resolved"})
    assert resolved.json()["review_state"] == "resolved"
    assert await ids(alice, URL, review_state="resolved") == [event_id]

    async with api.database.transaction() as session:
        entries = list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.target_id == event_id).order_by(AuditEntry.seq)
            )
        )
    assert [entry.action for entry in entries] == ["event.reviewed"] * 3
    assert [(e.details["from"], e.details["to"]) for e in entries] == [
        ("new", "seen"),
        ("seen", "confirmed"),
        ("confirmed", "resolved"),
    ]


async def test_new_may_go_straight_to_a_verdict(api: Api) -> None:
    alice = await api.sign_up()
    space_id, camera_id = await space_with_camera(alice)
    event_id = await add_event(api, space_id, camera_id)
    response = await alice.patch(f"{URL}/{event_id}", json={"review_state": "false_alarm"})
    assert response.json()["review_state"] == "false_alarm"


async def test_viewer_and_manager_review_strangers_get_404(api: Api) -> None:
    owner, viewer, manager, stranger = [await api.sign_up() for _ in range(4)]
    space_id, camera_id = await space_with_camera(owner)
    await owner.invite(space_id, viewer, "viewer")
    await owner.invite(space_id, manager, "manager")
    first = await add_event(api, space_id, camera_id)
    second = await add_event(api, space_id, camera_id)

    assert (
        await stranger.patch(f"{URL}/{first}", json={"review_state": "seen"})
    ).status_code == 404
    by_viewer = await viewer.patch(f"{URL}/{first}", json={"review_state": "seen"})
    assert by_viewer.status_code == 200, by_viewer.text
    by_manager = await manager.patch(f"{URL}/{second}", json={"review_state": "confirmed"})
    assert by_manager.status_code == 200, by_manager.text
    assert by_manager.json()["reviewed_by"] == manager.user_id


async def test_system_events_take_no_review_and_bodies_are_checked(api: Api) -> None:
    alice = await api.sign_up()
    space_id, camera_id = await space_with_camera(alice)
    offline = await add_event(api, space_id, camera_id, kind=EventKind.CAMERA_OFFLINE, label=None)
    response = await alice.patch(f"{URL}/{offline}", json={"review_state": "seen"})
    assert response.status_code == 409
    assert response.json()["type"].endswith("not-reviewable")
    noted = await alice.patch(f"{URL}/{offline}", json={"notes": "power cut"})
    assert noted.status_code == 200, noted.text
    assert (noted.json()["notes"], noted.json()["review_state"]) == ("power cut", None)

    catch = await add_event(api, space_id, camera_id)
    for body in (
        {},
        {"review_state": "done"},
        {"notes": "x" * 2001},
        {"notes": 5},
        {"review_state": "seen", "surprise": 1},
    ):
        bad = await alice.patch(f"{URL}/{catch}", json=body)
        assert 400 <= bad.status_code < 500, body
        assert bad.headers["content-type"].startswith("application/problem+json")


async def test_notes_change_what_search_finds(api: Api) -> None:
    alice = await api.sign_up()
    space_id, camera_id = await space_with_camera(alice)
    event_id = await add_event(api, space_id, camera_id, label="car")
    query = {"q": "courier van delivering parcels"}
    before = (await alice.get(URL, params=query)).json()["items"]
    assert event_id not in [item["id"] for item in before]

    noted = await alice.patch(f"{URL}/{event_id}", json={"notes": "courier van delivering parcels"})
    assert noted.status_code == 200, noted.text
    after = (await alice.get(URL, params=query)).json()["items"]
    assert [item["id"] for item in after] == [event_id]
    assert after[0]["score"] > 0.5
