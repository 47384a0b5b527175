"""Shared test setup: each fixture module under tests/fixtures/ owns one kind of resource."""

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.database",
    "tests.fixtures.redis",
    "tests.fixtures.rabbitmq",
    "tests.fixtures.s3",
    "tests.fixtures.backends",
]

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _isolated_orin_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests see only the ORIN_* variables they set themselves."""
    for name in list(os.environ):
        if name.startswith("ORIN_") and not name.startswith("ORIN_TEST_"):
            monkeypatch.delenv(name)
    yield
