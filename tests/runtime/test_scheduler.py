"""Scheduler leadership through database leases, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from orin.config import SchedulerSettings
from orin.db import Database
from orin.models.outbox_message import OutboxMessage
from orin.runtime import leases
from orin.runtime.scheduler import LEADER_LEASE, PeriodicJob, Scheduler

JOBS = (PeriodicJob("test.every_tick", every_s=0.01), PeriodicJob("test.hourly", every_s=3600))


async def sent_topics(database: Database) -> list[str]:
    async with database.transaction() as session:
        return list(await session.scalars(select(OutboxMessage.topic)))


async def test_a_lease_has_one_holder_until_it_expires(committing_database: Database) -> None:
    assert await leases.acquire_or_renew(committing_database, "x", "a", ttl_s=0.5)
    assert not await leases.acquire_or_renew(committing_database, "x", "b", ttl_s=0.5)
    assert await leases.acquire_or_renew(committing_database, "x", "a", ttl_s=0.5)
    assert await leases.holder_of(committing_database, "x") == "a"
    await asyncio.sleep(0.6)
    assert await leases.holder_of(committing_database, "x") is None
    assert await leases.acquire_or_renew(committing_database, "x", "b", ttl_s=5)
    assert not await leases.acquire_or_renew(committing_database, "x", "a", ttl_s=5)


async def test_concurrent_candidates_elect_exactly_one(committing_database: Database) -> None:
    results = await asyncio.gather(
        *(leases.acquire_or_renew(committing_database, "y", f"c{n}", ttl_s=5) for n in range(5))
    )
    assert results.count(True) == 1


async def test_only_the_leader_sends_jobs_and_a_standby_takes_over(
    committing_database: Database,
) -> None:
    settings = SchedulerSettings(lease_ttl_s=2, tick_s=0.05)
    first = Scheduler(committing_database, settings, JOBS)
    second = Scheduler(committing_database, settings, JOBS)

    assert set(await first.tick()) == {"test.every_tick", "test.hourly"}
    assert await second.tick() == []
    assert [first.is_leader, second.is_leader] == [True, False]
    await asyncio.sleep(0.02)
    assert await first.tick() == ["test.every_tick"]  # the hourly job is not due again

    await first.stop()  # a clean stop releases the lease at once
    assert await leases.holder_of(committing_database, LEADER_LEASE) is None
    assert set(await second.tick()) == {"test.every_tick", "test.hourly"}
    assert [first.is_leader, second.is_leader] == [False, True]
    topics = await sent_topics(committing_database)
    assert topics.count("test.hourly") == 2
    await second.stop()


async def test_a_dead_leader_is_replaced_after_its_lease_expires(
    committing_database: Database,
) -> None:
    settings = SchedulerSettings(lease_ttl_s=1.2, tick_s=0.05)
    dead = Scheduler(committing_database, settings, JOBS)
    standby = Scheduler(committing_database, settings, JOBS)
    await dead.tick()  # leads, then "dies" without releasing
    assert await standby.tick() == []
    await asyncio.sleep(1.3)
    assert await standby.tick() != []
    assert standby.is_leader
    await standby.stop()
