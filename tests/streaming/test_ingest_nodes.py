"""Two `orin ingest` processes on one PostgreSQL database split the cameras; when one is killed
with SIGKILL the other runs all of them within the lease time, and the dead one's FFmpeg
processes die with it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from sqlalchemy import select, update

from orin.ingest.layout import CameraFiles
from orin.models.lease import Lease
from orin.models.user import User
from tests.cli.helpers import START_GUARD_S
from tests.fixtures.api import Api
from tests.fixtures.cameras import FakeCameraServer

LEASE_TTL_S = 6
"""Short enough for a quick test, long enough that a tick on a loaded CI machine renews in time."""
CAMERAS = 4


def start_node(api: Api) -> subprocess.Popen[bytes]:
    settings = api.runtime.settings
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ORIN_")},
        "ORIN_DATABASE_URL": settings.database_url,
        "ORIN_DATA_DIR": str(settings.data_dir),
        "ORIN_INGEST_LEASE_TTL_S": str(LEASE_TTL_S),
        "ORIN_INGEST_DEMO_CAMERA": "false",
        "ORIN_INGEST_BACKOFF_MAX_S": "2",
        "ORIN_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "orin", "ingest"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def holders(api: Api) -> dict[str, str]:
    async with api.database.transaction() as session:
        rows = await session.execute(
            select(Lease.name, Lease.holder).where(Lease.name.startswith("camera:"))
        )
        return {name.removeprefix("camera:"): holder for name, holder in rows}


async def all_leases(api: Api) -> list[tuple[str, str, object]]:
    async with api.database.transaction() as session:
        rows = await session.execute(select(Lease.name, Lease.holder, Lease.expires_at))
        return [(name, holder, expires) for name, holder, expires in rows]


def fresh(path: Path, within_s: float) -> bool:
    return path.exists() and time.time() - path.stat().st_mtime < within_s


def ffmpeg_children(pid: int) -> list[psutil.Process]:
    try:
        return [p for p in psutil.Process(pid).children() if "ffmpeg" in p.name()]
    except psutil.NoSuchProcess:
        return []


@pytest.mark.parametrize("adapter_set", ["scaled"], indirect=True)
async def test_two_nodes_split_cameras_and_survive_a_kill(
    api: Api, fake_cameras: FakeCameraServer
) -> None:
    alice = await api.sign_up()
    async with api.database.transaction() as session:
        await session.execute(update(User).where(User.id == alice.user_id).values(plan="pro"))
    space = await alice.create_space()
    ids = [
        (
            await alice.create_camera(
                space["id"], name=f"cam {n}", main_url=fake_cameras.url("pattern")
            )
        )["id"]
        for n in range(CAMERAS)
    ]
    await api.disable_other_cameras()
    playlists = [CameraFiles.of(api.runtime.settings, cid).playlist for cid in ids]
    nodes = [start_node(api), start_node(api)]
    started = time.monotonic()
    try:
        # Two fresh processes import ORIN first: slow while the other test workers load the CPU.
        deadline = time.monotonic() + START_GUARD_S
        while True:
            held = await holders(api)
            split = sorted(list(held.values()).count(h) for h in set(held.values()))
            streaming = all(fresh(path, 3) for path in playlists)
            if len(held) == CAMERAS and split == [2, 2] and streaming:
                break
            assert time.monotonic() < deadline, f"no even split: {await all_leases(api)}"
            await asyncio.sleep(0.5)

        print(f"even split after {time.monotonic() - started:.1f}s")  # noqa: T201
        victim = next(node for node in nodes if ffmpeg_children(node.pid))
        survivor = next(node for node in nodes if node is not victim)
        orphans = ffmpeg_children(victim.pid)
        assert len(orphans) == 2
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed_at = time.monotonic()

        # The survivor holds every lease within the lease time plus a tick or two...
        leased_s: float | None = None
        while True:
            held = await holders(api)
            if leased_s is None and len(held) == CAMERAS and len(set(held.values())) == 1:
                leased_s = time.monotonic() - killed_at
            running = len(ffmpeg_children(survivor.pid)) == CAMERAS
            if leased_s is not None and running and all(fresh(path, 2) for path in playlists):
                break
            # ...and video flows again soon after (FFmpeg start and a first segment; slower
            # on a loaded machine, hence the wider bound).
            assert time.monotonic() - killed_at < LEASE_TTL_S + 25, f"no takeover: {held}"
            await asyncio.sleep(0.25)
        assert leased_s is not None
        assert leased_s < LEASE_TTL_S + 4
        await asyncio.sleep(0.5)
        assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in orphans)
    finally:
        for node in nodes:
            if node.poll() is None:
                node.send_signal(signal.SIGTERM)
        for node in nodes:
            try:
                node.wait(timeout=15)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait()
