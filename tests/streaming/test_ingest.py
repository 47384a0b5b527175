"""`orin ingest` against real fake cameras (GStreamer RTSP server), on both adapter sets:
status with readable reasons, live HLS behind signed URLs, outages make one event pair, and no
FFmpeg outlives its camera."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import select, update

from orin.config import Settings
from orin.ingest.supervisor import IngestSupervisor
from orin.models.camera import Camera
from orin.models.event import Event, EventKind
from orin.models.user import User
from tests.fixtures.api import Api, Person
from tests.fixtures.cameras import FAST_INGEST, FakeCameraServer
from tests.fixtures.services import free_port
from tests.fixtures.waiting import eventually


def ingest_settings(api: Api) -> Settings:
    return api.runtime.settings.model_copy(update={"ingest": FAST_INGEST})


@asynccontextmanager
async def ingest(api: Api, node: str = "") -> AsyncIterator[IngestSupervisor]:
    await api.disable_other_cameras()
    supervisor = IngestSupervisor(
        api.database, api.runtime.infra.envelope, ingest_settings(api), node=node
    )
    supervisor.start()
    try:
        yield supervisor
    finally:
        await supervisor.stop()


async def status_of(person: Person, camera_id: str) -> tuple[str, str]:
    body = (await person.get(f"/api/v1/cameras/{camera_id}")).json()
    return body["status"], body["status_reason"]


async def events_of(api: Api, camera_id: str, kind: EventKind) -> list[Event]:
    async with api.database.transaction() as session:
        rows = await session.scalars(
            select(Event).where(Event.camera_id == camera_id, Event.kind == kind)
        )
        return list(rows)


def path_of(url: str) -> str:
    """The path of an absolute URL the app made (requests go through the test client)."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


async def test_a_camera_goes_online_and_its_live_hls_is_served_signed(
    api: Api, fake_cameras: FakeCameraServer
) -> None:
    alice, bob = await api.sign_up(), await api.sign_up()
    space = await alice.create_space()
    camera = await alice.create_camera(space["id"], main_url=fake_cameras.url("pattern"))
    async with ingest(api):
        await eventually(
            lambda: _is(alice, camera["id"], "online"), within_s=20, what="camera online"
        )
        live = (await alice.get(f"/api/v1/cameras/{camera['id']}/live")).json()
        playlist_path = path_of(live["hls_url"])

        async def playlist() -> str | None:
            response = await api.http.get(playlist_path)
            return response.text if response.status_code == 200 and ".ts" in response.text else None

        text = await eventually(playlist, within_s=15, what="live playlist with segments")
        assert "#EXT-X-PROGRAM-DATE-TIME" in text
        assert "#EXT-X-INDEPENDENT-SEGMENTS" in text
        segment = [line for line in text.splitlines() if line.endswith(".ts")][-1]
        media = await api.http.get(playlist_path.rsplit("/", 1)[0] + "/" + segment)
        assert media.status_code == 200
        assert media.headers["content-type"] == "video/mp2t"
        assert media.content[:1] == b"\x47"  # MPEG-TS sync byte

        prefix, expires, signature, name = playlist_path.rsplit("/", 3)
        tampered = f"{prefix}/{expires}/{signature[:-2]}AA/{name}"
        assert (await api.http.get(tampered)).status_code == 403
        later = f"{prefix}/{int(expires) + 60}/{signature}/{name}"
        assert (await api.http.get(later)).status_code == 403
        other_camera = playlist_path.replace(camera["id"], "0" * 32)
        assert (await api.http.get(other_camera)).status_code == 403
        assert (await api.http.get(f"{prefix}/{expires}/{signature}/../../x")).status_code in (
            403,
            404,
        )
        assert (await bob.get(f"/api/v1/cameras/{camera['id']}/live")).status_code == 404


async def _is(person: Person, camera_id: str, status: str) -> bool:
    return (await status_of(person, camera_id))[0] == status


