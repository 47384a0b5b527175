"""Refuse request bodies above a size limit with 413, before they are read into memory.

A declared ``Content-Length`` over the limit is refused at once; a chunked body is counted as it
streams and refused when it crosses the limit. Paths that stream large uploads to disk under a
limit of their own (signed storage PUTs) are exempt.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orin.problems import problem_response


class BodySizeLimitMiddleware:
    """Pure ASGI middleware enforcing ``max_bytes`` on HTTP request bodies."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, exempt_prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt_prefixes = exempt_prefixes

    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > self.max_bytes:
                    detail = self._too_large() if declared > 0 else "invalid Content-Length header"
                    status = 413 if declared > 0 else 400
                    slug = "payload-too-large" if status == 413 else "bad-request"
                    response = problem_response(
                        Request(scope),
                        status=status,
                        slug=slug,
                        title="Payload too large" if status == 413 else "Bad request",
                        detail=detail,
                    )
                    await response(scope, receive, send)
                    return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(status_code=413, detail=self._too_large())
            return message

        await self.app(scope, counting_receive, send)
