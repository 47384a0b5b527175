"""Shared test setup: each fixture module under tests/fixtures/ owns one kind of resource."""

import gc
import os

import pytest

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.database",
    "tests.fixtures.redis",
    "tests.fixtures.rabbitmq",
    "tests.fixtures.s3",
    "tests.fixtures.backends",
    "tests.fixtures.pgbouncer",
    "tests.fixtures.oidc",
    "tests.fixtures.api",
    "tests.fixtures.cameras",
    "tests.fixtures.worker_process",
]


@pytest.fixture(autouse=True)
def _isolated_orin_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the ORIN_* variables they set themselves."""
    for name in list(os.environ):
        if name.startswith("ORIN_") and not name.startswith("ORIN_TEST_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module", autouse=True)
def _long_lived_heap_frozen() -> None:
    """Each test module starts with what is alive then out of the collector's reach.

    Imports, session fixtures and the test items stay alive for the whole run, yet every
    full collection walked them again: 200-400 ms pauses, about 9 % of a worker's time,
    enough to make a ping or a timer in a timing test late. Frozen objects that become
    garbage are still freed by reference counting.
    """
    gc.collect()
    gc.freeze()
