"""`make run` on a fresh clone: seconds until ORIN answers /readyz.

Each round clones this repository's HEAD into a new folder (no `.venv`, no `web/node_modules`,
no `web/dist`, no `data/`) and runs `make run` there, as a newcomer would: system packages are
checked, a virtual environment is made from uv's cache, the detector models are unpacked, the
web app is installed with `npm ci` and built, the SQLite database is migrated and ORIN starts.
The clock stops when `GET /readyz` answers 200.

Baseline in the same run: `make run` again in the same clone once it is set up (every step is
up to date, so this is the start of ORIN alone). The difference is what setting up costs.
Goal: a fresh clone is ready within 60 s on this machine.

    uv run python bench/make_run_bench.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench_services import free_port, wait_ready

REPO = Path(__file__).resolve().parents[1]
GOAL_S = 60.0


def clone(into: Path) -> Path:
    """A clone of the repository's HEAD, as `git clone` gives a newcomer."""
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(into)], check=True)
    return into


def start_make_run(checkout: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """`make run` in ``checkout`` on ``port``, without this shell's ORIN or venv settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ORIN_", "VIRTUAL_ENV", "UV_PROJECT"))
    }
    env["ORIN_API_PORT"] = str(port)
    with log.open("wb") as out:
        return subprocess.Popen(
            ["make", "run"],
            cwd=checkout,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


async def ready_after(checkout: Path, log: Path) -> float:
    """Seconds from `make run` in ``checkout`` to /readyz answering; ORIN is stopped after."""
    port = free_port()
    started = time.monotonic()
    process = start_make_run(checkout, port, log)
    try:
        await wait_ready(f"http://127.0.0.1:{port}", process, log, timeout_s=600)
        return time.monotonic() - started
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        await asyncio.to_thread(process.wait, 30)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=2, help="fresh clones to time")
    args = parser.parse_args()
    fresh: list[float] = []
    warm: list[float] = []
    with tempfile.TemporaryDirectory(prefix="orin-make-run-") as tmp:
        for round_ in range(args.rounds):
            checkout = clone(Path(tmp) / f"orin-{round_}")
            fresh.append(await ready_after(checkout, Path(tmp) / f"fresh-{round_}.log"))
            warm.append(await ready_after(checkout, Path(tmp) / f"warm-{round_}.log"))
            print(f"round {round_ + 1}: fresh clone {fresh[-1]:.1f} s, set up {warm[-1]:.1f} s")
    fresh_median = statistics.median(fresh)
    warm_median = statistics.median(warm)
    print()
    print("| `make run` until /readyz | median s | min s | max s |")
    print("|---|---|---|---|")
    for name, figures in (("fresh clone", fresh), ("set up (baseline)", warm)):
        median = statistics.median(figures)
        print(f"| {name} | {median:.1f} | {min(figures):.1f} | {max(figures):.1f} |")
    print()
    print(f"setting up costs {fresh_median - warm_median:.1f} s over the start alone")
    print(f"(baseline: a set-up checkout is ready {warm_median:.1f} s after `make run`)")
    verdict = "met" if fresh_median <= GOAL_S else "NOT met"
    print(f"goal: fresh clone ready within {GOAL_S:.0f} s: {verdict}")


if __name__ == "__main__":
    asyncio.run(main())
