"""Every table of ORIN, one module each, sharing one MetaData (imported here for Alembic)."""

from orin.models.base import Base, metadata
from orin.models.lease import Lease
from orin.models.outbox_message import OutboxMessage
from orin.models.process_heartbeat import ProcessHeartbeat
from orin.models.processed_message import ProcessedMessage

__all__ = ["Base", "Lease", "OutboxMessage", "ProcessHeartbeat", "ProcessedMessage", "metadata"]
