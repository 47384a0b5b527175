"""Running Alembic migrations from code (``orin migrate``, ``orin run``, tests)."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from orin.db import READ_ONLY

_REPO_ROOT = Path(__file__).resolve().parents[2]


def migrations_dir() -> Path:
    """The folder holding ``env.py`` and ``versions/``."""
    for candidate in (_REPO_ROOT / "migrations", Path.cwd() / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("ORIN's migrations folder was not found next to the source tree")


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at ORIN's migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database to ``revision``; blocks until done.

    Alembic's env runs its own event loop, so from inside a running loop the migration runs
    in a separate thread (the caller still waits: migrations happen before serving).
    """
    config = alembic_config(database_url)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        command.upgrade(config, revision)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="orin-migrate") as pool:
        pool.submit(command.upgrade, config, revision).result()


def head_revision() -> str | None:
    """The newest revision in the migrations folder."""
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None when never migrated."""
    async with engine.connect() as connection:
        await connection.execution_options(**{READ_ONLY: True})
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


UNMODELLED_TABLE = re.compile(r"^event_(default|y\d{4}m\d{2})$")
UNMODELLED_INDEXES = frozenset({"ix_event_embedding_hnsw"})


def include_in_autogenerate(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Leave out what only migrations and jobs manage: PostgreSQL's monthly event partitions
    (and their indexes) and the vector index, which the models do not describe."""
    if type_ == "table" and name is not None and UNMODELLED_TABLE.match(name):
        return False
    if type_ == "index" and reflected and name is not None:
        table = getattr(getattr(obj, "table", None), "name", "")
        if name in UNMODELLED_INDEXES or UNMODELLED_TABLE.match(str(table)):
            return False
    return True
