"""Migrations run on both backends, down and up again, and match the models exactly."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from orin.migrate import alembic_config, head_revision, include_in_autogenerate, upgrade
from orin.models import metadata
from tests.fixtures.database import _pg_admin, pg_url


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"orin_mig_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    yield pg_url(name)
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def schema_diff(url: str) -> list[object]:
    async def run() -> list[object]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: list(
                        compare_metadata(
                            MigrationContext.configure(
                                sync,
                                opts={
                                    "include_object": include_in_autogenerate,
                                    "compare_type": True,
                                },
                            ),
                            metadata,
                        )
                    )
                )
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_migrations_upgrade_downgrade_upgrade_and_match_the_models(
    fresh_database_url: str,
) -> None:
    upgrade(fresh_database_url)
    assert schema_diff(fresh_database_url) == []
    command.downgrade(alembic_config(fresh_database_url), "base")
    upgrade(fresh_database_url)
    assert schema_diff(fresh_database_url) == []


def test_there_is_exactly_one_head() -> None:
    assert head_revision() is not None
