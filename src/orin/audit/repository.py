"""Every query on the audit log.

The log is append-only, so this module has no update or delete: entries are added by
`orin.audit.service.record` and only ever read afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from orin.db import READ_ONLY
from orin.models.audit_entry import AuditEntry

AUDIT_CHAIN_LOCK_KEY = int.from_bytes(b"ORINAUDT", "big")
"""Key of the PostgreSQL advisory lock that serialises appends ("ORINAUDT" read as an int64)."""


async def lock_chain(session: AsyncSession) -> None:
    """Hold the right to append to the chain until the session's transaction ends.

    PostgreSQL: a transaction-scoped advisory lock, released by the commit or rollback. The
    default READ COMMITTED isolation gives every later statement a fresh snapshot, so the tail
    read after the lock includes the entry the previous holder committed.

    SQLite: the engine begins every writing transaction with ``BEGIN IMMEDIATE`` (see
    `orin.db`), so the transaction already holds the database's single write lock and nothing
    needs taking here. A session opened read-only begins deferred and could read a stale tail;
    it is refused rather than left to fail later.
    """
    connection = await session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_CHAIN_LOCK_KEY}
        )
    elif dialect == "sqlite":
        sync_connection = connection.sync_connection
        if sync_connection is not None and sync_connection.get_execution_options().get(READ_ONLY):
            raise RuntimeError("audit entries cannot be recorded in a read-only session")


async def latest(session: AsyncSession) -> tuple[int, str] | None:
    """``(seq, hash)`` of the newest entry, or None while the log is empty."""
    statement = select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    row = (await session.execute(statement)).first()
    return None if row is None else (row.seq, row.hash)


async def add(session: AsyncSession, entry: AuditEntry) -> None:
    """Insert ``entry`` now (so that its ``seq`` is known) inside the caller's transaction."""
    session.add(entry)
    await session.flush()


async def entries_after(
    session: AsyncSession, after_seq: int | None, limit: int
) -> Sequence[AuditEntry]:
    """Up to ``limit`` entries with ``seq`` above ``after_seq`` (all when None), oldest first.

    Rows already in the session are refreshed from the database, so a check sees what is
    stored rather than what this process last wrote.
    """
    statement = select(AuditEntry).order_by(AuditEntry.seq).limit(limit)
    if after_seq is not None:
        statement = statement.where(AuditEntry.seq > after_seq)
    statement = statement.execution_options(populate_existing=True)
    return (await session.scalars(statement)).all()


async def list_entries(
    session: AsyncSession,
    *,
    limit: int,
    before_seq: int | None = None,
    actor_id: str | None = None,
    action: str | None = None,
    target_id: str | None = None,
) -> Sequence[AuditEntry]:
    """Entries newest first, below ``before_seq`` when given, matching every filter given."""
    statement = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    if before_seq is not None:
        statement = statement.where(AuditEntry.seq < before_seq)
    if actor_id is not None:
        statement = statement.where(AuditEntry.actor_id == actor_id)
    if action is not None:
        statement = statement.where(AuditEntry.action == action)
    if target_id is not None:
        statement = statement.where(AuditEntry.target_id == target_id)
    return (await session.scalars(statement)).all()


async def entries_about(session: AsyncSession, user_id: str) -> Sequence[AuditEntry]:
    """Entries not yet redacted that the user made or that target them."""
    statement = select(AuditEntry).where(
        or_(AuditEntry.actor_id == user_id, AuditEntry.target_id == user_id),
        AuditEntry.redacted_at.is_(None),
    )
    return (await session.scalars(statement)).all()
