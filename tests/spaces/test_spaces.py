"""Spaces on both adapter sets: CRUD, plan limits, members and invitations, stats."""

from __future__ import annotations

import asyncio
from email import message_from_bytes

from sqlalchemy import func, select

from orin.events.service import record_event
from orin.mail.sender import mail_folder
from orin.media.keys import event_media_key
from orin.models.audit_entry import AuditEntry
from orin.models.base import utcnow
from orin.models.event import Event, EventKind
from tests.fixtures.api import Api


async def test_a_space_is_created_listed_changed_and_deleted(api: Api) -> None:
    alice = await api.sign_up()
    space = await alice.create_space(name="  Home ", latitude=48.85, longitude=2.35)
    assert (space["name"], space["role"], space["timezone"]) == ("Home", "owner", "Europe/Paris")

    listed = (await alice.get("/api/v1/spaces")).json()
    assert [item["id"] for item in listed["items"]] == [space["id"]]
    assert listed["next_cursor"] is None

    changed = await alice.patch(f"/api/v1/spaces/{space['id']}", json={"timezone": "Asia/Tokyo"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["timezone"] == "Asia/Tokyo"

    assert (await alice.delete(f"/api/v1/spaces/{space['id']}")).status_code == 204
    assert (await alice.get(f"/api/v1/spaces/{space['id']}")).status_code == 404

    async with api.database.transaction() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.target_id == space["id"])
            )
        )
    assert actions == ["space.created", "space.updated", "space.deleted"]


async def test_bad_space_input_is_a_clear_422(api: Api) -> None:
    alice = await api.sign_up()
    for body in (
        {"name": "", "timezone": "UTC"},
        {"name": "x", "timezone": "Mars/Olympus"},
        {"name": "x", "latitude": 10},
        {"name": "x", "latitude": 91, "longitude": 0},
        {"name": 5},
        {"name": "x" * 101},
        {"name": "x", "surprise": True},
    ):
        response = await alice.post("/api/v1/spaces", json=body)
        assert response.status_code == 422, body
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_the_free_plan_allows_one_space(api: Api) -> None:
    alice = await api.sign_up()
    await alice.create_space()
    response = await alice.post("/api/v1/spaces", json={"name": "Second"})
    assert response.status_code == 402
    problem = response.json()
    assert (problem["limit"], problem["max"], problem["plan"]) == ("spaces", 1, "free")


async def test_invitations_roles_and_ownership(api: Api) -> None:
    alice, bob, carol = await api.sign_up(), await api.sign_up(), await api.sign_up()
    space = await alice.create_space()
    sid = space["id"]

    invited = await alice.post(
        f"/api/v1/spaces/{sid}/members", json={"email": bob.email.upper(), "role": "viewer"}
    )
    assert invited.status_code == 201, invited.text
    # Bob sees it; Carol does not and cannot accept it.
    assert [i["id"] for i in (await bob.get("/api/v1/invites")).json()] == [invited.json()["id"]]
    assert (await carol.get("/api/v1/invites")).json() == []
    assert (await carol.post(f"/api/v1/invites/{invited.json()['id']}/accept")).status_code == 404
    accepted = await bob.post(f"/api/v1/invites/{invited.json()['id']}/accept")
    assert accepted.json()["role"] == "viewer"

    # A viewer sees the space but may not change it or invite.
    assert (await bob.get(f"/api/v1/spaces/{sid}")).status_code == 200
    assert (await bob.patch(f"/api/v1/spaces/{sid}", json={"name": "x"})).status_code == 403
    again = await bob.post(f"/api/v1/spaces/{sid}/members", json={"email": carol.email})
    assert again.status_code == 403
    # Carol, a stranger, gets 404 for everything.
    assert (await carol.get(f"/api/v1/spaces/{sid}")).status_code == 404
    assert (await carol.get(f"/api/v1/spaces/{sid}/members")).status_code == 404

    promoted = await alice.patch(
        f"/api/v1/spaces/{sid}/members/{bob.user_id}", json={"role": "owner"}
    )
    assert promoted.status_code == 200, promoted.text
    members = {
        m["user_id"]: m["role"]
        for m in (await bob.get(f"/api/v1/spaces/{sid}/members")).json()["members"]
    }
    assert members == {alice.user_id: "manager", bob.user_id: "owner"}
    # The owner cannot leave; the manager can.
    assert (await bob.delete(f"/api/v1/spaces/{sid}/members/{bob.user_id}")).status_code == 409
    assert (await alice.delete(f"/api/v1/spaces/{sid}/members/{alice.user_id}")).status_code == 204
    assert (await alice.get(f"/api/v1/spaces/{sid}")).status_code == 404


async def test_unverified_people_cannot_invite(api: Api) -> None:
    alice = await api.sign_up(verified=False)
    space = await alice.create_space()
    response = await alice.post(
        f"/api/v1/spaces/{space['id']}/members", json={"email": "x@example.com"}
    )
    assert response.status_code == 403
    assert response.json()["type"].endswith("email-not-verified")


async def test_stats_count_cameras(api: Api) -> None:
    alice = await api.sign_up()
    space = await alice.create_space()
    await alice.create_camera(space["id"])
    stats = (await alice.get(f"/api/v1/spaces/{space['id']}/stats")).json()
    assert stats == {
        "cameras": 1,
        "cameras_online": 0,
        "catches_today": 0,
        "guards": 0,
        "guards_active": 0,
    }


async def test_an_invitation_is_mailed_to_the_invitee(api: Api) -> None:
    alice, bob = await api.sign_up(), await api.sign_up()
    space = await alice.create_space(name="Lake <house>")
    await alice.post(
        f"/api/v1/spaces/{space['id']}/members", json={"email": bob.email, "role": "manager"}
    )
    folder = mail_folder(api.runtime.settings)
    for _ in range(100):
        mails = [
            message_from_bytes(path.read_bytes())
            for path in folder.glob("*.eml")
            if bob.email in path.read_text(errors="replace")
            and "invited you" in path.read_text(errors="replace")
        ]
        if mails:
            break
        await asyncio.sleep(0.05)
    assert len(mails) == 1
    assert mails[0]["Subject"].endswith("invited you to Lake <house> on ORIN")
    html = next(part for part in mails[0].walk() if part.get_content_type() == "text/html")
    payload = html.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert "Lake &lt;house&gt;" in payload.decode()


async def test_deleting_a_space_removes_its_events_and_media(api: Api) -> None:
    alice = await api.sign_up()
    space = await alice.create_space()
    camera = await alice.create_camera(space["id"])
    key = event_media_key(space["id"], camera["id"], "e1", "clip.mp4")
    await api.runtime.infra.storage.put(key, b"clip")
    async with api.database.transaction() as session:
        await record_event(
            session,
            space_id=space["id"],
            camera_id=camera["id"],
            kind=EventKind.CATCH,
            started_at=utcnow(),
            label="person",
            clip_key=key,
        )
    stats = (await alice.get(f"/api/v1/spaces/{space['id']}/stats")).json()
    assert stats["catches_today"] == 1

    assert (await alice.delete(f"/api/v1/spaces/{space['id']}")).status_code == 204
    async with api.database.transaction() as session:
        left = await session.scalar(
            select(func.count()).select_from(Event).where(Event.space_id == space["id"])
        )
    assert left == 0
    for _ in range(100):
        if await api.runtime.infra.storage.head(key) is None:
            break
        await asyncio.sleep(0.05)
    assert await api.runtime.infra.storage.head(key) is None
