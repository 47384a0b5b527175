"""The bus port and its adapters: in-process (embedded) and RabbitMQ (scaled)."""

from __future__ import annotations

from orin.bus.base import Bus, DeadLetter, Handler, Message, retry_delay
from orin.bus.inprocess import InProcessBus
from orin.config import Settings


def create_bus(settings: Settings) -> Bus:
    """The RabbitMQ bus when ``ORIN_AMQP_URL`` is set, else the in-process one."""
    if settings.amqp.url:
        # Imported here so the embedded mode never loads aio-pika.
        from orin.bus.rabbitmq import RabbitMqBus

        return RabbitMqBus(settings.amqp)
    return InProcessBus(settings.amqp)


__all__ = [
    "Bus",
    "DeadLetter",
    "Handler",
    "InProcessBus",
    "Message",
    "create_bus",
    "retry_delay",
]
