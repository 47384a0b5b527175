"""Rendering every error as problem+json (RFC 9457), with the request id for support."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orin.errors import OrinError
from orin.observability.request_id import current_request_id

logger = structlog.get_logger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://orin.dev/problems/"


class Problem(BaseModel):
    """An RFC 9457 problem document, as every error response carries it."""

    type: str = Field(description="URI naming the kind of problem.")
    title: str = Field(description="Short summary of the kind of problem.")
    status: int = Field(description="HTTP status code.")
    detail: str = Field(description="What went wrong this time, for a person.")
    instance: str = Field(description="The request path.")
    request_id: str | None = Field(None, description="Id of the request, for support.")


def problem_response(
    request: Request,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    extra: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": current_request_id.get(),
    }
    if extra:
        body.update(extra)
    return Response(
        content=orjson.dumps(body, default=str),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


async def _orin_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OrinError)
    if exc.status_code >= 500:
        logger.warning("request.failed", error=exc.message, problem=exc.type_slug)
    return problem_response(
        request,
        status=exc.status_code,
        slug=exc.type_slug,
        title=exc.title,
        detail=exc.message,
        extra=exc.extra,
        headers=exc.headers,
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type")}
        for error in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(part) for part in first["loc"])
    return problem_response(
        request,
        status=422,
        slug="validation",
        title="Invalid request",
        detail=f"{where}: {first['msg']}" if where else str(first["msg"]),
        extra={"errors": errors},
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = HTTPStatus(exc.status_code)
    return problem_response(
        request,
        status=exc.status_code,
        slug=status.phrase.lower().replace(" ", "-"),
        title=status.phrase,
        detail=str(exc.detail),
        headers=exc.headers,
    )


class UnhandledErrorMiddleware:
    """Turns an exception no handler took into a logged 500 problem carrying the request id.

    It sits inside the request-id middleware (Starlette's own last-resort handler sits outside
    every middleware, where the request id is already gone).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            logger.exception("request.crashed", error_type=type(exc).__name__)
            if started:
                raise
            response = problem_response(
                Request(scope),
                status=500,
                slug="internal",
                title="Internal error",
                detail="Something went wrong on our side; the request id helps support find it.",
            )
            await response(scope, receive, send)


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error type through one problem+json renderer."""
    app.add_exception_handler(OrinError, _orin_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries declaring problem+json bodies for ``statuses``."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {}},
        }
        for status in statuses
    }
