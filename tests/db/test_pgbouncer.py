"""The PostgreSQL adapter works behind PgBouncer in transaction pooling mode.

With transaction pooling, consecutive transactions of one client land on different server
connections, so a driver that caches named prepared statements breaks. The control case shows
the setup really exercises that: asyncpg's defaults fail where ORIN's engine does not.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from orin.config import DatabaseSettings, Settings
from orin.db import Database
from orin.models.lease import Lease


async def many_sessions(database: Database, sessions: int = 40) -> None:
    async def one(n: int) -> None:
        async with database.transaction() as session:
            await session.scalar(select(Lease).where(Lease.name == f"pgb-{n}"))
            await session.scalar(select(Lease.holder).where(Lease.holder == str(n)))

    await asyncio.gather(*(one(n) for n in range(sessions)))


async def test_orin_engine_survives_transaction_pooling(pgbouncer_url: str) -> None:
    database = Database(Settings(database=DatabaseSettings(url=pgbouncer_url)))
    try:
        for _ in range(3):
            await many_sessions(database)
        await database.ping()
    finally:
        await database.dispose()


async def plain_queries(engine: AsyncEngine, rounds: int = 5, sessions: int = 40) -> None:
    async def one(n: int) -> None:
        async with engine.begin() as connection:
            await connection.execute(select(Lease).where(Lease.name == f"pgb-{n}"))
            await connection.execute(select(Lease.holder).where(Lease.holder == str(n)))

    for _ in range(rounds):
        await asyncio.gather(*(one(n) for n in range(sessions)))


async def test_default_asyncpg_statement_cache_breaks_behind_pgbouncer(
    pgbouncer_url: str,
) -> None:
    engine = create_async_engine(pgbouncer_url, pool_size=10)
    try:
        with pytest.raises(Exception, match="prepared statement"):
            await plain_queries(engine)
    finally:
        await engine.dispose()