async def test_an_outage_makes_one_event_pair_and_no_ffmpeg_is_left(
    api: Api, fake_cameras: FakeCameraServer
) -> None:
    alice = await api.sign_up()
    space = await alice.create_space()
    camera = await alice.create_camera(space["id"], main_url=fake_cameras.url("vtest"))
    cid = camera["id"]
    async with ingest(api) as supervisor:
        await eventually(lambda: _is(alice, cid, "online"), within_s=20, what="online")
        first_pid = supervisor.runners[cid].process.pid  # type: ignore[union-attr]

        fake_cameras.stop()
        lost = time.monotonic()
        await eventually(lambda: _is(alice, cid, "offline"), within_s=10, what="offline")
        assert time.monotonic() - lost < 10
        await eventually(
            lambda: events_of(api, cid, EventKind.CAMERA_OFFLINE), within_s=5, what="event"
        )
        assert first_pid is not None
        assert not Path(f"/proc/{first_pid}").exists(), "the dead stream's FFmpeg is gone"  # noqa: ASYNC240

        fake_cameras.start()
        await eventually(lambda: _is(alice, cid, "online"), within_s=20, what="online again")
        await eventually(
            lambda: events_of(api, cid, EventKind.CAMERA_ONLINE), within_s=5, what="online event"
        )
        await asyncio.sleep(2)
        assert len(await events_of(api, cid, EventKind.CAMERA_OFFLINE)) == 1
        assert len(await events_of(api, cid, EventKind.CAMERA_ONLINE)) == 1
        live = (await alice.get(f"/api/v1/cameras/{cid}/live")).json()
        assert (await api.http.get(path_of(live["hls_url"]))).status_code == 200
        last_pid = supervisor.runners[cid].process.pid  # type: ignore[union-attr]
    assert last_pid is not None
    assert not Path(f"/proc/{last_pid}").exists(), "stopping ingest leaves no FFmpeg"  # noqa: ASYNC240


@pytest.mark.parametrize("adapter_set", ["embedded"], indirect=True)
async def test_bad_sources_get_clear_reasons_and_do_not_disturb_others(
    api: Api, fake_cameras: FakeCameraServer
) -> None:
    unused_tcp_port = free_port()

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.0 200 OK\r\n\r\nthis is not a camera\r\n" * 50)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(garbage, "127.0.0.1", unused_tcp_port)
    admin = await api.sign_up()
    space = await admin.create_space()
    await api_set_plan(api, admin)
    good = await admin.create_camera(space["id"], main_url=fake_cameras.url("pattern"))
    wrong = await admin.create_camera(
        space["id"], main_url=fake_cameras.url("secure", "admin", "wrong-password")
    )
    junk = await admin.create_camera(space["id"], main_url=f"rtsp://127.0.0.1:{unused_tcp_port}/x")
    try:
        async with ingest(api):
            await eventually(lambda: _is(admin, good["id"], "online"), within_s=20, what="good")
            status, reason = await eventually(
                lambda: _lost(admin, wrong["id"]), within_s=20, what="wrong password reported"
            )
            assert (status, reason) == ("error", "the camera refused the user name or password")
            status, reason = await eventually(
                lambda: _lost(admin, junk["id"]), within_s=20, what="garbage reported"
            )
            assert status in ("offline", "error")
            assert "rtsp camera" in reason.lower() or "stream" in reason.lower(), reason
            assert await _is(admin, good["id"], "online")
    finally:
        server.close()
        await server.wait_closed()
    async with api.database.transaction() as session:
        row = await session.get(Camera, wrong["id"])
        assert row is not None
        assert "wrong-password" not in row.status_reason


async def _lost(person: Person, camera_id: str) -> tuple[str, str] | None:
    status, reason = await status_of(person, camera_id)
    return (status, reason) if status in ("offline", "error") and reason else None


async def api_set_plan(api: Api, person: Person) -> None:
    async with api.database.transaction() as session:
        await session.execute(update(User).where(User.id == person.user_id).values(plan="pro"))


@pytest.mark.parametrize("adapter_set", ["embedded"], indirect=True)
async def test_the_optional_ladder_serves_a_master_playlist_of_two_renditions(
    api: Api, fake_cameras: FakeCameraServer
) -> None:
    alice = await api.sign_up()
    space = await alice.create_space()
    camera = await alice.create_camera(
        space["id"], main_url=fake_cameras.url("pattern"), live_ladder=True
    )
    assert camera["live_ladder"] is True
    async with ingest(api):
        await eventually(lambda: _is(alice, camera["id"], "online"), within_s=20, what="online")
        live = (await alice.get(f"/api/v1/cameras/{camera['id']}/live")).json()
        base = path_of(live["hls_url"]).rsplit("/", 1)[0]

        async def rendition(name: str) -> str | None:
            response = await api.http.get(f"{base}/{name}/index.m3u8")
            return response.text if response.status_code == 200 and ".ts" in response.text else None

        master = (await api.http.get(f"{base}/index.m3u8")).text
        assert "#EXT-X-STREAM-INF" in master
        assert "source/index.m3u8" in master
        assert "RESOLUTION=640x360" in master
        low = await eventually(lambda: rendition("low"), within_s=15, what="low rendition")
        await eventually(lambda: rendition("source"), within_s=15, what="source rendition")
        segment = [line for line in low.splitlines() if line.endswith(".ts")][-1]
        media = await api.http.get(f"{base}/low/{segment}")
        assert media.status_code == 200
        assert media.content[:1] == b"\x47"
        snapshot = await alice.get(f"/api/v1/cameras/{camera['id']}/snapshot")
        assert snapshot.status_code == 200
        assert snapshot.headers["content-type"] == "image/jpeg"
