"""Realtime WebSocket fan-out: N clients on one `orin api`, publish → client latency, memory.

P7, fan-out: one `orin api` process (embedded SQLite, Redis for pub/sub so this process can
publish into it) and N WebSocket clients (default 10 000) spread over K client processes
(default 4), each signed in by its first ``auth`` message and subscribed to the same space.
``--events`` updates (the size of a real ``event.created``) are published one every
``--interval`` s through Redis the way producers do (`orin.realtime.publisher.publish_event`).
Latency = arrival at the client - the update's ``at`` (stamped just before the Redis publish;
one host, one clock), over every delivery: p50, p99, max; plus, per update, the time until the
last client had it, and the API's CPU seconds per update. API RSS per client = (RSS with the N
sockets open - RSS before) / N.

P3 part, catch stored → client receives: ``--catches`` catches recorded by this process in the
API's database (`record_event`, committed) with `publish_after_commit`, as the worker does for
``event.created``; ``at`` is stamped just after the commit.

Baseline in the same run (``--no-baseline`` skips it): a bare broadcast server — websockets'
own asyncio server and ``broadcast()``, fed by the same Redis channel — with the same clients:
no ASGI, no authentication, no subscriptions, no access checks; the floor of a Python WebSocket
fan-out on this machine.

The clients are a minimal WebSocket implementation on asyncio protocols (frames parsed,
payloads kept, JSON read only after the run) so the client side spends as little CPU as
possible while the server works; they answer protocol and app-level pings. They offer no
permessage-deflate unless ``--deflate`` (browsers do offer it).

    uv run python bench/realtime_bench.py [--clients 10000] [--client-procs 4] [--events 20]
        [--interval 1.0] [--catches 10] [--users 10] [--no-baseline] [--deflate]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from orin.cache.base import PubSub

GOAL_P99_S = 0.2
IDLE_PROBE_S = 3.0
REDIS_URL = "redis://127.0.0.1:6379/0"
CHANNEL = "orin.rt"  # orin.realtime.publisher.CHANNEL, without importing ORIN in clients
STRONG_PASSWORD = "correct-Horse-battery-9-staple"


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def raise_open_files_limit() -> int:
    """Lift this process's (and its children's) open-file limit to the hard limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# --- the client side (runs in `--role client` processes) ---------------------------------------


