"""Refuse text holding NUL characters (U+0000) with 422, before any endpoint sees it.

PostgreSQL cannot store U+0000 in a text column; SQLite can. Without this check the same
request was a 500 on the scaled backend and stored on the embedded one. No field of the API
has a use for the character, so it is refused wherever it arrives: the path, the query string,
a JSON body (the ``\\u0000`` escape; JSON cannot carry a raw NUL in a string) and a form body
(``%00``). Other bodies (uploads, signed storage PUTs) are binary and pass untouched.

The body is checked as it streams, chunk by chunk, keeping the last few bytes of each chunk so
an escape split between two chunks is still found.
"""

from __future__ import annotations

import re
from typing import Final

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orin.problems import problem_response

JSON_NUL: Final = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
"""A ``\\u0000`` escape whose backslash is not itself escaped (``\\\\u0000`` is the text
``\\u0000``, which is fine)."""
FORM_NUL: Final = re.compile(rb"%00")
_CARRY: Final = 64
"""Bytes of the previous chunk kept in front of the next one: an escape with any run of
backslashes before it fits."""
DETAIL: Final = "text must not contain NUL characters (U+0000)"
SLUG: Final = "nul-character"
TITLE: Final = "NUL character in the request"


class NulCharacterInRequest(HTTPException):
    """Raised while the body is read: FastAPI's body parsing lets an `HTTPException` through
    (it answers any other error there with a 400), and `refused` renders it."""

    def __init__(self) -> None:
        super().__init__(status_code=422, detail=DETAIL)


def _problem(request: Request) -> Response:
    return problem_response(request, status=422, slug=SLUG, title=TITLE, detail=DETAIL)


async def refused(request: Request, exc: Exception) -> Response:
    """Exception handler for `NulCharacterInRequest` (installed by `create_app`)."""
    return _problem(request)


def _body_pattern(scope: Scope) -> re.Pattern[bytes] | None:
    for name, value in scope["headers"]:
        if name == b"content-type":
            kind = value.split(b";", 1)[0].strip().lower()
            if kind == b"application/json" or kind.endswith(b"+json"):
                return JSON_NUL
            if kind == b"application/x-www-form-urlencoded":
                return FORM_NUL
    return None


class NulCharacterMiddleware:
    """Pure ASGI middleware: 422 for a NUL character in a request's path, query or text body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            await _problem(Request(scope))(scope, receive, send)
            return
        pattern = _body_pattern(scope)
        if pattern is None:
            await self.app(scope, receive, send)
            return
        tail = b""

        async def checking_receive() -> Message:
            nonlocal tail
            message = await receive()
            if message["type"] == "http.request":
                window = tail + message.get("body", b"")
                if pattern.search(window):
                    raise NulCharacterInRequest()
                tail = window[-_CARRY:]
            return message

        await self.app(scope, checking_receive, send)
