"""Every operation of the OpenAPI schema, sent bad input, answers a problem+json 4xx, never a 500.

The cases are made from the schema itself, so a new endpoint is covered when it is added:

- path parameters that name nothing, are far too long, or hold odd characters;
- query parameters of the wrong type or out of any sensible range;
- request bodies that are not JSON, are JSON of the wrong shape, or are a body built from the
  schema (required fields with plausible values) with one field at a time made wrong: wrong
  type, huge, or a string with a NUL character (which PostgreSQL refuses to store).

Requests come from a signed-in admin who owns a space, a camera and a guard, so the checks
behind authentication and ownership are reached with real ids as well as made-up ones. Both
adapter sets: what SQLite stores, PostgreSQL may refuse.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from orin.config import RateLimitSettings, Settings
from tests.fixtures.api import Api, Person

pytestmark = pytest.mark.timeout(600)

SKIPPED = frozenset(
    {
        "auth_logout",  # would end the session the other requests use
        "user_erase",  # would erase the account the other requests use
        "live_file",  # signed file paths; covered by the streaming tests
        "recordings_signed_playlist",  # signed URL; covered by the streaming tests
    }
)
"""Operations left out (operationId) and why."""

ODD_IDS = ("0" * 32, "x" * 400, "%00", "..%2F..%2Fetc", "%F0%9F%92%A9", "-1")
ODD_QUERY_VALUES = ("not-a-number", "-1", "9" * 40, "", "\x00", "2026-13-45T99:99:99")
NUL = "a\u0000b"
WRONG_VALUES: tuple[Any, ...] = (12345678901234567890123, "x" * 20000, {"a": [None]}, [1, "2"])


@pytest.fixture
def api_settings(api_settings: Settings) -> Settings:
    """No rate limits: a 429 would hide what the endpoint does with the input."""
    return api_settings.model_copy(update={"ratelimit": RateLimitSettings(enabled=False)})


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = schema["components"]["schemas"][name]
    for key in ("anyOf", "oneOf"):
        if key in node:
            options = [o for o in node[key] if _resolve(schema, o).get("type") != "null"]
            return _resolve(schema, options[0]) if options else {}
    if "allOf" in node and len(node["allOf"]) == 1:
        return _resolve(schema, node["allOf"][0])
    return node


def plausible(schema: dict[str, Any], node: dict[str, Any], ids: dict[str, str]) -> Any:
    """A value of the right type for ``node`` (enums, formats and minimums respected)."""
    node = _resolve(schema, node)
    if "enum" in node:
        return node["enum"][0]
    if "const" in node:
        return node["const"]
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        return {
            name: plausible(schema, node["properties"][name], ids)
            for name in node.get("required", [])
        }
    if kind == "array":
        return [plausible(schema, node.get("items", {}), ids)] * node.get("minItems", 0)
    if kind == "integer":
        return max(int(node.get("minimum", 1)), 1)
    if kind == "number":
        return float(node.get("minimum", 0.5))
    if kind == "boolean":
        return True
    text_format = node.get("format")
    if text_format == "email":
        return "someone@orin.test"
    if text_format == "date-time":
        return "2026-01-01T00:00:00Z"
    if text_format in ("uri", "url"):
        return "https://example.com/x"
    return "x" * max(int(node.get("minLength", 1)), 1)


def body_cases(
    schema: dict[str, Any], operation: dict[str, Any], ids: dict[str, str]
) -> Iterator[Any]:
    """Bodies for ``operation``: raw bytes are sent as they are, anything else as JSON."""
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return
    yield b'{"unfinished": '
    yield b"\xff\xfe not utf-8"
    yield from ([], "text", None, 7)
    node = _resolve(schema, content["application/json"]["schema"])
    base = plausible(schema, node, ids)
    if not isinstance(base, dict):
        return
    yield base
    for name, field in node.get("properties", {}).items():
        for wrong in (*WRONG_VALUES, None):
            yield {**base, name: wrong}
        if _resolve(schema, field).get("type") == "string":
            yield {**base, name: NUL}


def fill(path: str, operation: dict[str, Any], ids: dict[str, str], odd: str | None) -> str:
    """``path`` with its parameters: real ids where known (or ``odd`` everywhere)."""
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            name = parameter["name"]
            path = path.replace("{" + name + "}", odd if odd is not None else ids.get(name, "0"))
    return path


def problem(response: httpx.Response, what: str) -> str | None:
    """What is wrong with ``response`` to bad input (None: a problem+json 4xx, or a success)."""
    if response.status_code >= 500:
        return f"{what}: {response.status_code} {response.text[:300]}"
    kind = response.headers.get("content-type", "")
    if response.status_code >= 400 and not kind.startswith("application/problem+json"):
        return f"{what}: {response.status_code} {kind} {response.text[:200]}"
    return None


async def owned_ids(admin: Person) -> dict[str, str]:
    space = await admin.create_space(timezone="UTC", name="Fuzzed")
    camera = await admin.create_camera(space["id"], name="Fuzzed camera")
    guard = await admin.create_guard(space["id"], [camera["id"]], "tell me when a person shows up")
    return {
        "space_id": space["id"],
        "camera_id": camera["id"],
        "guard_id": guard["id"],
        "user_id": admin.user_id,
        "member_id": admin.user_id,
        "provider": "google",
    }


async def test_bad_input_to_every_operation_is_a_clear_4xx(api: Api) -> None:
    admin = await api.sign_up(admin=True)
    ids = await owned_ids(admin)
    schema: dict[str, Any] = (await api.http.get("/openapi.json")).json()
    sent = 0
    wrong: list[str] = []

    def check(response: httpx.Response, what: str) -> None:
        nonlocal sent
        sent += 1
        if (found := problem(response, what)) is not None:
            wrong.append(found)

    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if operation.get("operationId") in SKIPPED:
                continue
            verb = method.upper()
            what = f"{verb} {path}"
            has_path_ids = "{" in path
            for odd in ODD_IDS if has_path_ids else ():
                response = await admin.request(verb, fill(path, operation, ids, odd))
                check(response, f"{what} with id {odd!r}")
            url = fill(path, operation, ids, None)
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query":
                    continue
                for value in ODD_QUERY_VALUES:
                    response = await admin.request(verb, url, params={parameter["name"]: value})
                    check(response, f"{what} with ?{parameter['name']}={value!r}")
            if verb == "DELETE":
                continue  # real ids: the delete itself would work
            for body in body_cases(schema, operation, ids):
                if isinstance(body, bytes):
                    extra: dict[str, Any] = {
                        "content": body,
                        "headers": {"Content-Type": "application/json"},
                    }
                else:
                    extra = {"json": body}
                response = await admin.request(verb, url, **extra)
                check(response, f"{what} with body {str(body)[:120]!r}")
                nul = isinstance(body, dict) and NUL in body.values()  # refused on both backends
                if nul and not response.json().get("type", "").endswith("/nul-character"):
                    wrong.append(f"{what} with a NUL: {response.status_code} {response.text}")
    assert wrong == [], "\n".join(wrong)
    assert sent > 1000  # the schema really was walked
