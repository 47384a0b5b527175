"""Events at scale on PostgreSQL: recording throughput, list/filter and search latency at 1M.

A throwaway database migrated with `orin.migrate.upgrade` gets 4 spaces of 3 cameras and
``--events`` events spread over the last 90 days (a few hundred distinct texts, each embedded
once). The first ``--service-events`` go through `record_events` (the vision pipeline's path,
batched); the rest are bulk-loaded with binary COPY. The HNSW index is dropped before the load
and built after it (much faster than maintaining it row by row; the build is timed).

Latencies (p50/p95 over ``--runs``) are for the API's own query code (`list_events`,
`search_events`, `event_stats`, each in its own transaction like a request) and, as the
baseline in the same run, for the same question in hand-written SQL on a bare asyncpg
connection (no access scope, no ORM).

    uv run python bench/events_bench.py [--events 1000000] [--service-events 50000] [--runs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import random
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from pgvector.asyncpg import register_vector
from sqlalchemy import text

from bench_services import quiet_logs
from orin.config import DatabaseSettings, Settings
from orin.db import Database
from orin.events.embeddings import FloatArray, text_embeddings
from orin.events.partitions import add_months, ensure_month_partitions
from orin.events.queries import EventFilters, check_filters, list_events
from orin.events.search import search_events
from orin.events.service import NewEvent, record_events, search_text_for
from orin.events.stats import event_stats
from orin.migrate import upgrade
from orin.models.base import new_id
from orin.models.camera import Camera, CameraShare, ShareRole
from orin.models.event import Event, EventKind, ReviewState
from orin.models.guard import Guard
from orin.models.space import Space, SpaceMember, SpaceRole
from orin.models.user import User

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
DAYS = 90
SPACE_SHARES = (0.4, 0.3, 0.2, 0.1)
LABELS = (
    ("person", 0.40, True),
    ("car", 0.20, True),
    ("dog", 0.10, False),
    ("cat", 0.08, False),
    ("package", 0.05, False),
    ("bicycle", 0.05, False),
    ("truck", 0.05, True),
)
"""label, share of events, whether it carries a colour attribute."""
SYSTEM = (
    (EventKind.MOTION, 0.05),
    (EventKind.CAMERA_OFFLINE, 0.01),
    (EventKind.CAMERA_ONLINE, 0.01),
)
COLOURS = ("red", "white", "black", "blue")
CAMERAS = (
    ("Front door", ("Porch", "Path")),
    ("Back yard", ("Lawn", "Shed")),
    ("Driveway", ("Street", "Gate")),
)
GUARDS = ("Someone at the door", "Pets on the lawn", "Vehicles at night")
REVIEWS = (
    (ReviewState.NEW, 0.7),
    (ReviewState.SEEN, 0.1),
    (ReviewState.CONFIRMED, 0.1),
    (ReviewState.FALSE_ALARM, 0.05),
    (ReviewState.RESOLVED, 0.05),
)
COLUMNS = [column.name for column in Event.__table__.columns]


@dataclass(frozen=True, slots=True)
class Place:
    space_id: str
    cameras: list[tuple[str, str, tuple[str, str]]]
    """(camera id, name, zones)"""
    guards: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Kind:
    """One distinct kind of event: everything that goes into its search text."""

    space: int
    camera: int
    kind: EventKind
    label: str | None
    colour: str | None
    zone: str | None
    guard: int | None


@asynccontextmanager
async def throwaway_database() -> AsyncIterator[str]:
    name = f"orin_bench_events_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def make_places(database: Database) -> tuple[list[Place], dict[str, str]]:
    """4 spaces with cameras and guards; users: owners, Alice in two spaces with a share."""
    places: list[Place] = []
    users = {name: new_id() for name in ("alice", "bob", "carol", "dave")}
    async with database.transaction() as session:
        for name, user_id in users.items():
            session.add(User(id=user_id, email=f"{name}@bench.test"))
        await session.flush()
        owners = ["alice", "bob", "carol", "dave"]
        for index, owner in enumerate(owners):
            space = Space(name=f"Site {index}", timezone="Europe/Paris")
            session.add(space)
            await session.flush()
            session.add(SpaceMember(space_id=space.id, user_id=users[owner], role=SpaceRole.OWNER))
            cameras = []
            for camera_name, zones in CAMERAS:
                camera = Camera(space_id=space.id, name=camera_name, main_url="rtsp://10.0.0.1/x")
                session.add(camera)
                await session.flush()
                cameras.append((camera.id, camera_name, zones))
            guards = []
            for guard_name in GUARDS:
                guard = Guard(space_id=space.id, name=guard_name)
                session.add(guard)
                await session.flush()
                guards.append((guard.id, guard_name))
            places.append(Place(space.id, cameras, guards))
        # Alice also manages Bob's site and sees one of Carol's cameras through a share.
        session.add(
            SpaceMember(space_id=places[1].space_id, user_id=users["alice"], role=SpaceRole.MANAGER)
        )
        session.add(
            CameraShare(
                camera_id=places[2].cameras[0][0], user_id=users["alice"], role=ShareRole.VIEWER
            )
        )
    return places, users


def event_kinds() -> tuple[list[Kind], list[float]]:
    kinds: list[Kind] = []
    weights: list[float] = []
    for space, space_share in enumerate(SPACE_SHARES):
        for camera in range(len(CAMERAS)):
            camera_share = space_share / len(CAMERAS)
            for label, share, coloured in LABELS:
                colours: tuple[str | None, ...] = COLOURS if coloured else (None,)
                for colour in colours:
                    for zone in CAMERAS[camera][1]:
                        guard = {"person": 0, "dog": 1, "cat": 1, "car": 2, "truck": 2}.get(label)
                        kinds.append(
                            Kind(space, camera, EventKind.CATCH, label, colour, zone, guard)
                        )
                        weights.append(camera_share * share / len(colours) / 2)
            for kind, share in SYSTEM:
                kinds.append(Kind(space, camera, kind, None, None, None, None))
                weights.append(camera_share * share)
    return kinds, weights


def text_of(kind: Kind, places: list[Place]) -> str:
    place = places[kind.space]
    return search_text_for(
        kind=kind.kind,
        label=kind.label,
        attributes={"colour": kind.colour} if kind.colour else None,
        camera_name=place.cameras[kind.camera][1],
        zone=kind.zone,
        guard_name=place.guards[kind.guard][1] if kind.guard is not None else None,
    )


def sample(
    count: int, kinds: list[Kind], weights: list[float], now: datetime, rng: random.Random
) -> Iterator[tuple[Kind, datetime, ReviewState | None]]:
    states = [state for state, _ in REVIEWS]
    state_weights = [weight for _, weight in REVIEWS]
    chosen = rng.choices(kinds, weights, k=count)
    for kind in chosen:
        at = now - timedelta(seconds=rng.random() * DAYS * 86400)
        state = rng.choices(states, state_weights)[0] if kind.kind == EventKind.CATCH else None
        yield kind, at, state


def new_event(kind: Kind, at: datetime, places: list[Place]) -> NewEvent:
    place = places[kind.space]
    return NewEvent(
        space_id=place.space_id,
        camera_id=place.cameras[kind.camera][0],
        kind=kind.kind,
        started_at=at,
        ended_at=at + timedelta(seconds=20),
        guard_id=place.guards[kind.guard][0] if kind.guard is not None else None,
        label=kind.label,
        confidence=0.8 if kind.kind == EventKind.CATCH else None,
        zone=kind.zone,
        attributes={"colour": kind.colour} if kind.colour else None,
    )


async def load_through_service(
    database: Database,
    events: list[tuple[Kind, datetime, ReviewState | None]],
    places: list[Place],
    batch: int,
) -> float:
    started = time.perf_counter()
    for first in range(0, len(events), batch):
        items = [new_event(kind, at, places) for kind, at, _ in events[first : first + batch]]
        async with database.transaction() as session:
            await record_events(session, items)
    return len(events) / (time.perf_counter() - started)


def copy_record(
    kind: Kind,
    at: datetime,
    state: ReviewState | None,
    places: list[Place],
    texts: dict[Kind, tuple[str, FloatArray]],
    reviewer: str,
) -> tuple[Any, ...]:
    item = new_event(kind, at, places)
    search_text, vector = texts[kind]
    reviewed = state not in (None, ReviewState.NEW)
    values = {
        "id": new_id(),
        "started_at": at,
        "ended_at": item.ended_at,
        "space_id": item.space_id,
        "camera_id": item.camera_id,
        "guard_id": item.guard_id,
        "kind": item.kind.value,
        "label": item.label,
        "confidence": item.confidence,
        "zone": item.zone,
        "track_id": None,
        "snapshot_key": None,
        "thumbnail_key": None,
        "clip_key": None,
        "attributes": json.dumps(dict(item.attributes or {})),
        "review_state": state.value if state else None,
        "notes": "",
        "reviewed_by": reviewer if reviewed else None,
        "reviewed_at": at + timedelta(minutes=5) if reviewed else None,
        "search_text": search_text,
        "embedding": vector,
        "created_at": at,
    }
    return tuple(values[column] for column in COLUMNS)


async def bulk_copy(
    url: str,
    events: list[tuple[Kind, datetime, ReviewState | None]],
    places: list[Place],
    texts: dict[Kind, tuple[str, FloatArray]],
    reviewer: str,
    chunk: int = 50_000,
) -> float:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    await register_vector(connection)
    started = time.perf_counter()
    try:
        for first in range(0, len(events), chunk):
            records = [
                copy_record(kind, at, state, places, texts, reviewer)
                for kind, at, state in events[first : first + chunk]
            ]
            await connection.copy_records_to_table("event", records=records, columns=COLUMNS)
    finally:
        await connection.close()
    return len(events) / (time.perf_counter() - started)


async def timed(run: Callable[[], Awaitable[object]], runs: int) -> tuple[float, float]:
    for _ in range(3):
        await run()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await run()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


ORDER = "ORDER BY started_at DESC, id DESC LIMIT 51"
SELECT = "SELECT id, started_at, space_id, camera_id, kind, label, review_state FROM event"


def list_cases(
    places: list[Place], now: datetime
) -> list[tuple[str, EventFilters, str, list[Any]]]:
    """(name, API filters, raw SQL, its arguments) for Alice's typical lists."""
    site, camera = places[0].space_id, places[0].cameras[1][0]
    week = now - timedelta(days=7)
    spaces = [places[0].space_id, places[1].space_id]
    shared = places[2].cameras[0][0]
    return [
        (
            "all my events",
            EventFilters(),
            f"{SELECT} WHERE space_id = ANY($1) OR camera_id = $2 {ORDER}",
            [spaces, shared],
        ),
        ("space", EventFilters(space_id=site), f"{SELECT} WHERE space_id = $1 {ORDER}", [site]),
        (
            "camera",
            EventFilters(camera_id=camera),
            f"{SELECT} WHERE camera_id = $1 {ORDER}",
            [camera],
        ),
        (
            "space + label dog",
            EventFilters(space_id=site, label="dog"),
            f"{SELECT} WHERE space_id = $1 AND label = $2 {ORDER}",
            [site, "dog"],
        ),
        (
            "space + new catches",
            EventFilters(space_id=site, kind=EventKind.CATCH, review_state=ReviewState.NEW),
            f"{SELECT} WHERE space_id = $1 AND kind = 'catch' AND review_state = 'new' {ORDER}",
            [site],
        ),
        (
            "space + last 7 days",
            EventFilters(space_id=site, since=week),
            f"{SELECT} WHERE space_id = $1 AND started_at >= $2 {ORDER}",
            [site, week],
        ),
        (
            "space + false alarms",
            EventFilters(space_id=site, review_state=ReviewState.FALSE_ALARM),
            f"{SELECT} WHERE space_id = $1 AND review_state = 'false_alarm' {ORDER}",
            [site],
        ),
    ]


