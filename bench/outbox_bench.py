"""Outbox relay throughput: rows committed → relayed → consumed, per database and bus.

Baseline in the same run: publishing the same messages straight to the bus (no outbox), so
the ratio shows what the outbox's durability costs.

    uv run python bench/outbox_bench.py [--messages 5000] [--batch 500]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from bench_services import quiet_logs, temporary_vhost
from orin.bus import Bus, Message, create_bus
from orin.config import AmqpSettings, DatabaseSettings, OutboxSettings, Settings
from orin.db import Database
from orin.migrate import upgrade
from orin.outbox import OutboxRelay, enqueue

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"


@asynccontextmanager
async def postgres_url() -> AsyncIterator[str]:
    name = f"orin_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@asynccontextmanager
async def sqlite_url() -> AsyncIterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        yield url


class Sink:
    """Counts consumed messages and signals when all arrived."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.seen = 0
        self.done = asyncio.Event()

    async def __call__(self, message: Message) -> None:
        self.seen += 1
        if self.seen >= self.expected:
            self.done.set()


async def run_case(
    database_url: str, amqp_url: str | None, messages: int, batch: int
) -> dict[str, float]:
    settings = Settings(
        database=DatabaseSettings(url=database_url), amqp=AmqpSettings(url=amqp_url, prefetch=256)
    )
    database = Database(settings)
    topic = f"bench.{uuid.uuid4().hex[:8]}"

    async def consume(bus: Bus, count: int) -> Sink:
        sink = Sink(count)
        bus.subscribe(topic, topic, sink)
        await bus.start()
        return sink

    # Baseline: the same messages published straight to the bus.
    direct_bus = create_bus(settings)
    sink = await consume(direct_bus, messages)
    started = time.perf_counter()
    await asyncio.gather(
        *(direct_bus.publish(Message(topic=topic, payload={"n": n})) for n in range(messages))
    )
    await asyncio.wait_for(sink.done.wait(), 300)
    direct_s = time.perf_counter() - started
    await direct_bus.close()

    # Outbox: commit rows in transactions of `batch`, then relay and consume them.
    started = time.perf_counter()
    for first in range(0, messages, batch):
        async with database.transaction() as session:
            for n in range(first, min(messages, first + batch)):
                enqueue(session, topic, {"n": n})
    commit_s = time.perf_counter() - started

    bus = create_bus(settings)
    sink = await consume(bus, messages)
    relay = OutboxRelay(database, bus, OutboxSettings(batch_size=batch))
    started = time.perf_counter()
    await relay.drain()
    relay_s = time.perf_counter() - started
    await asyncio.wait_for(sink.done.wait(), 300)
    end_to_end_s = time.perf_counter() - started
    await bus.close()
    await database.dispose()
    return {
        "direct_per_s": messages / direct_s,
        "commit_per_s": messages / commit_s,
        "relay_per_s": messages / relay_s,
        "relay_consumed_per_s": messages / end_to_end_s,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    quiet_logs()

    rows = []
    async with sqlite_url() as url:
        rows.append(("sqlite", "inprocess", await run_case(url, None, args.messages, args.batch)))
    async with postgres_url() as url:
        rows.append(
            ("postgresql", "inprocess", await run_case(url, None, args.messages, args.batch))
        )
        async with temporary_vhost() as amqp:
            rows.append(
                ("postgresql", "rabbitmq", await run_case(url, amqp, args.messages, args.batch))
            )

    print(f"outbox relay, {args.messages} messages, batches of {args.batch} (messages/s)")
    header = f"{'database':<11} {'bus':<10} {'direct':>9} {'commit':>9} {'relay':>9}"
    print(header + f" {'relay+consume':>14} {'vs direct':>10}")
    for database, bus, figures in rows:
        ratio = figures["relay_consumed_per_s"] / figures["direct_per_s"]
        print(
            f"{database:<11} {bus:<10} {figures['direct_per_s']:>9.0f} "
            f"{figures['commit_per_s']:>9.0f} {figures['relay_per_s']:>9.0f} "
            f"{figures['relay_consumed_per_s']:>14.0f} {ratio:>9.2f}x"
        )


if __name__ == "__main__":
    asyncio.run(main())
