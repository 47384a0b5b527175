"""The per-process registry of realtime sockets and the fan-out of live updates to them.

One pub/sub subscription per API process (channel `orin.realtime.publisher.CHANNEL`), not
one per client. For each update the hub looks up the local sockets subscribed to its space or
camera (two dict lookups), checks each recipient's *current* access in memory, and pushes the
same pre-built frame (the published JSON, decoded once) into their queues: no database query,
no serialisation and no await per client on the hot path.

Access is cached per user and re-read in one batch for every connected user each
`RealtimeSettings.access_refresh_s` (memberships, live camera shares, whether the account and
each socket's session still exist), and at once for the users named by an
`orin.realtime.publisher.invalidate_access` message. A user who lost access stops receiving
updates from then on and is told which subscriptions ended (``unsubscribed``); a signed-out
session or a deleted account closes the socket (4401).

One ticker task sends the pings, closes sockets whose pongs stopped (4408) and sockets whose
access token expired (4401).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import AsyncIterator, Collection, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Final

import orjson
import structlog

from orin.auth import session_cache
from orin.auth.keys import KeyRing
from orin.cache.base import Cache, PubSub, Subscription
from orin.config import Settings
from orin.db import Database
from orin.errors import AdapterUnavailable
from orin.models.base import utcnow
from orin.realtime import protocol
from orin.realtime.connection import Connection, text_frame
from orin.realtime.metrics import RealtimeMetrics
from orin.realtime.protocol import ACCESS_CHANGED, UPDATE_TYPES, CloseCode
from orin.realtime.publisher import CHANNEL
from orin.realtime.repository import Access, camera_spaces, load_access, reading

if TYPE_CHECKING:
    from orin.runtime.process import Runtime

logger = structlog.get_logger(__name__)

_RESUBSCRIBE_MAX_S: Final = 10.0
_NOBODY: Final[frozenset[Connection]] = frozenset()


class RealtimeHub:
    """Sockets of this process, their subscriptions, and the users' cached access."""

    def __init__(
        self,
        settings: Settings,
        *,
        pubsub: PubSub,
        database: Database,
        cache: Cache,
        keyring: KeyRing | None,
        metrics: RealtimeMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.config = settings.realtime
        self.pubsub = pubsub
        self.database = database
        self.cache = cache
        self.keyring = keyring
        self.metrics = metrics or RealtimeMetrics()
        self.running = False
        self.connections: set[Connection] = set()
        self._by_user: dict[str, set[Connection]] = {}
        self._by_space: dict[str, set[Connection]] = {}
        self._by_camera: dict[str, set[Connection]] = {}
        self._access: dict[str, Access] = {}
        self._loaded_at: dict[str, float] = {}
        """When each user's access was read (monotonic seconds)."""
        self._pings: list[tuple[float, int, Connection]] = []
        """Heap of (when the ping is due on the loop's clock, tie-break, socket)."""
        self._expiries: list[tuple[float, int, Connection]] = []
        """Heap of (when the access token expires, tie-break, socket)."""
        self._order = itertools.count()
        self._subscription: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._refreshes: set[asyncio.Task[None]] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to the updates channel and start the listener, ticker and refresher."""
        if self.running:
            return
        self._subscription = await self.pubsub.subscribe(CHANNEL)
        self._tasks = [
            asyncio.create_task(self._listen(), name="realtime-listen"),
            asyncio.create_task(self._tick(), name="realtime-tick"),
            asyncio.create_task(self._refresh_loop(), name="realtime-refresh"),
        ]
        self.running = True
        logger.info("realtime.started", channel=CHANNEL)

    async def stop(self) -> None:
        """Close every socket (1001) and stop listening."""
        self.running = False
        for connection in list(self.connections):
            connection.close(CloseCode.GOING_AWAY, "server shutting down")
        for task in [*self._tasks, *self._refreshes]:
            task.cancel()
        for task in [*self._tasks, *self._refreshes]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._subscription is not None:
            with contextlib.suppress(AdapterUnavailable):
                await self._subscription.close()
            self._subscription = None

    # -- registry ----------------------------------------------------------------------------

    def register(self, connection: Connection) -> None:
        self.connections.add(connection)
        self._by_user.setdefault(connection.user_id, set()).add(connection)
        heapq.heappush(self._pings, (connection.next_ping_at, next(self._order), connection))
        self.renewed(connection)
        self.metrics.connections.inc()

    def renewed(self, connection: Connection) -> None:
        """Note the socket's (new) token expiry."""
        heapq.heappush(self._expiries, (connection.expires_at, next(self._order), connection))

    def unregister(self, connection: Connection) -> None:
        if connection not in self.connections:
            return
        self.connections.discard(connection)
        self._forget(connection, connection.spaces, connection.cameras)
        connection.spaces = set()
        connection.cameras = {}
        mine = self._by_user.get(connection.user_id)
        if mine is not None:
            mine.discard(connection)
            if not mine:
                del self._by_user[connection.user_id]
                self._access.pop(connection.user_id, None)
                self._loaded_at.pop(connection.user_id, None)
        self.metrics.connections.dec()

    def _forget(
        self, connection: Connection, spaces: Iterable[str], cameras: Iterable[str]
    ) -> None:
        for index, keys in ((self._by_space, spaces), (self._by_camera, cameras)):
            for key in keys:
                members = index.get(key)
                if members is not None:
                    members.discard(connection)
                    if not members:
                        del index[key]

    async def subscribe(
        self, connection: Connection, spaces: Collection[str], cameras: Collection[str]
    ) -> None:
        """Add the spaces and cameras the user may see now; name the others in an ``error``;
        answer ``subscribed`` with the socket's whole subscription."""
        user_id = connection.user_id
        now = time.time()
        access = self._recent_access(user_id)
        async with reading(self.database) as db:
            homes = await camera_spaces(db, set(cameras)) if cameras else {}
            if access is None or not _allows_all(access, spaces, cameras, homes, now):
                # Not known, or it says no: ask the database (the user may just have been
                # invited or shared with).
                access = (await load_access(db, [user_id])).get(user_id)
                if access is None:
                    connection.close(CloseCode.UNAUTHORIZED, "the account no longer exists")
                    return
                self._set_access(user_id, access)
        if connection.closing:
            return
        new_spaces = {space for space in spaces if space in access.spaces}
        new_cameras = {
            camera: homes[camera]
            for camera in cameras
            if camera in homes and access.sees(homes[camera], camera, now)
        }
        refused_spaces = sorted(set(spaces) - new_spaces)
        refused_cameras = sorted(set(cameras) - set(new_cameras))
        total = len(connection.spaces | new_spaces) + len(connection.cameras | new_cameras)
        if total > self.config.max_subscriptions:
            self.reply(
                connection,
                protocol.error(
                    "too_many_subscriptions",
                    f"a socket may follow {self.config.max_subscriptions} spaces and "
                    "cameras at most; nothing was added",
                ),
            )
            new_spaces, new_cameras = set(), {}
        for space in new_spaces - connection.spaces:
            self._by_space.setdefault(space, set()).add(connection)
        for camera in new_cameras.keys() - connection.cameras.keys():
            self._by_camera.setdefault(camera, set()).add(connection)
        connection.spaces |= new_spaces
        connection.cameras.update(new_cameras)
        if refused_spaces or refused_cameras:
            self.reply(
                connection,
                protocol.error(
                    "not_found",
                    "no such space or camera, or you may not see it; not subscribed",
                    spaces=refused_spaces,
                    cameras=refused_cameras,
                ),
            )
        self.reply(connection, protocol.subscribed(connection.spaces, connection.cameras))

    def unsubscribe(
        self, connection: Connection, spaces: Collection[str], cameras: Collection[str]
    ) -> None:
        """Remove these spaces and cameras; answer ``subscribed`` with what is left."""
        gone_spaces = connection.spaces & set(spaces)
        gone_cameras = connection.cameras.keys() & set(cameras)
        self._forget(connection, gone_spaces, gone_cameras)
        connection.spaces -= gone_spaces
        for camera in gone_cameras:
            del connection.cameras[camera]
        self.reply(connection, protocol.subscribed(connection.spaces, connection.cameras))

    # -- fan-out -----------------------------------------------------------------------------

    def dispatch(self, data: bytes) -> int:
        """Route one published message to the matching local sockets; returns how many got it."""
        try:
            message: Any = orjson.loads(data)
        except orjson.JSONDecodeError:
            logger.warning("realtime.bad_message", size=len(data))
            return 0
        if not isinstance(message, dict):
            logger.warning("realtime.bad_message", size=len(data))
            return 0
        kind = message.get("type")
        if kind == ACCESS_CHANGED:
            user_ids = message.get("user_ids")
            if isinstance(user_ids, list):
                self.invalidate([str(user_id) for user_id in user_ids])
            return 0
        space_id = message.get("space_id")
        camera_id = message.get("camera_id")
        if kind not in UPDATE_TYPES or not isinstance(space_id, str):
            logger.warning("realtime.bad_message", type=kind)
            return 0
        if not isinstance(camera_id, str):
            camera_id = None
        started = time.perf_counter()
        in_space = self._by_space.get(space_id, _NOBODY)
        on_camera = self._by_camera.get(camera_id, _NOBODY) if camera_id else _NOBODY
        if not in_space and not on_camera:
            return 0
        frame = text_frame(data.decode())
        now = time.time()
        access = self._access
        allowed: dict[str, bool] = {}
        delivered = 0
        slow: list[Connection] = []
        for group, skip in ((in_space, _NOBODY), (on_camera, in_space)):
            for connection in group:
                if connection in skip:
                    continue
                user_id = connection.user_id
                sees = allowed.get(user_id)
                if sees is None:
                    user_access = access.get(user_id)
                    sees = user_access is not None and user_access.sees(space_id, camera_id, now)
                    allowed[user_id] = sees
                if not sees:
                    continue
                if connection.push(frame):
                    delivered += 1
                else:
                    slow.append(connection)
        for connection in slow:
            self.drop_slow(connection)
        self.metrics.delivered.labels(kind).inc(delivered)
        self.metrics.fanout_seconds.observe(time.perf_counter() - started)
        return delivered

    def reply(self, connection: Connection, text: str) -> None:
        """Send one control message to one socket (dropping it if it does not keep up)."""
        if not connection.push(text_frame(text)):
            self.drop_slow(connection)

    def drop_slow(self, connection: Connection) -> None:
        """Close a socket whose client does not keep up (its queue is full)."""
        if connection.closing:
            return
        self.metrics.slow_clients_dropped.inc()
        logger.info("realtime.slow_client_dropped", user=connection.user_id)
        connection.close(CloseCode.TRY_AGAIN_LATER, "too slow: outgoing queue full")

    def broadcast(self, text: str) -> None:
        """Queue a control message to every socket (``resync`` after a pub/sub outage)."""
        frame = text_frame(text)
        for connection in list(self.connections):
            if not connection.push(frame):
                self.drop_slow(connection)

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            subscription = self._subscription
            try:
                if subscription is None:
                    subscription = self._subscription = await self.pubsub.subscribe(CHANNEL)
                    logger.info("realtime.resubscribed", channel=CHANNEL)
                    # Updates published while the subscription was down are lost: say so.
                    self.broadcast(protocol.resync("live updates were interrupted"))
                    delay = 0.1
                async for _channel, data in subscription:
                    try:
                        self.dispatch(data)
                    except Exception:
                        logger.exception("realtime.dispatch_failed")
                return
            except AdapterUnavailable as exc:
                logger.warning("realtime.subscription_lost", error=str(exc), retry_in_s=delay)
                if subscription is not None:
                    with contextlib.suppress(Exception):
                        await subscription.close()
                self._subscription = None
                await asyncio.sleep(delay)
                delay = min(_RESUBSCRIBE_MAX_S, delay * 2)

    # -- liveness and token expiry -----------------------------------------------------------

    async def _tick(self) -> None:
        interval = self.config.ping_interval_s
        step = min(1.0, interval / 4)
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(step)
            try:
                self.check_liveness(loop.time(), time.time())
            except Exception:
                logger.exception("realtime.tick_failed")

    def check_liveness(self, clock: float, now: float) -> None:
        """Close sockets whose token expired or whose pongs stopped; ping the ones due.

        Only the sockets due are looked at (two heaps), not every socket each tick."""
        while self._expiries and self._expiries[0][0] <= now:
            expires_at, _, connection = heapq.heappop(self._expiries)
            if self._current(connection) and connection.expires_at == expires_at:
                connection.close(
                    CloseCode.UNAUTHORIZED,
                    "token expired: refresh it and reconnect, or send a fresh `auth` in time",
                )
        interval = self.config.ping_interval_s
        missed = self.config.missed_pongs
        ping: dict[str, Any] | None = None
        while self._pings and self._pings[0][0] <= clock:
            due, _, connection = heapq.heappop(self._pings)
            if not self._current(connection) or connection.next_ping_at != due:
                continue
            if connection.unanswered >= missed:
                connection.close(CloseCode.PONG_TIMEOUT, f"no pong to {missed} pings")
                continue
            if ping is None:
                ping = text_frame(protocol.ping(utcnow()))
            connection.unanswered += 1
            connection.next_ping_at = clock + interval
            heapq.heappush(self._pings, (connection.next_ping_at, next(self._order), connection))
            if not connection.push(ping):
                self.drop_slow(connection)
        self._compact()

    def _current(self, connection: Connection) -> bool:
        return not connection.closing and connection in self.connections

    def _compact(self) -> None:
        """Drop heap entries of closed sockets once they dominate (they hold the sockets)."""
        for name in ("_pings", "_expiries"):
            heap: list[tuple[float, int, Connection]] = getattr(self, name)
            if len(heap) > 2 * len(self.connections) + 1024:
                live = [entry for entry in heap if self._current(entry[2])]
                heapq.heapify(live)
                setattr(self, name, live)

    # -- access ------------------------------------------------------------------------------

    def _recent_access(self, user_id: str) -> Access | None:
        """The user's cached access if read within `access_refresh_s`."""
        loaded = self._loaded_at.get(user_id)
        if loaded is None or time.monotonic() - loaded > self.config.access_refresh_s:
            return None
        return self._access.get(user_id)

    def _set_access(self, user_id: str, access: Access) -> None:
        if user_id not in self._by_user:
            return
        previous = self._access.get(user_id)
        self._access[user_id] = access
        self._loaded_at[user_id] = time.monotonic()
        if previous is not None and access.covers(previous):
            return  # nothing was lost: no subscription to end
        now = time.time()
        for connection in list(self._by_user[user_id]):
            self._prune(connection, access, now)

    def _prune(self, connection: Connection, access: Access, now: float) -> None:
        """End the subscriptions ``access`` no longer allows, and tell the client."""
        lost_spaces = {space for space in connection.spaces if space not in access.spaces}
        lost_cameras = {
            camera
            for camera, space in connection.cameras.items()
            if not access.sees(space, camera, now)
        }
        if not lost_spaces and not lost_cameras:
            return
        self._forget(connection, lost_spaces, lost_cameras)
        connection.spaces -= lost_spaces
        for camera in lost_cameras:
            del connection.cameras[camera]
        self.reply(connection, protocol.unsubscribed(lost_spaces, lost_cameras, "access revoked"))

    def invalidate(self, user_ids: Collection[str]) -> None:
        """Stop delivering to these users until their access is re-read (now, in a task)."""
        local = [user_id for user_id in user_ids if user_id in self._by_user]
        if not local:
            return
        for user_id in local:
            self._access.pop(user_id, None)
            self._loaded_at.pop(user_id, None)
        task = asyncio.create_task(self.refresh(local), name="realtime-refresh-users")
        self._refreshes.add(task)
        task.add_done_callback(self._refreshes.discard)

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.access_refresh_s)
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("realtime.refresh_failed")

    async def refresh(self, user_ids: Collection[str] | None = None) -> None:
        """Re-read the access of connected users (all, or ``user_ids``) and their sessions."""
        users = set(self._by_user) if user_ids is None else set(user_ids) & set(self._by_user)
        if not users:
            return
        sessions = {connection.session_id for user in users for connection in self._by_user[user]}
        ttl = self.settings.auth.session_cache_ttl_s
        async with reading(self.database) as db:
            fresh = await load_access(db, users)
            active = {
                session_id: await session_cache.is_active(self.cache, db, session_id, ttl)
                for session_id in sessions
            }
        for user_id in users:
            connections = self._by_user.get(user_id)
            if not connections:
                continue
            access = fresh.get(user_id)
            if access is None:
                for connection in list(connections):
                    connection.close(CloseCode.UNAUTHORIZED, "the account no longer exists")
                self._access.pop(user_id, None)
                self._loaded_at.pop(user_id, None)
                continue
            for connection in list(connections):
                if active.get(connection.session_id) is False:
                    connection.close(CloseCode.UNAUTHORIZED, "this session was signed out")
            self._set_access(user_id, access)


def _allows_all(
    access: Access,
    spaces: Collection[str],
    cameras: Collection[str],
    homes: dict[str, str],
    now: float,
) -> bool:
    return all(space in access.spaces for space in spaces) and all(
        camera in homes and access.sees(homes[camera], camera, now) for camera in cameras
    )


@asynccontextmanager
async def running_hub(
    settings: Settings, runtime: Runtime, metrics: RealtimeMetrics
) -> AsyncIterator[RealtimeHub]:
    """The process's hub, started when it plays the ``api`` role (else it refuses sockets)."""
    infra = runtime.infra
    hub = RealtimeHub(
        settings,
        pubsub=infra.cache.pubsub,
        database=infra.database,
        cache=infra.cache.cache,
        keyring=runtime.keyring,
        metrics=metrics,
    )
    if "api" in runtime.roles and runtime.keyring is not None:
        await hub.start()
    try:
        yield hub
    finally:
        await hub.stop()
