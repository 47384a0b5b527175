"""GDPR on both adapter sets: the export archive has the user's data and media (no secrets);
erasure removes their data and media and leaves only anonymised audit entries."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from typing import Any

import httpx
from sqlalchemy import func, select

from orin.audit import verify_chain
from orin.events.service import record_event
from orin.media.keys import event_media_key
from orin.models.audit_entry import AuditEntry
from orin.models.base import utcnow
from orin.models.camera import Camera
from orin.models.event import Event, EventKind
from orin.models.space import Space
from orin.models.user import User
from tests.fixtures.api import STRONG_PASSWORD, Api, Person


async def catch_with_snapshot(api: Api, space_id: str, camera_id: str) -> str:
    key = event_media_key(space_id, camera_id, "e1", "snapshot.jpg")
    await api.runtime.infra.storage.put(key, b"\xff\xd8jpeg", content_type="image/jpeg")
    async with api.database.transaction() as session:
        event = await record_event(
            session,
            space_id=space_id,
            camera_id=camera_id,
            kind=EventKind.CATCH,
            started_at=utcnow(),
            label="person",
            confidence=0.9,
            snapshot_key=key,
        )
        return event.id


async def wait_for_export(person: Person, export_id: str) -> dict[str, Any]:
    for _ in range(200):
        body: dict[str, Any] = (await person.get(f"/api/v1/user/me/exports/{export_id}")).json()
        if body["status"] != "pending":
            return body
        await asyncio.sleep(0.05)
    raise AssertionError("the export was not built")


async def download(api: Api, url: str) -> bytes:
    parsed = httpx.URL(url)
    if parsed.path.startswith("/api/v1/storage/"):  # the local adapter: served by the API
        response = await api.http.get(parsed.raw_path.decode())
    else:
        async with httpx.AsyncClient() as client:
            response = await client.get(url)
    assert response.status_code == 200, response.text
    return response.content


async def test_the_export_holds_the_users_data_and_media_but_no_secrets(api: Api) -> None:
    alice = await api.sign_up()
    space = await alice.create_space(name="Cottage")
    camera = await alice.create_camera(space["id"])
    await catch_with_snapshot(api, space["id"], camera["id"])

    started = await alice.post("/api/v1/user/me/export")
    assert started.status_code == 202, started.text
    assert (await alice.post("/api/v1/user/me/export")).status_code in (202, 409)
    ready = await wait_for_export(alice, started.json()["id"])
    assert ready["status"] == "ready"
    archive = zipfile.ZipFile(io.BytesIO(await download(api, ready["download_url"])))
    document = json.loads(archive.read("export.json"))
    assert document["user"]["email"] == alice.email
    assert [s["name"] for s in document["spaces"]] == ["Cottage"]
    assert document["cameras"][0]["main_url"] == "rtsp://admin:••••@127.0.0.1:8554/front"
    assert len(document["events"]) == 1
    media = [name for name in archive.namelist() if name.startswith("media/")]
    assert len(media) == 1
    assert archive.read(media[0]) == b"\xff\xd8jpeg"
    raw = archive.read("export.json").decode()
    for secret in ("s3cret-Pa55", "password_hash", "totp_secret", "credentials_sealed", "$2b$"):
        assert secret not in raw

    bob = await api.sign_up()
    assert (await bob.get(f"/api/v1/user/me/exports/{ready['id']}")).status_code == 404


async def test_erasure_removes_the_user_and_keeps_a_shared_space_for_its_members(
    api: Api,
) -> None:
    alice, bob = await api.sign_up(), await api.sign_up()
    alone = await alice.create_space(name="Alone")
    camera = await alice.create_camera(alone["id"])
    await catch_with_snapshot(api, alone["id"], camera["id"])
    snapshot_key = event_media_key(alone["id"], camera["id"], "e1", "snapshot.jpg")

    async with api.database.transaction() as session:
        user = await session.get(User, alice.user_id)
        assert user is not None
        user.plan = "pro"  # type: ignore[assignment]
    shared = await alice.create_space(name="Shared")
    await alice.invite(shared["id"], bob, "manager")

    refused = await alice.request(
        "DELETE", "/api/v1/user/me", json={"password": "wrong", "confirm": "delete my account"}
    )
    assert refused.status_code == 403
    unconfirmed = await alice.request(
        "DELETE", "/api/v1/user/me", json={"password": STRONG_PASSWORD, "confirm": "yes"}
    )
    assert unconfirmed.status_code == 403
    erased = await alice.request(
        "DELETE",
        "/api/v1/user/me",
        json={"password": STRONG_PASSWORD, "confirm": "delete my account"},
    )
    assert erased.status_code == 204, erased.text
    # The browser's session cookies go too (as on sign-out): nothing left to refresh with.
    cleared = erased.headers.get_list("set-cookie")
    for name in ("orin_refresh", "orin_csrf"):
        assert any(cookie.startswith(f'{name}=""') and "Max-Age=0" in cookie for cookie in cleared)

    assert (await alice.get("/api/v1/user/me")).status_code == 401
    # Bob now owns the shared space; the space Alice alone owned is gone with its data.
    assert (await bob.get(f"/api/v1/spaces/{shared['id']}")).json()["role"] == "owner"
    async with api.database.transaction() as session:
        assert await session.get(User, alice.user_id) is None
        assert await session.get(Space, alone["id"]) is None
        assert await session.get(Camera, camera["id"]) is None
        assert (
            await session.scalar(
                select(func.count()).select_from(Event).where(Event.space_id == alone["id"])
            )
            == 0
        )
        mentions = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where((AuditEntry.actor_id == alice.user_id) | (AuditEntry.target_id == alice.user_id))
        )
        assert mentions == 0
        assert (await verify_chain(session)).ok
    for _ in range(100):
        if await api.runtime.infra.storage.head(snapshot_key) is None:
            break
        await asyncio.sleep(0.05)
    assert await api.runtime.infra.storage.head(snapshot_key) is None
