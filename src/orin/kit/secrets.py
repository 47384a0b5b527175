"""The process-wide secret key: from settings, or generated once and kept under the data dir."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from orin.config import Settings

SECRET_FILE = "secret.key"


def resolve_secret_key(settings: Settings) -> bytes:
    """``ORIN_SECRET_KEY`` when set; else a random key persisted in ``<data_dir>/secret.key``.

    A scaled deployment must set the key: replicas with different keys would reject each
    other's signed URLs.
    """
    configured = settings.secret_key.get_secret_value()
    if configured:
        return configured.encode()
    path = Path(settings.data_dir) / SECRET_FILE
    if path.is_file():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48).encode()
    # O_EXCL: when two processes race at first start, one writes and both read its key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as file:
        file.write(key)
    return key
