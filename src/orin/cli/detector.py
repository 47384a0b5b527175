"""`orin detector`: a stateless detection replica serving RabbitMQ requests until a signal."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Annotated

import structlog
import typer

from orin.cli.errors import plain_errors
from orin.config import Settings, load_settings
from orin.observability.logging import configure_logging

logger = structlog.get_logger(__name__)

ROLE = "detector"


@plain_errors
def detector(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Detectors to serve (names in ORIN_VISION_DETECTORS); default all."),
    ] = None,
    heartbeat: Annotated[
        bool,
        typer.Option(help="Record this process in the database's heartbeats (/admin/system)."),
    ] = True,
) -> None:
    """Run object detection for `orin ingest` nodes that use ORIN_VISION_TRANSPORT=amqp."""
    settings = load_settings(process_role=ROLE)
    configure_logging(settings.log, role=ROLE)
    asyncio.run(serve_detector(settings, names or None, heartbeat=heartbeat))


async def serve_detector(
    settings: Settings, names: list[str] | None, *, heartbeat: bool = True
) -> None:
    """Serve detection requests until SIGINT or SIGTERM, then hand back what is unfinished."""
    from orin.db import Database
    from orin.runtime.heartbeat import Heartbeat
    from orin.vision.transport.server import DetectorServer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = DetectorServer(settings, names)
    await server.start()
    logger.info("detector.started", detectors=server.names)
    database = Database(settings) if heartbeat else None
    beat = (
        asyncio.create_task(Heartbeat(database, ROLE).run(), name="heartbeat")
        if database is not None
        else None
    )
    try:
        await stop.wait()
        logger.info("detector.stopping")
    finally:
        if beat is not None:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        if database is not None:
            await database.dispose()
        await server.close()
    logger.info("detector.stopped", served=server.served)
