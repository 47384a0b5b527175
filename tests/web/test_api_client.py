"""The committed TypeScript client (web/src/api/schema.d.ts) matches the API's OpenAPI schema.

The schema is dumped from the app factory (no database), turned into TypeScript with the
pinned openapi-typescript in web/node_modules, and compared with the committed file; when an
endpoint or schema changed without `make web-client`, this fails and says so.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from orin.web.openapi import openapi_document
from tests.fixtures.npm import ensure_npm_packages

WEB = Path(__file__).resolve().parents[2] / "web"
COMMITTED = WEB / "src" / "api" / "schema.d.ts"
GENERATOR = WEB / "node_modules" / ".bin" / "openapi-typescript"
GENERATOR_FLAGS = ("--default-non-nullable", "false")
"""The flags `make web-client` passes (keep the two in step)."""


def test_the_committed_client_matches_the_openapi_schema(tmp_path: Path) -> None:
    ensure_npm_packages(WEB, "openapi-typescript", needed_by="the web client check")
    schema = tmp_path / "openapi.json"
    schema.write_text(json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n")
    generated = tmp_path / "schema.d.ts"
    done = subprocess.run(
        [str(GENERATOR), str(schema), *GENERATOR_FLAGS, "-o", str(generated)],
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert generated.read_text() == COMMITTED.read_text(), (
        "web/src/api/schema.d.ts is stale: run `make web-client` and commit the result"
    )


def test_the_schema_dump_needs_no_database_and_names_every_area() -> None:
    document = openapi_document()
    paths = document["paths"]
    for path in (
        "/api/v1/auth/login",
        "/api/v1/spaces",
        "/api/v1/cameras/probe",
        "/api/v1/guards/validate",
        "/api/v1/events",
        "/api/v1/user/me/preferences",
        "/api/v1/notifications/push-key",
    ):
        assert path in paths, path
    operation_ids = [op["operationId"] for item in paths.values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids)), "operation ids must be unique"