async def page_after(
    database: Database, user_id: str, filters: EventFilters, pages: int
) -> tuple[datetime, str]:
    after = None
    async with database.transaction() as session:
        for _ in range(pages):
            _, after = await list_events(session, user_id, filters, limit=50, after=after)
    assert after is not None
    return after


def print_table(
    title: str, rows: list[tuple[str, tuple[float, float], tuple[float, float] | None]]
) -> None:
    print(title)
    heads = ("api p50", "api p95", "raw p50", "raw p95", "api/raw")
    print(f"  {'query':<28} " + " ".join(f"{head:>8}" for head in heads))
    for name, (p50, p95), raw in rows:
        if raw is None:
            print(f"  {name:<28} {p50:>8.1f} {p95:>8.1f} {'-':>8} {'-':>8} {'-':>8}")
        else:
            print(
                f"  {name:<28} {p50:>8.1f} {p95:>8.1f} {raw[0]:>8.1f} {raw[1]:>8.1f} "
                f"{p50 / raw[0]:>7.2f}x"
            )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--service-events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    quiet_logs()
    rng = random.Random(7)
    now = datetime.now(UTC)

    async with throwaway_database() as url:
        database = Database(Settings(database=DatabaseSettings(url=url, pool_size=4)))
        places, users = await make_places(database)
        alice = users["alice"]
        async with database.transaction() as session:
            first = (now - timedelta(days=DAYS)).date().replace(day=1)
            month = first
            while month <= now.date():
                when = datetime(month.year, month.month, 1, tzinfo=UTC)
                await ensure_month_partitions(session, 1, now=when)
                month = add_months(month, 1)
            await session.execute(text("DROP INDEX ix_event_embedding_hnsw"))

        kinds, weights = event_kinds()
        started = time.perf_counter()
        vectors = await text_embeddings.embed([text_of(kind, places) for kind in kinds])
        embed_s = time.perf_counter() - started
        texts = {
            kind: (text_of(kind, places), vector)
            for kind, vector in zip(kinds, vectors, strict=True)
        }
        events = list(sample(args.events, kinds, weights, now, rng))
        service_part, copy_part = events[: args.service_events], events[args.service_events :]

        copy_rate = await bulk_copy(url, copy_part, places, texts, alice)
        admin = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        await register_vector(admin)
        await admin.execute("ANALYZE event")
        await admin.execute("SET maintenance_work_mem = '1GB'")
        started = time.perf_counter()
        await admin.execute(
            "CREATE INDEX ix_event_embedding_hnsw ON event USING hnsw (embedding vector_cosine_ops)"
        )
        index_s = time.perf_counter() - started
        # The vision pipeline's path, with every index in place (HNSW included).
        service_rate = await load_through_service(database, service_part, places, args.batch)
        size = await admin.fetchval(
            "SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) FROM pg_inherits "
            "WHERE inhparent = 'event'::regclass"
        )
        # What autovacuum does after a bulk load: the visibility map lets the covering
        # (space_id, started_at) index serve stats without reading the wide rows.
        await admin.execute("VACUUM (ANALYZE) event")

        print(
            f"events: {args.events:,} over {DAYS} days, {len(kinds)} distinct texts "
            f"(embedded in {embed_s:.1f} s), table + indexes {size}"
        )
        print(f"  binary COPY, no HNSW index (bulk load): {copy_rate:>9,.0f} events/s")
        print(f"  HNSW index build after the bulk load:   {index_s:>9.0f} s")
        print(
            f"  record_events, all indexes, batches of {args.batch}: "
            f"{service_rate:,.0f} events/s ({len(service_part):,} events)"
        )

        async def api_list(
            filters: EventFilters, after: tuple[datetime, str] | None = None
        ) -> None:
            async with database.transaction() as session:
                await check_filters(session, alice, filters)
                await list_events(session, alice, filters, limit=50, after=after)

        async def floor() -> None:
            async with database.transaction() as session:
                await session.execute(text("SELECT 1"))

        rows: list[tuple[str, tuple[float, float], tuple[float, float] | None]] = [
            ("floor (txn + SELECT 1)", await timed(floor, args.runs), None)
        ]
        for name, filters, sql, sql_args in list_cases(places, now):
            api = await timed(functools.partial(api_list, filters), args.runs)
            raw = await timed(functools.partial(admin.fetch, sql, *sql_args), args.runs)
            rows.append((name, api, raw))
        deep = EventFilters(space_id=places[0].space_id)
        after = await page_after(database, alice, deep, 20)
        api = await timed(lambda: api_list(deep, after), args.runs)
        raw = await timed(
            lambda: admin.fetch(
                f"{SELECT} WHERE space_id = $1 AND (started_at, id) < ($2, $3) {ORDER}",
                places[0].space_id,
                *after,
            ),
            args.runs,
        )
        rows.append(("space, page 21 (cursor)", api, raw))
        print_table(f"list, 50 per page (ms, {args.runs} runs)", rows)

        rows = []
        exact_ok: list[str] = []
        back_yard = places[0].cameras[1][0]
        for label, query, filters in (
            ("dog", "dog", EventFilters()),
            ("parcel", "parcel", EventFilters()),
            ("someone at the front door", "someone at the front door", EventFilters()),
            ("red car (space)", "red car", EventFilters(space_id=places[0].space_id)),
            (
                "white truck (camera)",
                "white truck",
                EventFilters(camera_id=places[0].cameras[2][0]),
            ),
            ("dog (camera, label cat)", "dog", EventFilters(camera_id=back_yard, label="cat")),
        ):

            async def api_search(q: str = query, f: EventFilters = filters) -> list[Any]:
                async with database.transaction() as session:
                    hits, _ = await search_events(session, alice, f, q, limit=20)
                    return hits

            hits = await api_search()
            vector = (await text_embeddings.embed([query]))[0]
            raw_sql = (
                "SELECT id, 1 - (embedding <=> $1) AS similarity FROM event "
                "WHERE (space_id = ANY($2) OR camera_id = $3) "
                + ("AND space_id = $4 " if filters.space_id else "")
                + ("AND camera_id = $4 " if filters.camera_id else "")
                + ("AND label = $5 " if filters.label else "")
                + "ORDER BY embedding <=> $1 LIMIT 71"
            )
            raw_args: list[Any] = [
                vector,
                [places[0].space_id, places[1].space_id],
                places[2].cameras[0][0],
            ]
            if filters.space_id or filters.camera_id:
                raw_args.append(filters.space_id or filters.camera_id)
            if filters.label:
                raw_args.append(filters.label)

            async def raw_search(sql: str = raw_sql, a: list[Any] = raw_args) -> list[Any]:
                async with admin.transaction():
                    await admin.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
                    return await admin.fetch(sql, *a)

            api = await timed(api_search, args.runs)
            raw = await timed(raw_search, args.runs)
            rows.append((label, api, raw))
            # The index's top 20 similarities against the exact ones (no index).
            async with admin.transaction():
                await admin.execute("SET LOCAL enable_indexscan = off")
                await admin.execute("SET LOCAL enable_bitmapscan = off")
                exact = await admin.fetch(raw_sql.replace("LIMIT 71", "LIMIT 20"), *raw_args)
            approximate = (await raw_search())[:20]
            exact_top = sorted(round(float(r["similarity"]), 4) for r in exact)
            found_top = sorted(round(float(r["similarity"]), 4) for r in approximate)
            same = sum(1 for a, b in zip(exact_top, found_top, strict=False) if a == b)
            exact_ok.append(
                f"{label}: API {len(hits)} hits; index top-20 similarities equal the exact "
                f"ones for {same}/{len(exact_top)} (best {max(exact_top, default=0):.3f})"
            )
        print_table(
            f"text search, 20 per page (ms, {args.runs} runs; query embedding cached)", rows
        )
        for line in exact_ok:
            print(f"  {line}")

        rows = []
        async with database.transaction() as session:
            space = await session.get(Space, places[0].space_id)
        assert space is not None
        for name, bucket, days, by in (
            ("30 days by day, by label", "day", 30, "label"),
            ("24 h by hour", "hour", 1, None),
        ):

            async def api_stats(b: Any = bucket, d: int = days, y: Any = by) -> None:
                async with database.transaction() as session:
                    await event_stats(
                        session, space, bucket=b, since=now - timedelta(days=d), until=now, by=y
                    )

            raw_sql = (
                "SELECT date_trunc($2, started_at AT TIME ZONE 'Europe/Paris') AS bucket, "
                + ("label, " if by else "")
                + "count(*) FROM event WHERE space_id = $1 "
                + "AND started_at >= $3 AND started_at < $4 "
                + "GROUP BY 1"
                + (", 2" if by else "")
            )

            async def raw_stats(sql: str = raw_sql, b: str = bucket, d: int = days) -> None:
                await admin.fetch(sql, places[0].space_id, b, now - timedelta(days=d), now)

            rows.append(
                (name, await timed(api_stats, args.runs), await timed(raw_stats, args.runs))
            )
        print_table(f"stats of one space (ms, {args.runs} runs)", rows)
        await admin.close()
        await database.dispose()


if __name__ == "__main__":
    asyncio.run(main())
