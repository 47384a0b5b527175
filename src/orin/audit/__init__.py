"""The audit log: who did what, appended in the caller's transaction and hash-chained."""

from orin.audit.service import (
    ERASED_ACTOR,
    GENESIS_HASH,
    ChainReport,
    RequestOrigin,
    audit_event,
    entry_hash,
    list_entries,
    personal_digest,
    record,
    redact_personal_data,
    verify_chain,
)

__all__ = [
    "ERASED_ACTOR",
    "GENESIS_HASH",
    "ChainReport",
    "RequestOrigin",
    "audit_event",
    "entry_hash",
    "list_entries",
    "personal_digest",
    "record",
    "redact_personal_data",
    "verify_chain",
]