class WsClient(asyncio.Protocol):
    """One WebSocket client: handshake, masked sends, unmasked frames in, pings answered."""

    def __init__(self, host: str, path: str, deflate: bool) -> None:
        loop = asyncio.get_running_loop()
        self.host = host
        self.path = path
        self.deflate = deflate
        self.upgraded: asyncio.Future[None] = loop.create_future()
        self.buffer = bytearray()
        self.texts: deque[bytes] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.records: list[tuple[float, bytes]] = []
        self.recording = False
        self.closed_code: int | None = None
        self.inflater: Any = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {self.path} HTTP/1.1",
            f"Host: {self.host}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if self.deflate:
            lines.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
        transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError("closed during the handshake"))
        if self.closed_code is None:
            self.closed_code = 1006
        self._wake()

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buffer += data
        if not self.upgraded.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end])
            del self.buffer[: end + 4]
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                self.upgraded.set_exception(ConnectionError(head.split(b"\r\n", 1)[0].decode()))
                return
            if b"permessage-deflate" in head.lower():
                self.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            self.upgraded.set_result(None)
        self._frames(now)

    def _frames(self, now: float) -> None:
        buf = self.buffer
        pos = 0
        while len(buf) - pos >= 2:
            first, second = buf[pos], buf[pos + 1]
            length = second & 0x7F
            head = 2
            if length == 126:
                if len(buf) - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if len(buf) - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            if len(buf) - pos < head + length:
                break
            payload = bytes(buf[pos + head : pos + head + length])
            pos += head + length
            if first & 0x40 and self.inflater is not None:
                payload = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
            self._frame(first & 0x0F, payload, now)
        del buf[:pos]

    def _frame(self, opcode: int, payload: bytes, now: float) -> None:
        if opcode == 0x1:
            if payload.startswith(b'{"type":"ping"'):
                self.send(0x1, b'{"type":"pong"}')
            elif self.recording:
                self.records.append((now, payload))
            else:
                self.texts.append(payload)
                self._wake()
        elif opcode == 0x9:
            self.send(0xA, payload)
        elif opcode == 0x8:
            self.closed_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            if self.transport is not None:
                self.transport.close()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def send(self, opcode: int, payload: bytes) -> None:
        """One masked frame (client frames must be masked)."""
        if self.transport is None or self.transport.is_closing():
            return
        size = len(payload)
        if size < 126:
            header = bytes([0x80 | opcode, 0x80 | size])
        else:
            header = bytes([0x80 | opcode, 0x80 | 126]) + size.to_bytes(2, "big")
        key = os.urandom(4)
        mask = int.from_bytes((key * (size // 4 + 1))[:size], "big")
        masked = (int.from_bytes(payload, "big") ^ mask).to_bytes(size, "big") if size else b""
        self.transport.write(header + key + masked)

    async def next_text(self, within_s: float = 30.0) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while not self.texts:
            if self.closed_code is not None:
                raise ConnectionError(f"closed {self.closed_code}")
            self.waiter = loop.create_future()
            async with asyncio.timeout_at(deadline):
                await self.waiter
        body: dict[str, Any] = json.loads(self.texts.popleft())
        return body


async def open_client(
    host: str, port: int, token: str | None, space_id: str, deflate: bool
) -> WsClient:
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(
        lambda: WsClient(f"{host}:{port}", "/api/v1/ws", deflate), host, port
    )
    await client.upgraded
    if token is not None:
        client.send(0x1, json.dumps({"type": "auth", "token": token}).encode())
        ready = await client.next_text()
        if ready.get("type") != "ready":
            raise ConnectionError(f"not signed in: {ready}")
        client.send(0x1, json.dumps({"type": "subscribe", "spaces": [space_id]}).encode())
        subscribed = await client.next_text()
        if subscribed.get("spaces") != [space_id]:
            raise ConnectionError(f"not subscribed: {subscribed}")
    client.recording = True
    return client


async def client_main(args: argparse.Namespace) -> None:
    """Open ``--count`` sockets, say so, keep them until told to report, then report."""
    tokens: list[str | None] = [None]
    if args.tokens:
        tokens = json.loads(await asyncio.to_thread(Path(args.tokens).read_text))
    clients: list[WsClient] = []
    errors: list[str] = []
    gate = asyncio.Semaphore(48)

    async def one(index: int) -> None:
        async with gate:
            for attempt in range(3):
                try:
                    clients.append(
                        await open_client(
                            args.host,
                            args.port,
                            tokens[index % len(tokens)],
                            args.space,
                            args.deflate,
                        )
                    )
                    return
                except (OSError, TimeoutError) as exc:
                    if attempt == 2:
                        errors.append(f"{type(exc).__name__}: {exc}")
                    await asyncio.sleep(0.5)

    await asyncio.gather(*(one(index) for index in range(args.count)))
    # The sockets live until the report: keep this harness's own full collections (which
    # would stamp arrivals late) off them.
    gc.collect()
    gc.freeze()
    print(json.dumps({"ready": len(clients), "failed": len(errors), "errors": errors[:3]}))
    sys.stdout.flush()
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    latencies: dict[str, dict[str, list[float]]] = {}
    for client in clients:
        for arrived, payload in client.records:
            message = json.loads(payload)
            data = message.get("data") or {}
            if message.get("type") != "event.created" or "bench" not in data:
                continue
            at = datetime.fromisoformat(message["at"]).timestamp()
            by_seq = latencies.setdefault(str(data["bench"]), {})
            by_seq.setdefault(str(data["seq"]), []).append(arrived - at)
    closed = sum(client.closed_code is not None for client in clients)
    print(json.dumps({"latencies": latencies, "closed": closed}))
    sys.stdout.flush()
    for client in clients:
        if client.transport is not None:
            client.transport.abort()


# --- the bare baseline server (runs in a `--role bare-server` process) --------------------------


async def bare_server_main(args: argparse.Namespace) -> None:
    """websockets' server + ``broadcast()`` of every message on the Redis channel."""
    import redis.asyncio as aioredis
    from websockets.asyncio.server import ServerConnection, broadcast, serve
    from websockets.exceptions import ConnectionClosed

    connections: set[ServerConnection] = set()

    async def handler(connection: ServerConnection) -> None:
        connections.add(connection)
        try:
            async for _ in connection:
                pass
        except ConnectionClosed:
            pass
        finally:
            connections.discard(connection)

    redis = aioredis.from_url(REDIS_URL)
    pubsub = redis.pubsub()
    await pubsub.subscribe(args.channel)
    async with serve(
        handler,
        "127.0.0.1",
        args.port,
        compression="deflate" if args.deflate else None,
        ping_interval=None,
        backlog=4096,
    ):
        print("ready")
        sys.stdout.flush()
        async for message in pubsub.listen():
            if message["type"] == "message":
                broadcast(connections, message["data"].decode())


# --- the orchestrating side ---------------------------------------------------------------------


@dataclass
class Phase:
    """What one set of clients saw."""

    connected: int = 0
    failed: int = 0
    connect_s: float = 0.0
    rss_before: int = 0
    rss_after: int = 0
    cpu_per_event_s: float = 0.0
    """Server CPU per update, its idle work (pings, access refresh) subtracted."""
    idle_cpu_per_s: float = 0.0
    closed: int = 0
    latencies: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def all(self, tag: str) -> list[float]:
        return [value for values in self.latencies.get(tag, {}).values() for value in values]

    def last_per_update(self, tag: str) -> list[float]:
        return [max(values) for values in self.latencies.get(tag, {}).values() if values]


async def run_clients(
    args: argparse.Namespace,
    port: int,
    server: psutil.Process,
    tokens_file: str | None,
    space_id: str,
    publish: Callable[[Phase], Awaitable[None]],
) -> Phase:
    """Start the client processes, wait for every socket, publish, collect the latencies."""
    phase = Phase(rss_before=server.memory_info().rss)
    share, extra = divmod(args.clients, args.client_procs)
    started = time.monotonic()
    procs = []
    for index in range(args.client_procs):
        command = [
            sys.executable,
            __file__,
            "--role",
            "client",
            "--port",
            str(port),
            "--count",
            str(share + (index < extra)),
            "--space",
            space_id,
        ]
        if tokens_file:
            command += ["--tokens", tokens_file]
        if args.deflate:
            command.append("--deflate")
        procs.append(
            await asyncio.create_subprocess_exec(
                *command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, limit=1 << 28
            )
        )
    errors: list[str] = []
    for proc in procs:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 600)
        ready = json.loads(line)
        phase.connected += ready["ready"]
        phase.failed += ready["failed"]
        errors += ready["errors"]
    phase.connect_s = time.monotonic() - started
    if errors:
        print(f"  connect errors (first): {errors[:3]}")
    await asyncio.sleep(2.0)  # let the server settle before reading its memory
    phase.rss_after = server.memory_info().rss
    await publish(phase)
    await asyncio.sleep(1.0)
    for proc in procs:
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.write(b"report\n")
        await proc.stdin.drain()
        report = json.loads(await asyncio.wait_for(proc.stdout.readline(), 300))
        phase.closed += report["closed"]
        for tag, by_seq in report["latencies"].items():
            mine = phase.latencies.setdefault(tag, {})
            for seq, values in by_seq.items():
                mine.setdefault(seq, []).extend(values)
    for proc in procs:
        await proc.wait()
    return phase


async def fan_out(
    args: argparse.Namespace,
    phase: Phase,
    pubsub: PubSub,
    server: psutil.Process,
    space_id: str,
    camera_id: str,
) -> None:
    """Publish ``--events`` updates ``--interval`` apart; note the server's CPU per update."""
    from orin.realtime.publisher import publish_event

    idle = server.cpu_times()
    await asyncio.sleep(IDLE_PROBE_S)
    cpu = server.cpu_times()
    phase.idle_cpu_per_s = (cpu.user + cpu.system - idle.user - idle.system) / IDLE_PROBE_S
    for seq in range(args.events):
        data = fake_event(space_id, camera_id) | {"bench": "fanout", "seq": seq}
        await publish_event(
            pubsub, "event.created", space_id=space_id, camera_id=camera_id, data=data
        )
        await asyncio.sleep(args.interval)
    spent = server.cpu_times()
    busy = spent.user + spent.system - cpu.user - cpu.system
    phase.cpu_per_event_s = busy / max(1, args.events) - phase.idle_cpu_per_s * args.interval


def fake_event(space_id: str, camera_id: str) -> dict[str, Any]:
    """An ``event.created`` body the size of a real one (`orin.realtime.publisher.event_data`)."""
    now = datetime.now(UTC).isoformat()
    return {
        "id": uuid.uuid4().hex,
        "space_id": space_id,
        "camera_id": camera_id,
        "guard_id": uuid.uuid4().hex,
        "kind": "catch",
        "label": "person",
        "confidence": 0.87,
        "zone": "Driveway",
        "track_id": uuid.uuid4().hex,
        "started_at": now,
        "ended_at": None,
        "attributes": {"box": [0.31, 0.22, 0.18, 0.47], "dwell_s": 2.4, "count": 1},
        "review_state": "new",
        "notes": "",
        "reviewed_by": None,
        "reviewed_at": None,
        "created_at": now,
        "has_snapshot": True,
        "has_thumbnail": True,
        "has_clip": False,
    }


def gc_pauses_logged(log: Path, offset: int) -> list[float]:
    """The server's ``gc.long_pause`` warnings (ms) written after ``offset`` in its log."""
    with log.open("rb") as text:
        text.seek(offset)
        lines = text.read().decode(errors="replace").splitlines()
    return [
        float(row.split("paused_ms=")[1].split()[0])
        for row in lines
        if "gc.long_pause" in row and "paused_ms=" in row
    ]


def line(label: str, values: list[float], expected: int | None = None) -> str:
    text = (
        f"  {label}: p50 {percentile(values, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(values, 0.99) * 1000:.1f} ms, max {max(values, default=0) * 1000:.1f} ms"
        f" (n={len(values)}"
    )
    if expected is not None:
        text += f", missing {expected - len(values)}"
    return text + ")"


async def sign_up_people(url: str, users: int, database: Any) -> tuple[list[str], str, str]:
    """``users`` accounts, all members of one space with one camera; their tokens."""
    from orin.models.space import SpaceMember, SpaceRole

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        tokens: list[str] = []
        ids: list[str] = []
        for _ in range(users):
            response = await http.post(
                "/api/v1/auth/register",
                json={
                    "email": f"u-{uuid.uuid4().hex[:10]}@example.com",
                    "password": STRONG_PASSWORD,
                },
            )
            response.raise_for_status()
            tokens.append(response.json()["access_token"])
            ids.append(response.json()["user"]["id"])
        auth = {"Authorization": f"Bearer {tokens[0]}"}
        space = await http.post(
            "/api/v1/spaces", json={"name": "Warehouse", "timezone": "UTC"}, headers=auth
        )
        space.raise_for_status()
        space_id = space.json()["id"]
        camera = await http.post(
            "/api/v1/cameras",
            json={
                "space_id": space_id,
                "name": "Dock",
                "main_url": "rtsp://127.0.0.1:8554/dock",
            },
            headers=auth,
        )
        camera.raise_for_status()
    async with database.transaction() as session:
        for user_id in ids[1:]:
            session.add(SpaceMember(space_id=space_id, user_id=user_id, role=SpaceRole.VIEWER))
    return tokens, space_id, camera.json()["id"]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--client-procs", type=int, default=4)
    parser.add_argument("--events", type=int, default=20, help="fan-out updates published")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between updates")
    parser.add_argument("--catches", type=int, default=10, help="P3: catches stored")
    parser.add_argument("--users", type=int, default=10, help="accounts the sockets sign in as")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--deflate", action="store_true", help="clients offer permessage-deflate")
    parser.add_argument("--role", default="bench", help=argparse.SUPPRESS)
    parser.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--space", default="", help=argparse.SUPPRESS)
    parser.add_argument("--tokens", default="", help=argparse.SUPPRESS)
    parser.add_argument("--channel", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "client":
        await client_main(args)
        return
    if args.role == "bare-server":
        await bare_server_main(args)
        return
    await bench(args)


async def bench(args: argparse.Namespace) -> None:
    from bench_services import free_port, quiet_logs, start_api, wait_ready
    from orin.cache.redis import RedisPubSub, create_redis_client
    from orin.config import RedisSettings, Settings
    from orin.db import Database
    from orin.events.service import record_event
    from orin.models.event import EventKind
    from orin.realtime.publisher import event_data, publish_after_commit

    quiet_logs()
    limit = raise_open_files_limit()
    if limit < args.clients + 1024:
        raise SystemExit(f"the open-file hard limit ({limit}) is too low for {args.clients}")
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="orin-realtime-bench-") as tmp:
        data_dir = Path(tmp)
        env = {key: value for key, value in os.environ.items() if not key.startswith("ORIN_")}
        env.update(
            ORIN_DATA_DIR=str(data_dir),
            ORIN_REDIS_URL=REDIS_URL,
            ORIN_REDIS_KEY_PREFIX=prefix,
            ORIN_LOG_LEVEL="WARNING",
            ORIN_RATELIMIT_ENABLED="false",
            ORIN_AUTH_BCRYPT_ROUNDS="4",
            ORIN_AUTH_BREACHED_CHECK="false",
            ORIN_CAMERAS_ALLOWED_NETWORKS='["127.0.0.1/32"]',
        )
        port = free_port()
        log = data_dir / "api.log"
        log_from = 0
        api = await asyncio.to_thread(start_api, env, port, log)
        settings = Settings(data_dir=data_dir, redis=RedisSettings(url=REDIS_URL))
        database = Database(settings)
        redis = create_redis_client(settings.redis)
        pubsub = RedisPubSub(redis, key_prefix=prefix, url=REDIS_URL)
        try:
            await wait_ready(f"http://127.0.0.1:{port}", api, log)
            tokens, space_id, camera_id = await sign_up_people(
                f"http://127.0.0.1:{port}", args.users, database
            )
            tokens_file = data_dir / "tokens.json"
            tokens_file.write_text(json.dumps(tokens))
            server = psutil.Process(api.pid)
            # Load the text-embedding model before anything is timed.
            async with database.transaction() as session:
                await record_event(
                    session,
                    space_id=space_id,
                    camera_id=camera_id,
                    kind=EventKind.CATCH,
                    label="person",
                    started_at=datetime.now(UTC),
                )

            async def orin_run(phase: Phase) -> None:
                nonlocal log_from
                log_from = log.stat().st_size
                await fan_out(args, phase, pubsub, server, space_id, camera_id)
                for seq in range(args.catches):
                    async with database.transaction() as session:
                        event = await record_event(
                            session,
                            space_id=space_id,
                            camera_id=camera_id,
                            kind=EventKind.CATCH,
                            label="person",
                            confidence=0.9,
                            started_at=datetime.now(UTC),
                        )
                        publish_after_commit(
                            session,
                            pubsub,
                            "event.created",
                            space_id=space_id,
                            camera_id=camera_id,
                            data=event_data(event) | {"bench": "catch", "seq": seq},
                        )
                    await asyncio.sleep(args.interval)

            orin = await run_clients(args, port, server, str(tokens_file), space_id, orin_run)
            async with httpx.AsyncClient() as http:
                metrics = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            dropped = next(
                (
                    row.split()[1]
                    for row in metrics.splitlines()
                    if row.startswith("orin_ws_slow_clients_dropped_total ")
                ),
                "?",
            )
        finally:
            api.terminate()
            try:
                api.wait(30)
            except subprocess.TimeoutExpired:
                api.kill()
            await database.dispose()
        pauses = gc_pauses_logged(log, log_from)

        bare: Phase | None = None
        if not args.no_baseline:
            bare_port = free_port()
            channel = prefix + "bare:" + CHANNEL
            bare_server = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--role",
                "bare-server",
                "--port",
                str(bare_port),
                "--channel",
                channel,
                *(["--deflate"] if args.deflate else []),
                stdout=subprocess.PIPE,
            )
            try:
                assert bare_server.stdout is not None
                await asyncio.wait_for(bare_server.stdout.readline(), 30)
                bare_pubsub = RedisPubSub(redis, key_prefix=prefix + "bare:", url=REDIS_URL)
                bare_process = psutil.Process(bare_server.pid)
                bare = await run_clients(
                    args,
                    bare_port,
                    bare_process,
                    None,
                    space_id,
                    lambda phase: fan_out(
                        args, phase, bare_pubsub, bare_process, space_id, camera_id
                    ),
                )
            finally:
                bare_server.terminate()
                await bare_server.wait()

        await redis.aclose()

    def report(title: str, phase: Phase, catches: bool) -> None:
        print(title)
        print(
            f"  sockets: {phase.connected} open ({phase.failed} failed) in "
            f"{phase.connect_s:.1f} s; closed by the server during the run: {phase.closed}"
        )
        fan = phase.all("fanout")
        print(line("fan-out, publish → client", fan, phase.connected * args.events))
        last = phase.last_per_update("fanout")
        if last:
            print(
                f"  per update, until the last client had it: p50 "
                f"{percentile(last, 0.5) * 1000:.1f} ms, max {max(last) * 1000:.1f} ms"
            )
        print(
            f"  server CPU per update: {phase.cpu_per_event_s * 1000:.1f} ms "
            f"({phase.cpu_per_event_s / max(1, phase.connected) * 1e6:.1f} µs per client); "
            f"idle: {phase.idle_cpu_per_s * 1000:.0f} ms/s"
        )
        grown = phase.rss_after - phase.rss_before
        print(
            f"  server RSS: {phase.rss_before / 2**20:.0f} MiB before, "
            f"{phase.rss_after / 2**20:.0f} MiB with the sockets → "
            f"{grown / max(1, phase.connected) / 1024:.1f} KiB per client"
        )
        if catches:
            print(
                line(
                    "P3 catch stored (commit) → client",
                    phase.all("catch"),
                    phase.connected * args.catches,
                )
            )

    print(
        f"\nRealtime fan-out: {args.clients} clients over {args.client_procs} client processes, "
        f"{args.events} updates {args.interval} s apart, {args.users} accounts; "
        f"permessage-deflate {'offered' if args.deflate else 'off'}; {os.cpu_count()} cores"
    )
    report("ORIN `orin api` (SQLite + Redis pub/sub):", orin, catches=True)
    print(f"  slow clients dropped: {dropped}")
    longest = f", longest {max(pauses):.0f} ms" if pauses else ""
    print(f"  server GC pauses >= 50 ms while publishing: {len(pauses)}{longest}")
    p99 = percentile(orin.all("fanout"), 0.99)
    verdict = "met" if p99 <= GOAL_P99_S else "NOT met"
    print(f"  goal fan-out p99 <= {GOAL_P99_S * 1000:.0f} ms: {verdict}")
    if bare is not None:
        report(
            "baseline: bare websockets broadcast (no ASGI, auth, subscriptions or checks):",
            bare,
            catches=False,
        )
        bare_p99 = percentile(bare.all("fanout"), 0.99)
        print(f"ORIN / baseline fan-out p99: {p99 / bare_p99:.2f}x")
    load_after = os.getloadavg()
    print(
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        "(1 min; the machine is shared)"
    )


if __name__ == "__main__":
    asyncio.run(main())
