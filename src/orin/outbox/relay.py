"""The outbox relay: publishes committed outbox rows to the bus and marks them sent.

Rows are claimed in commit order with ``FOR UPDATE SKIP LOCKED`` so several relays can run
against PostgreSQL. A row is marked sent only after the broker confirmed it; when the broker is
down the rows stay and the relay backs off, then sends them once it is back. A crash between the
confirm and the mark may send a row twice, which the consumers' processed-id table absorbs.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from orin.bus.base import Bus, Message
from orin.config import OutboxSettings
from orin.db import Database
from orin.models.base import utcnow
from orin.outbox import repository

logger = structlog.get_logger(__name__)

MAX_BACKOFF_S = 30.0


class OutboxRelay:
    """Moves outbox rows to the bus, woken by commits and by a poll interval."""

    def __init__(self, database: Database, bus: Bus, settings: OutboxSettings) -> None:
        self.database = database
        self.bus = bus
        self.settings = settings
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sent_total = 0
        self.last_error: str | None = None
        database.on_outbox_commit(self.nudge)

    def nudge(self) -> None:
        """Ask the relay to look for rows now rather than at the next poll."""
        self._wake.set()

    async def relay_once(self) -> int:
        """Send one batch; returns how many rows were sent. Raises if the bus refused any."""
        async with self.database.transaction() as session:
            rows = await repository.claim_unsent(session, self.settings.batch_size)
            if not rows:
                return 0
            messages = [
                Message(
                    id=row.message_id,
                    topic=row.topic,
                    payload=row.payload,
                    created_at=row.created_at,
                )
                for row in rows
            ]
            results = await asyncio.gather(
                *(self.bus.publish(message) for message in messages), return_exceptions=True
            )
            sent = [row.seq for row, result in zip(rows, results, strict=True) if result is None]
            failed = [row.seq for row, result in zip(rows, results, strict=True) if result]
            await repository.mark_sent(session, sent, utcnow())
            error = next((result for result in results if isinstance(result, BaseException)), None)
            if error is not None:
                await repository.mark_failed(session, failed, f"{type(error).__name__}: {error}")
        self.sent_total += len(sent)
        if error is not None:
            raise error
        return len(sent)

    async def drain(self) -> int:
        """Send batches until none is left; returns how many rows were sent."""
        total = 0
        while sent := await self.relay_once():
            total += sent
        return total

    async def run(self) -> None:
        """Relay until cancelled, backing off while the bus is unavailable."""
        backoff = self.settings.retry_delay_s
        while True:
            self._wake.clear()
            try:
                sent = await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                logger.warning("outbox.relay_failed", error=self.last_error, retry_in_s=backoff)
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF_S, backoff * 2)
                continue
            backoff = self.settings.retry_delay_s
            self.last_error = None
            if sent:
                logger.debug("outbox.relayed", count=sent)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval_s)

    def start(self) -> None:
        """Run the relay as a background task of the current event loop."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="outbox-relay")

    async def stop(self) -> None:
        """Stop the background task; rows not yet sent stay for the next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
