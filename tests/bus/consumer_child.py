"""A consumer process for the redelivery test: takes one message, reports it, then hangs.

Run as ``python -m tests.bus.consumer_child URL EXCHANGE TOPIC QUEUE WORKDIR``. It writes
``WORKDIR/ready`` once consuming, and ``WORKDIR/taken`` with the message id when its handler
gets a message; the handler then sleeps so the test can kill the process mid-message.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from orin.bus import Message
from orin.bus.rabbitmq import RabbitMqBus
from orin.config import AmqpSettings


def report(path: Path, text: str) -> None:
    """Write ``path`` atomically, so the test never reads half a file."""
    partial = path.with_suffix(".partial")
    partial.write_text(text)
    partial.replace(path)


async def main(url: str, exchange: str, topic: str, queue: str, workdir: Path) -> None:
    bus = RabbitMqBus(AmqpSettings(url=url, exchange=exchange, prefetch=1))

    async def handler(message: Message) -> None:
        report(workdir / "taken", message.id)
        await asyncio.sleep(3600)

    bus.subscribe(topic, queue, handler)
    await bus.start()
    report(workdir / "ready", "ready")
    await asyncio.Event().wait()


if __name__ == "__main__":
    url, exchange, topic, queue, workdir = sys.argv[1:6]
    asyncio.run(main(url, exchange, topic, queue, Path(workdir)))
