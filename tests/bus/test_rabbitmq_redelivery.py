"""RabbitMQ-only guarantees: no loss when a consumer dies, fast failure when the broker is down."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import aio_pika
import pytest

from orin.bus import Message
from orin.bus.rabbitmq import RabbitMqBus
from orin.config import AmqpSettings
from orin.errors import AdapterUnavailable
from tests.bus.helpers import eventually, unique
from tests.fixtures.rabbitmq import AMQP_PORT, amqp_url_for
from tests.fixtures.services import TcpProxy, free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


async def test_message_of_a_killed_consumer_is_redelivered(
    bus_settings: AmqpSettings, tmp_path: Path
) -> None:
    assert bus_settings.url is not None
    topic, queue = unique("job"), unique("q")
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.bus.consumer_child",
        bus_settings.url,
        bus_settings.exchange,
        topic,
        queue,
        str(tmp_path),
        cwd=REPO_ROOT,
    )
    publisher = RabbitMqBus(bus_settings)
    survivor = RabbitMqBus(bus_settings)
    received: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

    async def handler(message: Message) -> None:
        received.set_result(message)

    survivor.subscribe(topic, queue, handler)
    try:
        await eventually(
            lambda: (tmp_path / "ready").exists() or child.returncode is not None,
            what="the child consumer",
            timeout_s=30,
        )
        assert child.returncode is None, "the child consumer exited early"
        await publisher.start()
        sent = await publisher.publish_new(topic, {"camera_id": 3})
        await eventually(lambda: (tmp_path / "taken").exists(), what="the child's handler")
        assert (tmp_path / "taken").read_text() == sent.id

        os.kill(child.pid, signal.SIGKILL)
        assert await child.wait() == -signal.SIGKILL

        await survivor.start()
        got = await asyncio.wait_for(received, 10)
        assert got.id == sent.id
        assert got.payload == {"camera_id": 3}
        assert got.attempt == 0  # a redelivery is not a retry
        await eventually(lambda: _depth_is(survivor, queue, 0), what="the message acknowledged")
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
        await survivor.close()
        await publisher.close()


async def _depth_is(bus: RabbitMqBus, queue: str, expected: int) -> bool:
    depths = await bus.queue_depths()
    return depths[queue] == expected and depths[f"{queue}.dlq"] == 0


async def test_publish_fails_promptly_while_the_broker_is_unreachable(
    bus_settings: AmqpSettings, amqp_vhost: str
) -> None:
    proxy = TcpProxy("127.0.0.1", AMQP_PORT)
    await proxy.start()
    settings = bus_settings.model_copy(
        update={"url": amqp_url_for(amqp_vhost, port=proxy.port), "confirm_timeout_s": 1.0}
    )
    bus = RabbitMqBus(settings)
    topic, queue = unique("t"), unique("q")
    handled: set[str] = set()

    async def handler(message: Message) -> None:
        handled.add(message.id)

    bus.subscribe(topic, queue, handler)
    try:
        await bus.start()
        before = await bus.publish_new(topic, {})
        await eventually(lambda: before.id in handled, what="delivery before the cut")

        await proxy.cut()
        started = time.monotonic()
        with pytest.raises(AdapterUnavailable, match="RabbitMQ at"):
            await bus.publish_new(topic, {})
        assert time.monotonic() - started < settings.confirm_timeout_s + 0.5
        with pytest.raises(AdapterUnavailable):
            await bus.ping()

        # The robust connection comes back by itself: publishing and consuming work again.
        await proxy.restore()
        sent: list[Message] = []

        async def publishes() -> bool:
            try:
                sent.append(await bus.publish_new(topic, {}))
            except AdapterUnavailable:
                return False
            return True

        await eventually(publishes, what="publishing after the broker is back", timeout_s=15)
        await eventually(lambda: sent[-1].id in handled, what="consuming after reconnection")
        await bus.ping()
    finally:
        await bus.close()
        await proxy.close()


async def test_start_against_an_unreachable_broker_names_it_without_the_password() -> None:
    port = free_port()
    bus = RabbitMqBus(
        AmqpSettings(url=f"amqp://orin:s3cret-pw@127.0.0.1:{port}/prod", confirm_timeout_s=2.0)
    )
    with pytest.raises(AdapterUnavailable) as caught:
        await bus.start()
    message = str(caught.value)
    assert message.startswith(f"RabbitMQ at amqp://127.0.0.1:{port}/prod unreachable: ")
    assert "s3cret-pw" not in message
    assert "\n" not in message
    with pytest.raises(AdapterUnavailable, match="unreachable"):
        await bus.ping()
    await bus.close()


async def test_unparseable_message_goes_straight_to_the_dlq(bus_settings: AmqpSettings) -> None:
    assert bus_settings.url is not None
    topic, queue = unique("t"), unique("q")
    handled: list[Message] = []

    async def handler(message: Message) -> None:
        handled.append(message)

    bus = RabbitMqBus(bus_settings)
    bus.subscribe(topic, queue, handler)
    await bus.start()
    try:
        connection = await aio_pika.connect(bus_settings.url)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.get_exchange(bus_settings.exchange)
            await exchange.publish(
                aio_pika.Message(b"{not json", message_id="raw-1", type=topic), routing_key=topic
            )

        async def dead() -> bool:
            return len(await bus.dead_letters(queue)) == 1

        await eventually(dead, what="the rejected message in the DLQ")
        (letter,) = await bus.dead_letters(queue)
        assert letter.message.id == "raw-1"
        assert letter.message.payload == {"raw": "{not json"}
        assert letter.error.startswith("unparseable message body")
        assert handled == []
    finally:
        await bus.close()


async def test_a_retry_waits_in_the_delay_queue_of_its_delay(bus_settings: AmqpSettings) -> None:
    assert bus_settings.url is not None
    topic, queue = unique("t"), unique("q")
    bus = RabbitMqBus(
        bus_settings.model_copy(update={"retry_base_delay_s": 30.0, "retry_max_delay_s": 30.0})
    )
    failed = asyncio.Event()

    async def failing(message: Message) -> None:
        failed.set()
        raise RuntimeError("not now")

    bus.subscribe(topic, queue, failing)
    await bus.start()
    try:
        await bus.publish_new(topic, {})
        await asyncio.wait_for(failed.wait(), 10)
        await asyncio.sleep(0.3)
        connection = await aio_pika.connect(bus_settings.url)
        async with connection:
            channel = await connection.channel()
            delayed = await channel.declare_queue(bus.delay_queue_name(queue, 30_000), passive=True)
            assert delayed.declaration_result.message_count == 1
        assert (await bus.queue_depths())[queue] == 0
    finally:
        await bus.close()
