"""The database port: SQLAlchemy 2 async on SQLite (embedded) or PostgreSQL (scaled).

Code above this module receives an `AsyncSession` and never commits: the request or task that
opened the session commits once at its boundary (`Database.transaction`).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NoReturn

import structlog
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from orin.config import Settings
from orin.errors import AdapterUnavailable, OrinError

logger = structlog.get_logger(__name__)

OUTBOX_WRITTEN = "orin.outbox_written"
"""Key in ``session.info`` set when the session added outbox rows (wakes the relay on commit)."""


def safe_url(url: str) -> str:
    """The URL with any password hidden, fit for logs and error messages."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


def _on_sqlite_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (see _on_sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


READ_ONLY = "orin_read_only"
"""Execution option marking a connection that only reads (SQLite then skips the write lock)."""


def _on_sqlite_begin(connection: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock up front, so two transactions that read and then
    # write never deadlock into an instant "database is locked"; busy_timeout makes them wait.
    # Read-only work (health checks, reports) begins deferred and never waits for writers (WAL).
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(settings: Settings) -> AsyncEngine:
    """An engine for the configured database, tuned for its backend."""
    url = settings.database_url
    db = settings.database
    if url.startswith("sqlite"):
        path = _sqlite_path(url)
        if path is not None:
            # A folder that cannot be made shows up as a clear error at the first connect.
            with contextlib.suppress(OSError):
                path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=db.echo, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
        event.listen(engine.sync_engine, "begin", _on_sqlite_begin)
        return engine
    return create_async_engine(
        url,
        echo=db.echo,
        pool_size=db.pool_size,
        max_overflow=db.max_overflow,
        pool_timeout=db.pool_timeout_s,
        pool_pre_ping=True,
        connect_args={
            # PgBouncer in transaction mode cannot keep named prepared statements across
            # transactions: disable asyncpg's statement cache and give every prepared
            # statement a unique name so no two sessions collide on one server connection.
            "statement_cache_size": 0,
            "prepared_statement_cache_size": 0,
            "prepared_statement_name_func": lambda: f"__orin_{uuid.uuid4().hex}__",
            "timeout": db.connect_timeout_s,
            "server_settings": {"application_name": f"orin-{settings.process_role}"},
        },
    )


class Database:
    """Engine and session factory with the one place that commits."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url
        self.engine = create_engine(settings)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self._commit_listeners: list[Callable[[], None]] = []

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def on_outbox_commit(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each commit that wrote outbox rows (wakes the relay)."""
        self._commit_listeners.append(listener)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session committed when the block ends normally and rolled back on error."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
            if session.info.pop(OUTBOX_WRITTEN, False):
                for listener in self._commit_listeners:
                    listener()

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only (nothing it changes is committed): on SQLite it begins
        deferred and so never takes or waits for the write lock."""
        async with self.sessionmaker() as session:
            await session.connection(execution_options={READ_ONLY: True})
            yield session

    async def ping(self, timeout_s: float = 5.0) -> None:
        """Raise `AdapterUnavailable` when the database cannot answer ``SELECT 1``."""
        try:
            async with asyncio.timeout(timeout_s), self.engine.connect() as connection:
                await connection.execution_options(**{READ_ONLY: True})
                await connection.execute(text("SELECT 1"))
        except Exception as exc:
            raise AdapterUnavailable(
                f"database {safe_url(self.url)} unreachable: {_reason(exc)}"
            ) from exc

    async def dispose(self) -> None:
        await self.engine.dispose()


async def commit_refusal(session: AsyncSession, refusal: OrinError) -> NoReturn:
    """Commit, then raise ``refusal``: for refusals whose bookkeeping must stick (a failed
    login's count and audit entry, a reused refresh token's family revocation).

    Services return such refusals instead of raising them; the endpoint, at the request
    boundary, calls this.
    """
    await session.commit()
    raise refusal


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    message = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return message[0] if message else type(exc).__name__
