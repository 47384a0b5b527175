"""The adapters of one process, built from settings, started and stopped together."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from functools import cached_property

import structlog

from orin.bus import Bus, create_bus
from orin.cache import CachePorts, create_cache_ports
from orin.config import Settings, SettingsError
from orin.db import Database
from orin.errors import AdapterUnavailable
from orin.kit.crypto import Sealer
from orin.kit.envelope import Envelope, KeyConfigError, KeyEncryptionKeys
from orin.kit.secrets import resolve_secret_key
from orin.migrate import current_revision, head_revision
from orin.storage import ObjectStorage, create_storage

logger = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Outcome of one readiness check."""

    ok: bool
    adapter: str
    latency_ms: float
    error: str | None = None


class SchemaOutdated(AdapterUnavailable):
    type_slug = "schema-outdated"
    title = "Database schema outdated"


@dataclass
class Infrastructure:
    """Database, cache/rate-limit/pub-sub, bus and object storage of this process."""

    settings: Settings
    secret: bytes
    database: Database
    cache: CachePorts
    bus: Bus
    storage: ObjectStorage
    expected_revision: str | None = field(default=None)

    @cached_property
    def sealer(self) -> Sealer:
        """Seals secrets at rest with a key derived from this deployment's secret key."""
        return Sealer(self.secret)

    @cached_property
    def envelope(self) -> Envelope:
        """Seals secrets at rest under rotatable key-encryption keys (camera credentials)."""
        return Envelope(KeyEncryptionKeys.from_settings(self.settings.crypto, self.secret))

    @classmethod
    def from_settings(cls, settings: Settings) -> Infrastructure:
        """Adapters for ``settings``; raises `SettingsError` when the crypto keys are unusable."""
        secret = resolve_secret_key(settings)
        try:
            KeyEncryptionKeys.from_settings(settings.crypto, secret)
        except KeyConfigError as exc:
            raise SettingsError(f"ORIN_CRYPTO_KEYS: {exc}") from None
        return cls(
            settings=settings,
            secret=secret,
            database=Database(settings),
            cache=create_cache_ports(settings),
            bus=create_bus(settings),
            storage=create_storage(settings, secret=secret),
            expected_revision=head_revision(),
        )

    def adapter_names(self) -> dict[str, str]:
        """Which adapter each port uses, e.g. ``{"database": "sqlite", "bus": "rabbitmq"}``."""
        return {
            "database": self.database.engine.dialect.name,
            "cache": "redis" if self.settings.redis.url else "memory",
            "bus": "rabbitmq" if self.settings.amqp.url else "inprocess",
            "storage": "s3" if self.settings.s3.endpoint else "local",
        }

    async def start(self) -> None:
        """Check the database and its schema, then start storage and bus.

        Raises `AdapterUnavailable` naming the first service that cannot be reached.
        """
        await self.database.ping()
        await self.check_schema()
        await self.cache.ping()
        await self.storage.start()
        await self.bus.start()
        logger.info("infrastructure.started", **self.adapter_names())

    async def __aenter__(self) -> Infrastructure:
        """Start (closing what did start when a service cannot be reached)."""
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def check_schema(self) -> None:
        """Raise `SchemaOutdated` unless the database is at the code's newest migration."""
        current = await current_revision(self.database.engine)
        if current != self.expected_revision:
            raise SchemaOutdated(
                f"database schema is at {current or 'nothing (never migrated)'}, this version "
                f"needs {self.expected_revision}: run `orin migrate`"
            )

    async def close(self) -> None:
        """Stop everything, in reverse order of start; never raises."""
        for name, closer in (
            ("bus", self.bus.close),
            ("storage", self.storage.close),
            ("cache", self.cache.close),
            ("database", self.database.dispose),
        ):
            try:
                await closer()
            except Exception as exc:
                logger.warning("infrastructure.close_failed", port=name, error=str(exc))

    async def readiness(self, timeout_s: float = 3.0) -> dict[str, CheckResult]:
        """Check every port concurrently; each result says whether it answered."""
        names = self.adapter_names()
        checks = {
            "database": self._check_database,
            "cache": self.cache.ping,
            "bus": self.bus.ping,
            "storage": self.storage.ping,
        }

        async def run(port: str) -> CheckResult:
            started = time.perf_counter()
            try:
                async with asyncio.timeout(timeout_s):
                    await checks[port]()
                error = None
            except TimeoutError:
                error = f"no answer within {timeout_s:g}s"
            except Exception as exc:
                error = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            latency = round((time.perf_counter() - started) * 1000, 2)
            return CheckResult(
                ok=error is None, adapter=names[port], latency_ms=latency, error=error
            )

        results = await asyncio.gather(*(run(port) for port in checks))
        return dict(zip(checks, results, strict=True))

    async def _check_database(self) -> None:
        await self.database.ping()
        await self.check_schema()
