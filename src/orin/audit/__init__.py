"""The audit log: who did what, appended in the caller's transaction and hash-chained."""

from orin.audit.service import (
    GENESIS_HASH,
    ChainReport,
    RequestOrigin,
    audit_event,
    entry_hash,
    list_entries,
    record,
    verify_chain,
)

__all__ = [
    "GENESIS_HASH",
    "ChainReport",
    "RequestOrigin",
    "audit_event",
    "entry_hash",
    "list_entries",
    "record",
    "verify_chain",
]
