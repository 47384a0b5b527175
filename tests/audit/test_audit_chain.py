"""The audit log on both databases: entries chain, tampering is found at the right entry,
concurrent appends stay one chain, and `orin audit verify` reports both outcomes."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from orin.audit import (
    ERASED_ACTOR,
    GENESIS_HASH,
    ChainReport,
    entry_hash,
    list_entries,
    record,
    redact_personal_data,
    verify_chain,
)
from orin.audit import repository as audit_repository
from orin.cli.audit import audit_cli
from orin.db import Database
from orin.models.audit_entry import AuditEntry


class Boom(Exception):
    """Raised by tests to abort a transaction."""


async def record_many(database: Database, count: int, **fields: Any) -> list[AuditEntry]:
    """Record ``count`` entries, each in its own committed transaction."""
    entries = []
    for index in range(count):
        async with database.transaction() as session:
            values: dict[str, Any] = {"action": f"test.action_{index}", "actor_id": "u1"}
            values.update(fields)
            entries.append(await record(session, **values))
    return entries


async def execute(database: Database, sql: str, **params: Any) -> None:
    """Run raw SQL, as someone bypassing the application would."""
    async with database.transaction() as session:
        await session.execute(text(sql), params)


async def stored(database: Database) -> list[AuditEntry]:
    async with database.transaction() as session:
        return list((await session.scalars(select(AuditEntry).order_by(AuditEntry.seq))).all())


async def verify(database: Database, batch_size: int = 1000) -> ChainReport:
    async with database.transaction() as session:
        return await verify_chain(session, batch_size=batch_size)


async def test_entries_chain_each_to_the_one_before(committing_database: Database) -> None:
    details = {"b": [1, 2.5, None], "a": {"nested": True}, "text": "caméra ✓", "pair": (1, 2)}
    first, second, third = await record_many(
        committing_database,
        3,
        target_type="camera",
        target_id="c1",
        ip="10.0.0.1",
        user_agent="pytest",
        details=details,
    )

    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert first.seq < second.seq < third.seq
    assert len({first.hash, second.hash, third.hash}) == 3
    # What the database gives back hashes to what was computed before the insert.
    rows = await stored(committing_database)
    assert [row.hash for row in rows] == [first.hash, second.hash, third.hash]
    assert all(entry_hash(row) == row.hash for row in rows)
    assert rows[0].details == {
        "a": {"nested": True},
        "b": [1, 2.5, None],
        "pair": [1, 2],
        "text": "caméra ✓",
    }
    assert rows[0].at == first.at
    assert rows[0].at <= rows[1].at <= rows[2].at


async def test_verify_accepts_an_intact_chain(committing_database: Database) -> None:
    entries = await record_many(committing_database, 5)

    for batch_size in (1, 2, 5, 1000):
        report = await verify(committing_database, batch_size=batch_size)
        assert report.ok, report
        assert report.entries_checked == 5
        assert report.first_bad_seq is None
        assert report.problem is None
        assert report.bad_entries == 0
        assert report.head_seq == entries[-1].seq
        assert report.head_hash == entries[-1].hash


async def test_verify_accepts_an_empty_log(committing_database: Database) -> None:
    report = await verify(committing_database)

    assert report.ok
    assert report.entries_checked == 0
    assert report.head_seq is None
    assert report.head_hash is None


async def test_an_edited_action_is_reported_at_that_entry(committing_database: Database) -> None:
    entries = await record_many(committing_database, 5)
    tampered = entries[2].seq

    await execute(
        committing_database,
        "UPDATE audit_entry SET action = :action WHERE seq = :seq",
        action="x",
        seq=tampered,
    )

    report = await verify(committing_database, batch_size=2)
    assert not report.ok
    assert report.first_bad_seq == tampered
    assert report.problem == f"entry {tampered}: content does not match its hash (edited?)"
    # Its successor still links to the stored hash, so only the edited entry is bad.
    assert report.bad_entries == 1
    assert report.entries_checked == 5


async def test_edited_details_are_reported_at_that_entry(committing_database: Database) -> None:
    entries = await record_many(committing_database, 3, details={"amount": 1})
    tampered = entries[1].seq

    await execute(
        committing_database,
        """UPDATE audit_entry SET details = '{"amount": 2}' WHERE seq = :seq""",
        seq=tampered,
    )

    report = await verify(committing_database)
    assert report.first_bad_seq == tampered
    assert report.problem is not None
    assert "personal fields do not match their digest" in report.problem


async def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(
    committing_database: Database,
) -> None:
    entries = await record_many(committing_database, 4)
    victim = (await stored(committing_database))[1]
    forged = AuditEntry(
        at=victim.at,
        actor_id=victim.actor_id,
        action="forged",
        target_type=victim.target_type,
        target_id=victim.target_id,
        ip=victim.ip,
        user_agent=victim.user_agent,
        details=victim.details,
        personal_salt=victim.personal_salt,
        personal_digest=victim.personal_digest,
        prev_hash=victim.prev_hash,
    )

    await execute(
        committing_database,
        "UPDATE audit_entry SET action = 'forged', hash = :hash WHERE seq = :seq",
        hash=entry_hash(forged),
        seq=victim.seq,
    )

    report = await verify(committing_database)
    assert report.first_bad_seq == entries[2].seq
    assert report.problem == (
        f"entry {entries[2].seq}: prev_hash does not match entry {victim.seq} (inserted/deleted?)"
    )
    assert report.bad_entries == 1


async def test_a_deleted_entry_is_reported_at_the_next_one(committing_database: Database) -> None:
    entries = await record_many(committing_database, 5)

    await execute(
        committing_database, "DELETE FROM audit_entry WHERE seq = :seq", seq=entries[2].seq
    )

    report = await verify(committing_database, batch_size=2)
    assert not report.ok
    assert report.first_bad_seq == entries[3].seq
    assert report.problem == (
        f"entry {entries[3].seq}: prev_hash does not match entry {entries[1].seq} "
        "(inserted/deleted?)"
    )
    assert report.bad_entries == 1
    assert report.entries_checked == 4


async def test_a_deleted_first_entry_is_reported(committing_database: Database) -> None:
    entries = await record_many(committing_database, 3)

    await execute(
        committing_database, "DELETE FROM audit_entry WHERE seq = :seq", seq=entries[0].seq
    )

    report = await verify(committing_database)
    assert report.first_bad_seq == entries[1].seq
    assert report.problem is not None
    assert "not the genesis value" in report.problem


async def test_a_rolled_back_append_leaves_no_entry_and_no_break(
    committing_database: Database,
) -> None:
    async def record_then_fail() -> None:
        async with committing_database.transaction() as session:
            await record(session, action="test.rolled_back", actor_id=None)
            raise Boom

    await record_many(committing_database, 1)
    with pytest.raises(Boom):
        await record_then_fail()
    await record_many(committing_database, 1)

    rows = await stored(committing_database)
    assert [row.action for row in rows] == ["test.action_0", "test.action_0"]
    assert rows[1].prev_hash == rows[0].hash
    # PostgreSQL never reuses the sequence value of the rolled-back insert: a gap is normal.
    assert (await verify(committing_database)).ok


async def test_concurrent_appends_form_one_chain(
    committing_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_latest = audit_repository.latest

    async def slow_latest(session: AsyncSession) -> tuple[int, str] | None:
        # Widen the window between reading the tail and inserting: without the append lock,
        # concurrent transactions would read the same tail and fork the chain.
        tail = await real_latest(session)
        await asyncio.sleep(0.02)
        return tail

    monkeypatch.setattr(audit_repository, "latest", slow_latest)

    async def append(index: int) -> AuditEntry:
        async with committing_database.transaction() as session:
            return await record(session, action="test.concurrent", actor_id=f"u{index}")

    entries = await asyncio.gather(*(append(index) for index in range(20)))

    assert len({entry.prev_hash for entry in entries}) == 20
    report = await verify(committing_database)
    assert report.ok, report
    assert report.entries_checked == 20
    by_seq = sorted(entries, key=lambda entry: entry.seq)
    assert by_seq[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(by_seq):
        assert after.prev_hash == before.hash


async def test_list_entries_pages_newest_first_and_filters(committing_database: Database) -> None:
    async with committing_database.transaction() as session:
        e1 = await record(session, action="user.login", actor_id="alice", target_id="s1")
        e2 = await record(session, action="camera.create", actor_id="alice", target_id="c1")
        e3 = await record(session, action="user.login", actor_id="bob", target_id="s2")
        e4 = await record(session, action="camera.delete", actor_id="bob", target_id="c1")
        e5 = await record(session, action="user.login", actor_id="alice", target_id="s3")

    async with committing_database.transaction() as session:
        page1 = await list_entries(
            session, limit=2, before_seq=None, actor_id=None, action=None, target_id=None
        )
        page2 = await list_entries(
            session, limit=2, before_seq=page1[-1].seq, actor_id=None, action=None, target_id=None
        )
        page3 = await list_entries(
            session, limit=2, before_seq=page2[-1].seq, actor_id=None, action=None, target_id=None
        )
        page4 = await list_entries(
            session, limit=2, before_seq=page3[-1].seq, actor_id=None, action=None, target_id=None
        )
        by_actor = await list_entries(
            session, limit=10, before_seq=None, actor_id="alice", action=None, target_id=None
        )
        by_action = await list_entries(
            session, limit=10, before_seq=None, actor_id=None, action="user.login", target_id=None
        )
        by_target = await list_entries(
            session, limit=10, before_seq=None, actor_id=None, action=None, target_id="c1"
        )
        combined = await list_entries(
            session,
            limit=10,
            before_seq=e5.seq,
            actor_id="alice",
            action="user.login",
            target_id=None,
        )
        none = await list_entries(
            session, limit=10, before_seq=None, actor_id="carol", action=None, target_id=None
        )

    def seqs(entries: list[AuditEntry]) -> list[int]:
        return [entry.seq for entry in entries]

    assert seqs(page1) == [e5.seq, e4.seq]
    assert seqs(page2) == [e3.seq, e2.seq]
    assert seqs(page3) == [e1.seq]
    assert page4 == []
    assert seqs(by_actor) == [e5.seq, e2.seq, e1.seq]
    assert seqs(by_action) == [e5.seq, e3.seq, e1.seq]
    assert seqs(by_target) == [e4.seq, e2.seq]
    assert seqs(combined) == [e1.seq]
    assert none == []


async def test_record_checks_and_trims_its_input(committing_database: Database) -> None:
    async with committing_database.transaction() as session:
        with pytest.raises(ValueError, match="action must not be empty"):
            await record(session, action="", actor_id=None)
        with pytest.raises(ValueError, match="action is longer than 100"):
            await record(session, action="a" * 101, actor_id=None)
        with pytest.raises(ValueError, match="target_id is longer than 64"):
            await record(session, action="test.long", actor_id=None, target_id="t" * 65)
        with pytest.raises(ValueError, match="plain JSON"):
            await record(session, action="test.json", actor_id=None, details={"x": object()})
        with pytest.raises(ValueError, match="plain JSON"):
            await record(session, action="test.nan", actor_id=None, details={"x": float("nan")})
        entry = await record(
            session, action="test.trim", actor_id=None, ip="1" * 100, user_agent="u" * 1000
        )

    assert entry.ip == "1" * 64
    assert entry.user_agent == "u" * 400
    assert (await verify(committing_database)).ok


async def test_verify_rejects_a_batch_size_below_one(committing_database: Database) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        await verify(committing_database, batch_size=0)


# --- `orin audit verify` -------------------------------------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Undo the CLI's logging setup, whose handler writes to the runner's captured stream."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, restore_logging: None
) -> pytest.MonkeyPatch:
    monkeypatch.setenv("ORIN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ORIN_LOG_LEVEL", "ERROR")
    return monkeypatch


async def run_verify(*args: str) -> Any:
    # The command calls asyncio.run, so it runs on a thread of its own, off the test's loop.
    return await asyncio.to_thread(CliRunner().invoke, audit_cli, ["verify", *args])


async def test_cli_verify_reports_an_intact_chain(
    committing_database: Database, database_url: str, cli_env: pytest.MonkeyPatch
) -> None:
    entries = await record_many(committing_database, 3)
    cli_env.setenv("ORIN_DATABASE_URL", database_url)

    result = await run_verify("--batch-size", "2")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "audit chain ok: 3 entries",
        f"head: entry {entries[-1].seq}, hash {entries[-1].hash}",
    ]


async def test_cli_verify_reports_a_broken_chain(
    committing_database: Database, database_url: str, cli_env: pytest.MonkeyPatch
) -> None:
    entries = await record_many(committing_database, 3)
    bad = entries[1].seq
    await execute(
        committing_database, "UPDATE audit_entry SET action = 'x' WHERE seq = :seq", seq=bad
    )
    cli_env.setenv("ORIN_DATABASE_URL", database_url)

    result = await run_verify()

    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[0] == (
        f"audit chain BROKEN at entry {bad}: content does not match its hash (edited?)"
    )


async def test_cli_verify_says_in_one_line_when_the_database_is_unreachable(
    cli_env: pytest.MonkeyPatch,
) -> None:
    cli_env.setenv("ORIN_DATABASE_URL", "postgresql+asyncpg://orin:secret@127.0.0.1:1/orin")

    result = await run_verify()

    assert result.exit_code == 3
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("orin: error: database postgresql+asyncpg://orin:***@127.0.0.1:1/")
    assert "secret" not in result.stderr


async def test_cli_verify_says_in_one_line_when_the_database_is_not_migrated(
    cli_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cli_env.setenv("ORIN_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")

    result = await run_verify()

    assert result.exit_code == 3
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("orin: error: reading the audit log from sqlite+aiosqlite:///")
    assert "no such table: audit_entry" in lines[0]


async def test_erasing_a_users_personal_data_keeps_the_chain_verifiable(
    committing_database: Database,
) -> None:
    await record_many(committing_database, 2, actor_id="gone", ip="10.1.1.1", details={"e": 1})
    await record_many(
        committing_database, 1, actor_id="admin", target_type="user", target_id="gone"
    )
    await record_many(committing_database, 1, actor_id="stays", ip="10.2.2.2")

    async with committing_database.transaction() as session:
        assert await redact_personal_data(session, "gone") == 3

    rows = await stored(committing_database)
    erased, kept = rows[:3], rows[3]
    assert all(row.redacted_at is not None and row.personal_salt is None for row in erased)
    assert [row.actor_id for row in erased] == [ERASED_ACTOR, ERASED_ACTOR, "admin"]
    assert erased[2].target_id == ERASED_ACTOR
    assert all(row.ip == "" and row.details == {} for row in erased)
    assert "gone" not in repr([(r.actor_id, r.target_id, r.details) for r in rows])
    assert (kept.actor_id, kept.ip, kept.redacted_at) == ("stays", "10.2.2.2", None)
    assert (await verify(committing_database)).ok

    # A redacted entry's action is still covered by the chain.
    await execute(
        committing_database, "UPDATE audit_entry SET action = 'x' WHERE seq = :seq", seq=rows[0].seq
    )
    report = await verify(committing_database)
    assert report.first_bad_seq == rows[0].seq
