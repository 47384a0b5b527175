"""Two real `orin api` processes (and an `orin worker`) on PostgreSQL + Redis: an update made
through one replica, and a catch the worker records, reach sockets on both replicas within
200 ms, and only those of people who may see them."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from orin.config import DatabaseSettings, Settings
from orin.db import Database
from orin.events.service import record_event
from orin.models.event import EventKind
from orin.runtime.infrastructure import Infrastructure
from orin.vision.catches import CatchContext, CatchWriter, catch_id
from orin.vision.evaluate import Match
from tests.cli.helpers import (
    START_GUARD_S,
    orin_env,
    run_orin,
    start_orin,
    stop,
    wait_ready,
)
from tests.events.helpers import T0
from tests.fixtures.api import LOCAL_CAMERA, STRONG_PASSWORD
from tests.fixtures.services import free_port

pytestmark = pytest.mark.slow

MAX_LATENCY_S = 0.2


@pytest.fixture
def shared_env(tmp_path: Path, pg_database_url: str, redis_url: str) -> dict[str, str]:
    """Settings every process of the test shares: database, Redis, data folder."""
    env = orin_env(
        tmp_path / "data",
        ORIN_DATABASE_URL=pg_database_url,
        ORIN_REDIS_URL=redis_url,
        ORIN_REDIS_KEY_PREFIX=f"test:{uuid.uuid4().hex[:8]}:",
        ORIN_AUTH_BCRYPT_ROUNDS="4",
        ORIN_AUTH_BREACHED_CHECK="false",
        ORIN_RATELIMIT_ENABLED="false",
        ORIN_CAMERAS_ALLOWED_NETWORKS='["127.0.0.1/32"]',
        ORIN_LOG_LEVEL="WARNING",
    )
    assert run_orin(["migrate"], env).returncode == 0
    return env


@pytest.fixture
def replicas(tmp_path: Path, shared_env: dict[str, str]) -> Iterator[list[str]]:
    """Base URLs of two `orin api` processes sharing the database, Redis and data folder."""
    processes = []
    urls = []
    try:
        for name in ("a", "b"):
            port = free_port()
            log = tmp_path / f"api-{name}.log"
            process = start_orin(["api", "--port", str(port)], shared_env, log)
            processes.append(process)
            url = f"http://127.0.0.1:{port}"
            # One after the other: the first creates the signing key both then use.
            wait_ready(url, START_GUARD_S, process, log)
            urls.append(url)
        yield urls
    finally:
        for process in processes:
            stop(process)


@pytest.fixture
async def ingest_side(tmp_path: Path, shared_env: dict[str, str]) -> AsyncIterator[CatchWriter]:
    """An `orin worker` process (outbox relay, `vision.catch`), and the ingest side's catch
    writer on the same database and object storage."""
    worker = start_orin(["worker"], shared_env, tmp_path / "worker.log")
    infra = Infrastructure.from_settings(
        Settings(
            data_dir=Path(shared_env["ORIN_DATA_DIR"]),
            database=DatabaseSettings(url=shared_env["ORIN_DATABASE_URL"]),
        )
    )
    await infra.start()
    try:
        yield CatchWriter(infra.database, infra.storage)
    finally:
        await infra.close()
        assert stop(worker) == 0, (tmp_path / "worker.log").read_text()[-3000:]


async def _sign_up(http: httpx.AsyncClient) -> dict[str, Any]:
    email = f"user-{uuid.uuid4().hex[:10]}@example.com"
    response = await http.post(
        "/api/v1/auth/register", json={"email": email, "password": STRONG_PASSWORD}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _space_with_camera(http: httpx.AsyncClient, token: str) -> tuple[str, str]:
    auth = {"Authorization": f"Bearer {token}"}
    space = await http.post(
        "/api/v1/spaces", json={"name": "Home", "timezone": "UTC"}, headers=auth
    )
    assert space.status_code == 201, space.text
    camera = await http.post(
        "/api/v1/cameras",
        json={"space_id": space.json()["id"], "name": "Door", "main_url": LOCAL_CAMERA},
        headers=auth,
    )
    assert camera.status_code == 201, camera.text
    return str(space.json()["id"]), str(camera.json()["id"])


@asynccontextmanager
async def _socket(base_url: str, token: str, space_id: str) -> AsyncIterator[ClientConnection]:
    """A real WebSocket signed in by subprotocol and subscribed to ``space_id``."""
    url = base_url.replace("http://", "ws://") + "/api/v1/ws"
    offered = [Subprotocol("orin.v1"), Subprotocol(f"bearer.{token}")]
    async with connect(url, subprotocols=offered) as ws:
        assert ws.subprotocol == "orin.v1"
        assert json.loads(await ws.recv())["type"] == "ready"
        await ws.send(json.dumps({"type": "subscribe", "spaces": [space_id]}))
        subscribed = json.loads(await ws.recv())
        assert subscribed == {"type": "subscribed", "spaces": [space_id], "cameras": []}
        yield ws


async def _next_update(ws: ClientConnection, within_s: float) -> tuple[dict[str, Any], float]:
    """The next non-ping message and the wall time it arrived."""
    async with asyncio.timeout(within_s):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] != "ping":
                return message, time.time()


async def test_an_update_through_one_replica_reaches_sockets_on_both_within_200_ms(
    replicas: list[str], pg_database_url: str, tmp_path: Path
) -> None:
    a, b = replicas
    async with httpx.AsyncClient(base_url=a) as http_a, httpx.AsyncClient(base_url=b) as http_b:
        alice = await _sign_up(http_a)
        bob = await _sign_up(http_b)
        space_id, camera_id = await _space_with_camera(http_a, alice["access_token"])
        bobs_space, _ = await _space_with_camera(http_b, bob["access_token"])
        database = Database(
            Settings(data_dir=tmp_path, database=DatabaseSettings(url=pg_database_url))
        )
        try:
            event_ids = []
            for _ in range(2):
                async with database.transaction() as session:
                    event = await record_event(
                        session,
                        space_id=space_id,
                        camera_id=camera_id,
                        kind=EventKind.CATCH,
                        label="person",
                        started_at=T0,
                    )
                    event_ids.append(event.id)
        finally:
            await database.dispose()

        async with (
            _socket(a, alice["access_token"], space_id) as alice_on_a,
            _socket(b, alice["access_token"], space_id) as alice_on_b,
            _socket(a, bob["access_token"], bobs_space) as bob_on_a,
        ):
            auth = {"Authorization": f"Bearer {alice['access_token']}"}
            # Warm-up: the first review pays for B's cold paths.
            warm = await http_b.patch(
                f"/api/v1/events/{event_ids[0]}", json={"review_state": "seen"}, headers=auth
            )
            assert warm.status_code == 200, warm.text
            for ws in (alice_on_a, alice_on_b):
                await _next_update(ws, 5)

            asked = time.time()
            review = await http_b.patch(
                f"/api/v1/events/{event_ids[1]}", json={"review_state": "confirmed"}, headers=auth
            )
            assert review.status_code == 200, review.text
            update, arrived = await _next_update(alice_on_a, 2)
            assert update["type"] == "event.updated"
            assert update["data"]["id"] == event_ids[1]
            assert update["data"]["review_state"] == "confirmed"
            published = datetime.fromisoformat(update["at"]).timestamp()
            latency = arrived - published
            print(  # noqa: T201 - the figure the issue asks for
                f"published on B -> received on A: {latency * 1000:.1f} ms; "
                f"PATCH sent -> received: {(arrived - asked) * 1000:.1f} ms"
            )
            assert 0 <= latency < MAX_LATENCY_S
            same, _ = await _next_update(alice_on_b, 2)
            assert same["data"]["id"] == event_ids[1]

            with pytest.raises(TimeoutError):
                await _next_update(bob_on_a, 0.5)


async def test_a_catch_recorded_by_a_worker_reaches_both_replicas_within_200_ms(
    replicas: list[str], ingest_side: CatchWriter
) -> None:
    a, b = replicas
    async with httpx.AsyncClient(base_url=a) as http:
        alice = await _sign_up(http)
        bob = await _sign_up(http)
        space_id, camera_id = await _space_with_camera(http, alice["access_token"])
        bobs_space, _ = await _space_with_camera(http, bob["access_token"])
        guard = await http.post(
            "/api/v1/guards",
            json={
                "space_id": space_id,
                "name": "Door",
                "instruction": "a person at the door",
                "camera_ids": [camera_id],
            },
            headers={"Authorization": f"Bearer {alice['access_token']}"},
        )
        assert guard.status_code == 201, guard.text
    guard_id = guard.json()["id"]

    async def catch(track: str) -> str:
        match = Match(guard_id, track, "person", 0.8, None, (0.1, 0.1, 0.3, 0.6), time.time(), 0, 1)
        await ingest_side.write(
            CatchContext(space_id, camera_id),
            match,
            np.zeros((48, 64, 3), np.uint8),
            track_db_id=track,
        )
        return catch_id(guard_id, camera_id, track)

    async with (
        _socket(a, alice["access_token"], space_id) as alice_on_a,
        _socket(b, alice["access_token"], space_id) as alice_on_b,
        _socket(a, bob["access_token"], bobs_space) as bob_on_a,
    ):
        # Warm-up: the worker's first catch pays for its cold paths (and its start).
        await catch("warm-up")
        for ws in (alice_on_a, alice_on_b):
            await _next_update(ws, 30)

        expected = await catch("t-2")
        for ws in (alice_on_a, alice_on_b):
            created, arrived = await _next_update(ws, 5)
            assert created["type"] == "event.created"
            assert created["data"]["id"] == expected
            assert created["data"]["has_snapshot"]
            latency = arrived - datetime.fromisoformat(created["at"]).timestamp()
            print(f"catch committed by the worker -> socket: {latency * 1000:.1f} ms")  # noqa: T201
            assert 0 <= latency < MAX_LATENCY_S

        with pytest.raises(TimeoutError):
            await _next_update(bob_on_a, 0.5)
