"""Shared test setup: each fixture module under tests/fixtures/ owns one kind of resource."""

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
]


@pytest.fixture(autouse=True)
def _isolated_orin_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the ORIN_* variables they set themselves."""
    for name in list(os.environ):
        if name.startswith("ORIN_") and not name.startswith("ORIN_TEST_"):
            monkeypatch.delenv(name)
