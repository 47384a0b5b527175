"""Recording and checking the audit log, a hash chain of append-only entries.

Each entry stores ``prev_hash``, the ``hash`` of the entry before it (64 zeros for the first),
and its own ``hash``: SHA-256 over a canonical JSON form of ``prev_hash`` and its content (see
`entry_hash`). Editing an entry breaks its own hash; deleting or inserting one breaks the
``prev_hash`` link of the entry after it. ``seq`` is not hashed: the database assigns it on
insert, and the order it gives is already fixed by the links.

Two limits of a chain kept in the database it protects:

* Removing the newest entries leaves a shorter chain that is still valid. `verify_chain` reports
  the head (``head_seq``, ``head_hash``); writing it down elsewhere from time to time (a ticket,
  a log shipper) lets a later check prove that nothing after it went missing.
* Gaps in ``seq`` are not errors: a PostgreSQL sequence value used by a transaction that rolled
  back is never reused. A deleted row shows up as a broken ``prev_hash`` link instead.

Appending is serialised so that two transactions never chain to the same previous entry (see
`orin.audit.repository.lock_chain`); the lock is held until the caller's transaction ends, so
audit writes should come late in a transaction and the transaction should be short.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from sqlalchemy import String
from sqlalchemy.ext.asyncio import AsyncSession

from orin.audit import repository
from orin.models.audit_entry import AuditEntry
from orin.models.base import utcnow

logger = structlog.get_logger(__name__)

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first entry."""


def _max_length(column: str) -> int:
    column_type = AuditEntry.__table__.c[column].type
    if not isinstance(column_type, String) or column_type.length is None:
        raise TypeError(f"audit_entry.{column} is not a bounded string column")
    return column_type.length


_ACTOR_ID_MAX = _max_length("actor_id")
_ACTION_MAX = _max_length("action")
_TARGET_TYPE_MAX = _max_length("target_type")
_TARGET_ID_MAX = _max_length("target_id")
_IP_MAX = _max_length("ip")
_USER_AGENT_MAX = _max_length("user_agent")


