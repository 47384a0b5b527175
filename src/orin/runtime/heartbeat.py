"""Each process records that it is alive, so operators (and /admin/system) see every role."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid

import structlog

from orin import __version__
from orin.db import Database
from orin.models.base import utcnow
from orin.models.process_heartbeat import ProcessHeartbeat

logger = structlog.get_logger(__name__)

HEARTBEAT_EVERY_S = 10.0


class Heartbeat:
    """Upserts this process's row every `HEARTBEAT_EVERY_S` seconds until stopped."""

    def __init__(self, database: Database, role: str) -> None:
        self.database = database
        self.role = role
        self.process_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.started_at = utcnow()

    async def beat(self) -> None:
        """Record one sign of life."""
        async with self.database.transaction() as session:
            row = await session.get(ProcessHeartbeat, self.process_id)
            if row is None:
                session.add(
                    ProcessHeartbeat(
                        process_id=self.process_id,
                        role=self.role,
                        hostname=socket.gethostname(),
                        pid=os.getpid(),
                        version=__version__,
                        started_at=self.started_at,
                        seen_at=utcnow(),
                    )
                )
            else:
                row.seen_at = utcnow()

    async def run(self) -> None:
        """Beat until cancelled; a failed beat is logged, not fatal."""
        while True:
            try:
                await self.beat()
            except Exception as exc:
                logger.warning("heartbeat.failed", error=str(exc))
            await asyncio.sleep(HEARTBEAT_EVERY_S)
