"""`make run` on a fresh copy of the repository sets everything up and serves /readyz: a new
virtual environment from uv's cache, `npm ci` and the Vite build of the web app, migrations,
start. How fast is measured by bench/make_run_bench.py (goal: 60 s on an idle machine); here the
wait is only a guard against a hang, since the suite's other workers share the two cores."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.cli.helpers import REPO_ROOT, START_GUARD_S, stop, wait_ready
from tests.fixtures.services import free_port


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
def test_make_run_on_a_fresh_copy_sets_up_and_starts(tmp_path: Path) -> None:
    checkout = fresh_copy(tmp_path / "orin")
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ORIN_", "VIRTUAL_ENV", "UV_PROJECT"))
    }
    env["ORIN_API_PORT"] = str(port)
    log = tmp_path / "make-run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["make", "run"],
            cwd=checkout,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, 2 * START_GUARD_S, process, log)
        app = httpx.get(f"{url}/", timeout=10)
    finally:
        stop(process)
    assert app.status_code == 200
    assert app.headers["content-type"].startswith("text/html")
    assert "/assets/" in app.text, "the web app built by make run is served"
    assert (checkout / "data" / "orin.db").is_file(), "embedded data goes under ./data"
    assert f"ORIN is running at http://127.0.0.1:{port}" in log.read_text()
