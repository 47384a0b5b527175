"""The transactional outbox: messages written with the data, relayed to the bus after commit."""

from orin.outbox.consumer import idempotent
from orin.outbox.relay import OutboxRelay
from orin.outbox.service import enqueue

__all__ = ["OutboxRelay", "enqueue", "idempotent"]
