"""Running roles in this process: the API under uvicorn, or background roles until a signal."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterable

import structlog
import uvicorn

from orin.app import create_app
from orin.config import Settings
from orin.observability import gc_pauses
from orin.observability.logging import configure_logging
from orin.runtime.process import Role, Runtime

logger = structlog.get_logger(__name__)


async def serve_api(settings: Settings, roles: Iterable[Role], *, banner: bool = False) -> None:
    """Start the roles' adapters (failing plainly if one is down), then serve HTTP."""
    configure_logging(settings.log, role=settings.process_role)
    async with Runtime(settings, roles) as runtime:
        app = create_app(settings, runtime=runtime, configure_logs=False)
        config = uvicorn.Config(
            app,
            host=settings.api.host,
            port=settings.api.port,
            log_config=None,
            access_log=False,
            proxy_headers=True,
            server_header=False,
            lifespan="on",
            ws="websockets-sansio",
            ws_per_message_deflate=False,
            # The realtime hub pings every socket itself (application `ping`, closes after
            # missed pongs: docs/realtime.md); uvicorn's protocol pings would double that.
            ws_ping_interval=None,
        )
        server = uvicorn.Server(config)
        gc_pauses.freeze_startup_heap()
        # uvicorn re-raises the stop signal after a graceful shutdown so the previous handler
        # runs; make that handler a no-op so a SIGTERM'd server exits 0 after cleaning up.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _ignore_after_shutdown)
        announcer = asyncio.create_task(_announce(server, settings, runtime, banner=banner))
        try:
            await server.serve()
        finally:
            announcer.cancel()
        if not server.started:
            # uvicorn logs why (typically the port is taken) and returns without raising.
            raise SystemExit(1)


def _ignore_after_shutdown(signum: int, frame: object) -> None:
    logger.debug("orin.signal_after_shutdown", signal=signum)


async def _announce(
    server: uvicorn.Server, settings: Settings, runtime: Runtime, *, banner: bool
) -> None:
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes only this flag
        await asyncio.sleep(0.05)
    adapters = runtime.infra.adapter_names()
    logger.info("orin.ready", url=settings.public_url, adapters=adapters)
    if banner:
        print(  # noqa: T201 - the newcomer's first sight of ORIN
            f"\nORIN is running at {settings.public_url}  (API docs: {settings.public_url}/docs)\n"
            f"adapters: {', '.join(f'{port}={name}' for port, name in adapters.items())}; "
            "stop with Ctrl+C\n",
            flush=True,
        )


async def serve_background(settings: Settings, roles: Iterable[Role]) -> None:
    """Run background roles (worker, scheduler) until SIGINT or SIGTERM."""
    configure_logging(settings.log, role=settings.process_role)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Runtime(settings, roles):
        gc_pauses.freeze_startup_heap()
        await stop.wait()
        logger.info("orin.stopping")
