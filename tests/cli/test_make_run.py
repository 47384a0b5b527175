"""`make run` on a fresh copy of the repository serves /readyz within 60 seconds: a new virtual
environment from uv's cache, `npm ci` and the Vite build of the web app, migrations, start."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.helpers import REPO_ROOT, stop, wait_ready
from tests.fixtures.services import free_port

READY_WITHIN_S = 60


def fresh_copy(destination: Path) -> Path:
    """The repository's tracked and unignored files, as a new clone would have them."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


@pytest.mark.slow
def test_make_run_on_a_fresh_copy_is_ready_in_time(tmp_path: Path) -> None:
    checkout = fresh_copy(tmp_path / "orin")
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ORIN_", "VIRTUAL_ENV", "UV_PROJECT"))
    }
    env["ORIN_API_PORT"] = str(port)
    log = tmp_path / "make-run.log"
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["make", "run"],
            cwd=checkout,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_ready(f"http://127.0.0.1:{port}", READY_WITHIN_S, process, log)
        took = time.monotonic() - started
    finally:
        stop(process)
    assert took < READY_WITHIN_S, f"ready after {took:.1f}s"
    assert (checkout / "data" / "orin.db").is_file(), "embedded data goes under ./data"
    assert f"ORIN is running at http://127.0.0.1:{port}" in log.read_text()
