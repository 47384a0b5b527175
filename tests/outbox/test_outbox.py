"""The transactional outbox on both adapter sets: nothing for a rollback, nothing lost when the
broker is down, and each message handled exactly once."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from orin.bus import Bus, Message, create_bus
from orin.config import AmqpSettings, OutboxSettings, Settings
from orin.db import Database
from orin.models.outbox_message import OutboxMessage
from orin.outbox import OutboxRelay, enqueue, idempotent
from tests.fixtures.services import TcpProxy

FAST_OUTBOX = OutboxSettings(poll_interval_s=0.1, batch_size=50, retry_delay_s=0.2)


class Boom(Exception):
    """Raised by tests to abort a transaction."""


def amqp_settings(url: str | None) -> AmqpSettings:
    return AmqpSettings(
        url=url, retry_base_delay_s=0.05, retry_max_delay_s=0.2, confirm_timeout_s=2.0
    )


@pytest.fixture(params=["inprocess", "rabbitmq"])
def bus_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def topic() -> str:
    return f"test.outbox.{uuid.uuid4().hex[:10]}"


async def unsent(database: Database) -> int:
    async with database.transaction() as session:
        statement = (
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
        )
        return int(await session.scalar(statement) or 0)


class Received:
    """Collects what an effectively-once handler saw."""

    def __init__(self) -> None:
        self.ids: Counter[str] = Counter()
        self.event = asyncio.Event()
        self.expected = 0

    async def handle(self, session: AsyncSession, message: Message) -> None:
        self.ids[message.id] += 1
        if len(self.ids) >= self.expected:
            self.event.set()


async def consume(bus: Bus, database: Database, topic: str, *, expected: int) -> Received:
    """Subscribe an effectively-once `Received` to ``topic`` and start the bus."""
    received = Received()
    received.expected = expected
    bus.subscribe(topic, topic, idempotent(database, topic, received.handle))
    await bus.start()
    return received


@pytest.fixture
async def bus_for(
    bus_kind: str, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Bus, TcpProxy | None]]:
    """The bus under test; the RabbitMQ one goes through a proxy the test can cut."""
    proxy: TcpProxy | None = None
    url: str | None = None
    if bus_kind == "rabbitmq":
        amqp_url = str(request.getfixturevalue("amqp_url"))
        proxy = TcpProxy("127.0.0.1", 5672)
        await proxy.start()
        url = amqp_url.replace("127.0.0.1:5672", f"127.0.0.1:{proxy.port}")
    bus = create_bus(Settings(amqp=amqp_settings(url)))
    yield bus, proxy
    await bus.close()
    if proxy is not None:
        await proxy.close()


async def enqueue_then_fail(database: Database, topic: str) -> None:
    async with database.transaction() as session:
        enqueue(session, topic, {"camera_id": "c1"})
        await session.flush()
        raise Boom


async def test_rolled_back_transaction_sends_nothing(
    committing_database: Database, bus_for: tuple[Bus, TcpProxy | None], topic: str
) -> None:
    bus, _ = bus_for
    received = await consume(bus, committing_database, topic, expected=0)
    relay = OutboxRelay(committing_database, bus, FAST_OUTBOX)
    with pytest.raises(Boom):
        await enqueue_then_fail(committing_database, topic)
    assert await relay.drain() == 0
    assert await unsent(committing_database) == 0
    await asyncio.sleep(0.3)
    assert not received.ids


async def test_committed_messages_are_relayed_once_and_marked_sent(
    committing_database: Database, bus_for: tuple[Bus, TcpProxy | None], topic: str
) -> None:
    bus, _ = bus_for
    received = await consume(bus, committing_database, topic, expected=5)
    relay = OutboxRelay(committing_database, bus, FAST_OUTBOX)
    async with committing_database.transaction() as session:
        ids = {enqueue(session, topic, {"n": n}) for n in range(5)}
    relay.start()
    try:
        await asyncio.wait_for(received.event.wait(), 15)
    finally:
        await relay.stop()
    assert set(received.ids) == ids
    assert all(count == 1 for count in received.ids.values())
    assert await unsent(committing_database) == 0


async def test_commit_wakes_the_relay_before_its_poll_interval(
    committing_database: Database, bus_for: tuple[Bus, TcpProxy | None], topic: str
) -> None:
    bus, _ = bus_for
    received = await consume(bus, committing_database, topic, expected=1)
    relay = OutboxRelay(committing_database, bus, OutboxSettings(poll_interval_s=30))
    relay.start()
    await asyncio.sleep(0.2)  # the relay is now waiting out its 30 s poll
    try:
        async with committing_database.transaction() as session:
            enqueue(session, topic, {})
        await asyncio.wait_for(received.event.wait(), 10)
    finally:
        await relay.stop()


async def test_redelivered_message_is_handled_once(
    committing_database: Database, topic: str
) -> None:
    received = Received()
    handler = idempotent(committing_database, topic, received.handle)
    message = Message(topic=topic, payload={"x": 1})
    await handler(message)
    await handler(message)
    await asyncio.gather(handler(message), handler(message))
    assert received.ids[message.id] == 1


async def test_handler_failure_rolls_back_its_processed_mark(
    committing_database: Database, topic: str
) -> None:
    calls = 0

    async def flaky(session: AsyncSession, message: Message) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise Boom

    handler = idempotent(committing_database, topic, flaky)
    message = Message(topic=topic)
    with pytest.raises(Boom):
        await handler(message)
    await handler(message)  # the retry runs the handler again
    assert calls == 2


@pytest.mark.parametrize("bus_kind", ["rabbitmq"])
async def test_broker_down_rows_wait_then_all_are_delivered_exactly_once(
    committing_database: Database, bus_for: tuple[Bus, TcpProxy | None], topic: str
) -> None:
    bus, proxy = bus_for
    assert proxy is not None
    received = await consume(bus, committing_database, topic, expected=30)
    relay = OutboxRelay(committing_database, bus, FAST_OUTBOX)

    await proxy.cut()  # the broker is gone for this client
    relay.start()
    try:
        ids: set[str] = set()
        for batch in range(3):
            async with committing_database.transaction() as session:
                ids |= {enqueue(session, topic, {"batch": batch, "n": n}) for n in range(10)}
            await asyncio.sleep(0.3)
        await asyncio.sleep(1.0)
        assert await unsent(committing_database) == 30, "rows must wait while the broker is down"
        assert not received.ids
        assert relay.last_error is not None

        await proxy.restore()
        await asyncio.wait_for(received.event.wait(), 60)
        await asyncio.sleep(1.0)  # room for any duplicate to show up
    finally:
        await relay.stop()
    assert set(received.ids) == ids
    assert all(count == 1 for count in received.ids.values())
    assert await unsent(committing_database) == 0


@pytest.mark.parametrize("database_backend", ["postgresql"])
async def test_two_relays_never_send_a_row_twice(committing_database: Database, topic: str) -> None:
    bus = create_bus(Settings(amqp=amqp_settings(None)))
    delivered: Counter[str] = Counter()

    async def count(message: Message) -> None:
        delivered[message.id] += 1

    bus.subscribe(topic, topic, count)
    await bus.start()
    async with committing_database.transaction() as session:
        for n in range(300):
            enqueue(session, topic, {"n": n})
    settings = OutboxSettings(batch_size=20)
    relays = [OutboxRelay(committing_database, bus, settings) for _ in range(3)]
    try:
        await asyncio.gather(*(relay.drain() for relay in relays))
        for _ in range(100):
            if len(delivered) == 300:
                break
            await asyncio.sleep(0.05)
    finally:
        await bus.close()
    assert len(delivered) == 300
    assert max(delivered.values()) == 1
    assert sum(relay.sent_total for relay in relays) == 300
