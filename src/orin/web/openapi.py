"""Write ORIN's OpenAPI document as JSON, without a database or any running adapter.

``python -m orin.web.openapi OUT.json`` (``make web-client`` runs it, then
``openapi-typescript`` turns it into ``web/src/api/schema.d.ts``). Only the app factory runs:
the lifespan, which opens the database and the other ports, never starts. ORIN_* variables
are ignored so the document is the same on every machine.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from orin.app import create_app
from orin.config import Settings


def openapi_document() -> dict[str, Any]:
    """The schema `orin api` serves at ``/openapi.json``."""
    for name in [name for name in os.environ if name.startswith("ORIN_")]:
        del os.environ[name]
    with tempfile.TemporaryDirectory(prefix="orin-openapi-") as data_dir:
        app = create_app(Settings(data_dir=Path(data_dir)), configure_logs=False)
        return app.openapi()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m orin.web.openapi OUT.json", file=sys.stderr)  # noqa: T201
        return 2
    target = Path(argv[0])
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(openapi_document(), indent=2, ensure_ascii=False)
    target.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
