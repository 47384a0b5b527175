"""Shared test setup: each fixture module under tests/fixtures/ owns one kind of resource."""

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.database",
    "tests.fixtures.redis",
    "tests.fixtures.rabbitmq",
    "tests.fixtures.s3",
]
