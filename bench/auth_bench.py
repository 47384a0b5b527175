"""Accounts benchmark: login latency (bcrypt cost 12), access-token verification, refresh rate.

Runs the real app in-process (httpx over ASGI, no network) on SQLite, and on PostgreSQL unless
``--sqlite-only``. Baselines measured in the same run: one bare bcrypt check at the same cost
(login = bcrypt + everything else) and a bare PyJWT RS256 decode (verification = decode +
kid lookup + claim checks).

    uv run python bench/auth_bench.py [--logins 30] [--verifications 3000] [--refreshes 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import bcrypt
import httpx
import jwt
from asgi_lifespan import LifespanManager

from bench_services import quiet_logs
from orin.app import create_app
from orin.auth.keys import KeyRing
from orin.auth.tokens import verify_access_token
from orin.config import AuthSettings, DatabaseSettings, RateLimitSettings, Settings
from orin.db import Database
from orin.migrate import upgrade

PASSWORD = "bench-Horse-battery-9-staple"
PG = ("127.0.0.1", 5432, "postgres")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@asynccontextmanager
async def database_url(kind: str, folder: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        return
    name = f"orin_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(host=PG[0], port=PG[1], user=PG[2], database="postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+asyncpg://{PG[2]}@{PG[0]}:{PG[1]}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def run(kind: str, args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        async with database_url(kind, Path(folder)) as url:
            settings = Settings(
                data_dir=Path(folder),
                database=DatabaseSettings(url=url),
                auth=AuthSettings(breached_check=False),  # bcrypt cost stays 12
                ratelimit=RateLimitSettings(enabled=False),
            )
            await asyncio.to_thread(upgrade, url)
            app = create_app(settings, configure_logs=False)
            async with LifespanManager(app) as manager:
                transport = httpx.ASGITransport(app=manager.app)
                async with httpx.AsyncClient(transport=transport, base_url="https://b") as http:
                    return await measure(http, settings, args)


async def measure(
    http: httpx.AsyncClient, settings: Settings, args: argparse.Namespace
) -> dict[str, float]:
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    created = await http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
    created.raise_for_status()

    latencies = []
    for _ in range(args.logins):
        started = time.perf_counter()
        response = await http.post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
        )
        latencies.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    token = response.json()["access_token"]
    refresh_token = response.json()["refresh_token"]

    database = Database(settings)
    keyring = KeyRing(database, settings.auth)
    await keyring.start()
    started = time.perf_counter()
    for _ in range(args.verifications):
        await verify_access_token(keyring, settings.auth, token)
    verify_per_s = args.verifications / (time.perf_counter() - started)
    public_key = keyring.signer.private_key.public_key()
    started = time.perf_counter()
    for _ in range(args.verifications):
        jwt.decode(token, public_key, algorithms=["RS256"], audience=settings.auth.audience)
    bare_per_s = args.verifications / (time.perf_counter() - started)
    await database.dispose()

    started = time.perf_counter()
    for _ in range(args.refreshes):
        response = await http.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})
        response.raise_for_status()
        refresh_token = response.json()["refresh_token"]
    refresh_per_s = args.refreshes / (time.perf_counter() - started)

    me_started = time.perf_counter()
    for _ in range(args.refreshes):
        (await http.get("/api/v1/user/me", headers={"Authorization": f"Bearer {token}"}))
    me_per_s = args.refreshes / (time.perf_counter() - me_started)
    return {
        "login_p50_ms": statistics.median(latencies),
        "login_p99_ms": percentile(latencies, 0.99),
        "verify_per_s": verify_per_s,
        "bare_decode_per_s": bare_per_s,
        "refresh_per_s": refresh_per_s,
        "authed_get_per_s": me_per_s,
    }


def bare_bcrypt_ms(rounds: int, count: int) -> float:
    hashed = bcrypt.hashpw(b"x" * 44, bcrypt.gensalt(rounds))
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        bcrypt.checkpw(b"x" * 44, hashed)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


async def main() -> None:
    parser = argparse.ArgumentParser(description="Login, token verification and refresh figures.")
    parser.add_argument("--logins", type=int, default=30)
    parser.add_argument("--verifications", type=int, default=3000)
    parser.add_argument("--refreshes", type=int, default=300)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    quiet_logs()
    bcrypt_ms = bare_bcrypt_ms(12, 10)
    kinds = ["sqlite"] if args.sqlite_only else ["sqlite", "postgresql"]
    results = {kind: await run(kind, args) for kind in kinds}

    print(f"baseline: one bare bcrypt check at cost 12 = {bcrypt_ms:.1f} ms")
    header = f"{'metric':<38}" + "".join(f"{kind:>14}" for kind in kinds)
    print(header)
    print("-" * len(header))
    rows = [
        (f"login p50 (ms, n={args.logins})", "login_p50_ms", "{:.1f}"),
        (f"login p99 (ms, n={args.logins})", "login_p99_ms", "{:.1f}"),
        ("access-token verifications/s", "verify_per_s", "{:.0f}"),
        ("  bare RS256 decode/s (baseline)", "bare_decode_per_s", "{:.0f}"),
        (f"refreshes/s (sequential, n={args.refreshes})", "refresh_per_s", "{:.0f}"),
        ("authenticated GET /user/me per s", "authed_get_per_s", "{:.0f}"),
    ]
    for label, key, fmt in rows:
        print(f"{label:<38}" + "".join(f"{fmt.format(results[k][key]):>14}" for k in kinds))
    for kind in kinds:
        share = bcrypt_ms / results[kind]["login_p50_ms"]
        print(f"{kind}: bcrypt is {share:.0%} of the login p50")


if __name__ == "__main__":
    asyncio.run(main())
