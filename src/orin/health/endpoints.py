"""`/healthz` says the process is alive; `/readyz` says every adapter answers."""

from __future__ import annotations

from typing import cast

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from orin import __version__
from orin.runtime.infrastructure import Infrastructure

router = APIRouter(tags=["health"])


class Liveness(BaseModel):
    status: str = Field(description="Always `ok` when the process answers.")
    version: str


class PortCheck(BaseModel):
    ok: bool
    adapter: str = Field(description="Which adapter serves the port (sqlite, redis, ...).")
    latency_ms: float
    error: str | None = None


class Readiness(BaseModel):
    status: str = Field(description="`ready` when every port answered, else `unavailable`.")
    failed: list[str] = Field(description="Ports that did not answer.")
    checks: dict[str, PortCheck]


@router.get("/healthz", operation_id="health_liveness")
async def healthz() -> Liveness:
    """The process is up and serving requests."""
    return Liveness(status="ok", version=__version__)


@router.get(
    "/readyz",
    operation_id="health_readiness",
    responses={503: {"model": Readiness, "description": "A port did not answer."}},
)
async def readyz(request: Request, response: Response) -> Readiness:
    """Every adapter (database and schema, cache, bus, storage) answers; 503 names the ones
    that did not."""
    infra = cast(Infrastructure, request.state.infra)
    results = await infra.readiness()
    failed = [port for port, result in results.items() if not result.ok]
    if failed:
        response.status_code = 503
    return Readiness(
        status="unavailable" if failed else "ready",
        failed=failed,
        checks={
            port: PortCheck(ok=r.ok, adapter=r.adapter, latency_ms=r.latency_ms, error=r.error)
            for port, r in results.items()
        },
    )
