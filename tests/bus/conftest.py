"""The ``bus`` fixtures: every contract test runs once per adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from orin.bus import Bus, InProcessBus
from orin.bus.rabbitmq import RabbitMqBus
from orin.config import AmqpSettings
from tests.bus.helpers import BusFactory

BUS_BACKENDS = ("inprocess", "rabbitmq")


@pytest.fixture(params=BUS_BACKENDS)
def bus_backend(request: pytest.FixtureRequest) -> str:
    """Runs the test once per bus adapter."""
    return str(request.param)


@pytest.fixture
async def make_bus(bus_backend: str, bus_settings: AmqpSettings) -> AsyncIterator[BusFactory]:
    """Factory of unstarted buses of the backend under test, all closed after the test."""
    buses: list[Bus] = []

    def make(**overrides: Any) -> Bus:
        settings = bus_settings.model_copy(update=overrides) if overrides else bus_settings
        bus: Bus = RabbitMqBus(settings) if bus_backend == "rabbitmq" else InProcessBus(settings)
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        await bus.close()


@pytest.fixture
def bus(make_bus: BusFactory) -> Bus:
    """An unstarted bus of the backend under test: subscribe, then ``await bus.start()``."""
    return make_bus()
