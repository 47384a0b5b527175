"""Database port contract, run on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, inspect, select

from orin.config import DatabaseSettings, Settings
from orin.db import READ_ONLY, Database
from orin.errors import AdapterUnavailable
from orin.models.lease import Lease
from tests.fixtures.services import free_port


class Boom(Exception):
    """Raised by tests to abort a transaction."""


def lease(name: str, expires_in_s: float = 60) -> Lease:
    now = datetime.now(UTC)
    return Lease(
        name=name, holder="t", acquired_at=now, expires_at=now + timedelta(seconds=expires_in_s)
    )


async def count_leases(database: Database) -> int:
    async with database.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(Lease)) or 0)


async def test_transaction_commits_at_the_boundary(database: Database) -> None:
    async with database.transaction() as session:
        session.add(lease("a"))
    async with database.transaction() as session:
        assert (await session.get(Lease, "a")) is not None


async def add_then_fail(database: Database, row: Lease) -> None:
    async with database.transaction() as session:
        session.add(row)
        await session.flush()
        raise Boom


async def test_error_inside_the_boundary_rolls_everything_back(database: Database) -> None:
    with pytest.raises(Boom):
        await add_then_fail(database, lease("b"))
    assert await count_leases(database) == 0


async def test_datetimes_come_back_timezone_aware_utc(database: Database) -> None:
    expires = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    async with database.transaction() as session:
        session.add(Lease(name="tz", holder="t", acquired_at=expires, expires_at=expires))
    async with database.transaction() as session:
        session.expunge_all()
        row = await session.scalar(select(Lease).where(Lease.name == "tz"))
    assert row is not None
    assert row.expires_at == expires
    assert row.expires_at.tzinfo is not None


async def test_naive_datetimes_are_refused(database: Database) -> None:
    naive = datetime(2030, 1, 1)
    with pytest.raises(Exception, match="naive datetime"):
        await add_then_fail(
            database, Lease(name="n", holder="t", acquired_at=naive, expires_at=naive)
        )


async def test_constraints_carry_the_naming_convention(database: Database) -> None:
    async with database.engine.connect() as connection:
        await connection.execution_options(**{READ_ONLY: True})
        pk, uniques = await connection.run_sync(
            lambda sync: (
                inspect(sync).get_pk_constraint("outbox_message")["name"],
                [u["name"] for u in inspect(sync).get_unique_constraints("outbox_message")],
            )
        )
    assert pk == "pk_outbox_message" or database.is_sqlite  # SQLite does not keep PK names
    assert "uq_outbox_message_message_id" in uniques


async def test_ping_answers(database: Database) -> None:
    await database.ping()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://postgres:secret@127.0.0.1:{port}/x",
        "sqlite+aiosqlite:////dev/null/orin-{port}/x.db",
    ],
)
async def test_unreachable_database_is_reported_without_the_password(url: str) -> None:
    port = free_port()
    database = Database(Settings(database=DatabaseSettings(url=url.format(port=port))))
    with pytest.raises(AdapterUnavailable) as caught:
        await database.ping(timeout_s=3)
    await database.dispose()
    assert "secret" not in caught.value.message
    assert "unreachable" in caught.value.message