def _canonical_json(value: Any) -> str:
    # Sorted keys and no spaces give one spelling per value; ASCII escapes keep the bytes
    # independent of how the database stores text.
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def _utc_iso(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("audit entry time must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def personal_digest(entry: AuditEntry) -> str:
    """SHA-256 (hex) over the entry's salt and personal fields: ``actor_id``, ``target_id``,
    ``ip``, ``user_agent`` and ``details`` (one canonical JSON object with sorted keys)."""
    content = {
        "salt": entry.personal_salt,
        "actor_id": entry.actor_id,
        "target_id": entry.target_id,
        "ip": entry.ip,
        "user_agent": entry.user_agent,
        "details": entry.details,
    }
    return hashlib.sha256(_canonical_json(content).encode("ascii")).hexdigest()


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 (hex) of the entry as `record` computes it.

    The input is one canonical JSON object holding ``prev_hash``, ``at`` (ISO-8601 in UTC with
    microseconds), ``action``, ``target_type`` and the stored ``personal_digest``. Personal
    fields enter only through that digest, so erasing them (`redact_personal_data`) keeps the
    chain verifiable: a redacted entry's digest can no longer be recomputed, but its link can.
    """
    content = {
        "prev_hash": entry.prev_hash,
        "at": _utc_iso(entry.at),
        "action": entry.action,
        "target_type": entry.target_type,
        "personal_digest": entry.personal_digest,
    }
    return hashlib.sha256(_canonical_json(content).encode("ascii")).hexdigest()


def _checked(name: str, value: str, max_length: int) -> str:
    if len(value) > max_length:
        raise ValueError(f"audit {name} is longer than {max_length} characters")
    return value


def _normalised_details(details: dict[str, Any] | None) -> dict[str, Any]:
    # Store exactly what a JSON round trip gives back (tuples become lists, keys strings), so
    # the hash computed now matches the one recomputed from the stored row.
    if not details:
        return {}
    try:
        normalised: dict[str, Any] = json.loads(_canonical_json(details))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit details must be plain JSON: {exc}") from exc
    return normalised


async def record(
    session: AsyncSession,
    *,
    action: str,
    actor_id: str | None,
    target_type: str = "",
    target_id: str = "",
    ip: str = "",
    user_agent: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append an entry to the audit log inside the caller's transaction (never commits).

    The entry is flushed, so its ``seq`` is set on return; it becomes durable, and visible to
    others, when the caller's transaction commits, and disappears with it on rollback. Until
    then the transaction holds the chain's append lock (PostgreSQL advisory lock, or SQLite's
    write lock that every writing transaction already holds).

    ``ip`` and ``user_agent`` come from the client and are cut to the column size; ``action``,
    ``actor_id``, ``target_type`` and ``target_id`` come from code and raise `ValueError` when
    too long, as do ``details`` that are not plain JSON.
    """
    if not action:
        raise ValueError("audit action must not be empty")
    entry = AuditEntry(
        actor_id=None if actor_id is None else _checked("actor_id", actor_id, _ACTOR_ID_MAX),
        action=_checked("action", action, _ACTION_MAX),
        target_type=_checked("target_type", target_type, _TARGET_TYPE_MAX),
        target_id=_checked("target_id", target_id, _TARGET_ID_MAX),
        ip=ip[:_IP_MAX],
        user_agent=user_agent[:_USER_AGENT_MAX],
        details=_normalised_details(details),
    )
    await repository.lock_chain(session)
    tail = await repository.latest(session)
    entry.prev_hash = GENESIS_HASH if tail is None else tail[1]
    # Stamped under the lock, so times never go backwards along the chain.
    entry.at = utcnow()
    entry.personal_salt = secrets.token_hex(16)
    entry.personal_digest = personal_digest(entry)
    entry.hash = entry_hash(entry)
    await repository.add(session, entry)
    logger.debug("audit.recorded", seq=entry.seq, action=entry.action, actor_id=entry.actor_id)
    return entry


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What `verify_chain` found.

    ``first_bad_seq`` and ``problem`` describe the first entry that failed (None when ``ok``);
    ``bad_entries`` counts every entry that failed. ``head_seq`` and ``head_hash`` name the
    newest entry, worth keeping outside the database to detect later removal of the tail.
    """

    ok: bool
    entries_checked: int
    first_bad_seq: int | None = None
    problem: str | None = None
    bad_entries: int = 0
    head_seq: int | None = None
    head_hash: str | None = None


def _problems(entry: AuditEntry, prev_seq: int | None, prev_hash: str) -> list[str]:
    problems: list[str] = []
    if entry.redacted_at is None and personal_digest(entry) != entry.personal_digest:
        problems.append("personal fields do not match their digest (edited?)")
    if entry_hash(entry) != entry.hash:
        problems.append("content does not match its hash (edited?)")
    if entry.prev_hash != prev_hash:
        if prev_seq is None:
            problems.append(
                "prev_hash is not the genesis value, so entries before it are missing (deleted?)"
            )
        else:
            problems.append(f"prev_hash does not match entry {prev_seq} (inserted/deleted?)")
    return problems


async def verify_chain(session: AsyncSession, *, batch_size: int = 1000) -> ChainReport:
    """Walk the whole log in ``seq`` order, recomputing each hash and checking each link.

    Reads ``batch_size`` entries at a time. Each entry is compared with the stored ``hash`` of
    the one before it, so one edited entry is reported alone while a deleted or inserted one
    is reported at the entry after the gap. Gaps in ``seq`` alone are not errors (see the
    module docstring). Run it in a read-only session to keep SQLite writers unblocked.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    checked = 0
    bad = 0
    first_bad_seq: int | None = None
    first_problem: str | None = None
    prev_seq: int | None = None
    prev_hash = GENESIS_HASH
    while True:
        batch = await repository.entries_after(session, prev_seq, batch_size)
        for entry in batch:
            checked += 1
            problems = _problems(entry, prev_seq, prev_hash)
            if problems:
                bad += 1
                if first_bad_seq is None:
                    first_bad_seq = entry.seq
                    first_problem = f"entry {entry.seq}: {'; '.join(problems)}"
            prev_seq, prev_hash = entry.seq, entry.hash
        if len(batch) < batch_size:
            break
    report = ChainReport(
        ok=bad == 0,
        entries_checked=checked,
        first_bad_seq=first_bad_seq,
        problem=first_problem,
        bad_entries=bad,
        head_seq=prev_seq,
        head_hash=None if prev_seq is None else prev_hash,
    )
    if report.ok:
        logger.info("audit.chain_ok", entries=checked, head_seq=report.head_seq)
    else:
        logger.warning(
            "audit.chain_broken",
            entries=checked,
            bad_entries=bad,
            first_bad_seq=first_bad_seq,
            problem=first_problem,
        )
    return report


async def list_entries(
    session: AsyncSession,
    *,
    limit: int,
    before_seq: int | None = None,
    actor_id: str | None = None,
    action: str | None = None,
    target_id: str | None = None,
) -> list[AuditEntry]:
    """Entries newest first, for paging through the log.

    Pass the smallest ``seq`` of a page as ``before_seq`` to get the next (older) page. Filters
    that are None are not applied; the others must all match.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    entries = await repository.list_entries(
        session,
        limit=limit,
        before_seq=before_seq,
        actor_id=actor_id,
        action=action,
        target_id=target_id,
    )
    return list(entries)


ERASED_ACTOR = "erased"
"""What `redact_personal_data` leaves in ``actor_id``."""


async def redact_personal_data(session: AsyncSession, user_id: str) -> int:
    """Erase a user's personal data from the log (GDPR): entries they made or that name them
    keep their action, time and link in the chain; actor, ip, user agent, details and salt go.

    Returns how many entries were redacted. The chain still verifies (see `entry_hash`).
    """
    entries = await repository.entries_about(session, user_id)
    now = utcnow()
    for entry in entries:
        if entry.actor_id == user_id:
            entry.actor_id = ERASED_ACTOR
        if entry.target_id == user_id:
            entry.target_id = ERASED_ACTOR
        entry.ip = ""
        entry.user_agent = ""
        entry.details = {}
        entry.personal_salt = None
        entry.redacted_at = now
    await session.flush()
    return len(entries)


class RequestOrigin(Protocol):
    """Where a request came from (`orin.auth.service.ClientInfo` is one)."""

    @property
    def ip(self) -> str: ...

    @property
    def user_agent(self) -> str: ...


async def audit_event(
    db: AsyncSession,
    client: RequestOrigin,
    *,
    action: str,
    actor_id: str | None,
    target_type: str = "",
    target_id: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """`record` with the request's origin (IP and user agent) taken from ``client``."""
    await record(
        db,
        action=action,
        actor_id=actor_id,
        target_type=target_type,
        target_id=target_id,
        ip=client.ip,
        user_agent=client.user_agent,
        details=details,
    )
