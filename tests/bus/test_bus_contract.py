"""The bus contract, proved against both adapters (in-process and RabbitMQ)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from itertools import pairwise

import pytest

from orin.bus import Bus, InProcessBus, Message, retry_delay
from orin.bus.inprocess import topic_matches
from orin.config import AmqpSettings
from orin.errors import AdapterUnavailable
from tests.bus.helpers import BusFactory, eventually, unique


async def test_published_message_reaches_handler_with_payload_and_id(bus: Bus) -> None:
    topic, queue = unique("camera.added"), unique("q")
    received: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

    async def handler(message: Message) -> None:
        received.set_result(message)

    bus.subscribe(topic, queue, handler)
    await bus.start()
    sent = await bus.publish_new(topic, {"camera_id": 7, "name": "porch"})

    got = await asyncio.wait_for(received, 10)
    assert got.id == sent.id
    assert got.topic == topic
    assert got.payload == {"camera_id": 7, "name": "porch"}
    assert got.attempt == 0


async def test_subscriptions_on_one_queue_share_messages(bus: Bus) -> None:
    topic, queue = unique("job"), unique("q")
    handled: dict[str, list[str]] = {"first": [], "second": []}

    def recorder(name: str) -> Callable[[Message], Awaitable[None]]:
        async def handler(message: Message) -> None:
            await asyncio.sleep(0.01)
            handled[name].append(message.id)

        return handler

    bus.subscribe(topic, queue, recorder("first"))
    bus.subscribe(topic, queue, recorder("second"))
    await bus.start()
    sent = [await bus.publish_new(topic, {"n": n}) for n in range(40)]

    await eventually(
        lambda: len(handled["first"]) + len(handled["second"]) >= 40, what="40 handled"
    )
    await asyncio.sleep(0.3)  # room for a duplicate to show up
    counts = Counter(handled["first"] + handled["second"])
    assert set(counts) == {message.id for message in sent}
    assert set(counts.values()) == {1}
    assert handled["first"]
    assert handled["second"]


async def test_every_queue_gets_every_message(bus: Bus) -> None:
    topic, audit, notify = unique("catch.created"), unique("audit"), unique("notify")
    handled: dict[str, list[str]] = {audit: [], notify: []}

    def recorder(queue: str) -> Callable[[Message], Awaitable[None]]:
        async def handler(message: Message) -> None:
            handled[queue].append(message.id)

        return handler

    bus.subscribe(topic, audit, recorder(audit))
    bus.subscribe(topic, notify, recorder(notify))
    await bus.start()
    sent = [(await bus.publish_new(topic, {"n": n})).id for n in range(10)]

    await eventually(
        lambda: len(handled[audit]) >= 10 and len(handled[notify]) >= 10, what="both queues"
    )
    await asyncio.sleep(0.2)
    assert sorted(handled[audit]) == sorted(sent)
    assert sorted(handled[notify]) == sorted(sent)


async def test_topic_patterns_route_like_amqp(bus: Bus) -> None:
    prefix, queue = unique("camera"), unique("q")
    topics: list[str] = []

    async def handler(message: Message) -> None:
        topics.append(message.topic)

    bus.subscribe(f"{prefix}.*", queue, handler)
    await bus.start()
    for topic in (f"{prefix}.offline", f"{prefix}.zone.entered", f"other.{prefix}", prefix):
        await bus.publish_new(topic, {})
    await bus.publish_new(f"{prefix}.online", {})

    await eventually(lambda: f"{prefix}.online" in topics, what="the last matching message")
    await asyncio.sleep(0.2)
    assert sorted(topics) == [f"{prefix}.offline", f"{prefix}.online"]


def test_topic_matching_rules() -> None:
    assert topic_matches("a.*.c", "a.b.c")
    assert not topic_matches("a.*.c", "a.b.x.c")
    assert topic_matches("a.#", "a")
    assert topic_matches("a.#", "a.b.c")
    assert topic_matches("#.c", "a.b.c")
    assert not topic_matches("a.b", "a.b.c")


async def test_failing_handler_is_retried_with_growing_delays(
    bus: Bus, bus_settings: AmqpSettings
) -> None:
    topic, queue = unique("flaky"), unique("q")
    failures = bus_settings.max_retries - 1
    attempts: list[tuple[int, float]] = []
    done = asyncio.Event()

    async def handler(message: Message) -> None:
        attempts.append((message.attempt, time.monotonic()))
        if len(attempts) <= failures:
            raise RuntimeError(f"transient failure {len(attempts)}")
        done.set()

    bus.subscribe(topic, queue, handler)
    await bus.start()
    await bus.publish_new(topic, {"k": "v"})
    await asyncio.wait_for(done.wait(), 15)
    await asyncio.sleep(0.5)  # a success must not be retried

    assert [attempt for attempt, _ in attempts] == list(range(failures + 1))
    gaps = [later - earlier for (_, earlier), (_, later) in pairwise(attempts)]
    expected = [
        retry_delay(n, bus_settings.retry_base_delay_s, bus_settings.retry_max_delay_s)
        for n in range(1, failures + 1)
    ]
    for gap, delay in zip(gaps, expected, strict=True):
        assert delay <= gap < delay + 1.5, (gaps, expected)
    assert all(later > earlier for earlier, later in pairwise(gaps)), gaps
    assert await bus.dead_letters(queue) == []


async def test_always_failing_message_ends_in_dead_letters(
    bus: Bus, bus_settings: AmqpSettings
) -> None:
    topic, queue = unique("doomed"), unique("q")
    attempts: list[tuple[int, float]] = []

    async def handler(message: Message) -> None:
        attempts.append((message.attempt, time.monotonic()))
        raise ValueError(f"camera {message.payload['camera_id']} is gone")

    bus.subscribe(topic, queue, handler)
    await bus.start()
    sent = await bus.publish_new(topic, {"camera_id": 42})

    async def dead() -> bool:
        return len(await bus.dead_letters(queue)) == 1

    await eventually(dead, what="the dead letter", timeout_s=15)
    await asyncio.sleep(0.5)  # no attempt after the last one

    assert [attempt for attempt, _ in attempts] == list(range(bus_settings.max_retries + 1))
    gaps = [later - earlier for (_, earlier), (_, later) in pairwise(attempts)]
    assert all(later > earlier for earlier, later in pairwise(gaps)), gaps
    # Reading dead letters leaves them in place.
    for _ in range(2):
        (letter,) = await bus.dead_letters(queue)
        assert letter.message.id == sent.id
        assert letter.message.payload == {"camera_id": 42}
        assert letter.queue == queue
        assert letter.error == "ValueError: camera 42 is gone"
    depths = await bus.queue_depths()
    assert depths[f"{queue}.dlq"] == 1
    assert depths[queue] == 0


async def test_dead_letters_of_an_unknown_queue_are_empty(bus: Bus) -> None:
    bus.subscribe(unique("t"), unique("q"), _noop)
    await bus.start()
    assert await bus.dead_letters(unique("never-declared")) == []
    await bus.ping()  # the failed lookup left the bus usable


async def test_queue_depths_count_ready_messages(bus: Bus, bus_settings: AmqpSettings) -> None:
    topic, queue = unique("slow"), unique("q")
    release = asyncio.Event()
    started: list[str] = []

    async def handler(message: Message) -> None:
        started.append(message.id)
        await release.wait()

    bus.subscribe(topic, queue, handler)
    await bus.start()
    extra = 5
    for n in range(bus_settings.prefetch + extra):
        await bus.publish_new(topic, {"n": n})

    async def backlog_is(expected: int) -> bool:
        return (await bus.queue_depths()).get(queue) == expected

    await eventually(lambda: backlog_is(extra), what=f"{extra} ready messages")
    assert len(started) == bus_settings.prefetch  # the rest waits for a free slot
    assert (await bus.queue_depths())[f"{queue}.dlq"] == 0

    release.set()
    await eventually(lambda: len(started) == bus_settings.prefetch + extra, what="all handled")
    await eventually(lambda: backlog_is(0), what="an empty queue")


async def test_queue_depths_of_named_queues_nobody_declared_are_zero(bus: Bus) -> None:
    consumed, never = unique("q"), unique("never-declared")
    bus.subscribe(unique("t"), consumed, _noop)
    await bus.start()
    depths = await bus.queue_depths([never, consumed])
    assert depths == {consumed: 0, f"{consumed}.dlq": 0, never: 0, f"{never}.dlq": 0}
    await bus.ping()  # the misses left the bus usable
    assert await bus.queue_depths() == {consumed: 0, f"{consumed}.dlq": 0}


async def test_a_bus_that_consumes_nothing_sees_the_backlog_of_named_queues(
    make_bus: BusFactory, bus_backend: str
) -> None:
    """An API-only process (no worker role) still reports the workers' queues."""
    if bus_backend != "rabbitmq":
        pytest.skip("in-process queues live in the one process that consumes them")
    topic, queue = unique("job"), unique("q")
    worker = make_bus()
    worker.subscribe(topic, queue, _noop)
    await worker.start()
    await worker.close()  # the durable queue stays, with nobody consuming it
    api = make_bus()
    await api.start()
    for n in range(3):
        await api.publish_new(topic, {"n": n})

    async def backlog() -> bool:
        return (await api.queue_depths([queue])).get(queue) == 3

    await eventually(backlog, what="3 messages waiting for a worker")
    assert (await api.queue_depths([queue]))[f"{queue}.dlq"] == 0


async def test_close_waits_for_the_handler_in_flight(make_bus: BusFactory) -> None:
    topic, queue = unique("job"), unique("q")
    bus = make_bus()
    started = asyncio.Event()
    finished: list[str] = []

    async def slow(message: Message) -> None:
        started.set()
        await asyncio.sleep(0.5)
        finished.append(message.id)

    bus.subscribe(topic, queue, slow)
    await bus.start()
    sent = await bus.publish_new(topic, {})
    await asyncio.wait_for(started.wait(), 10)
    await bus.close()
    assert finished == [sent.id]

    # The message was acknowledged: a new consumer of the queue does not get it again.
    again: list[str] = []

    async def record(message: Message) -> None:
        again.append(message.id)

    other = make_bus()
    other.subscribe(topic, queue, record)
    await other.start()
    await asyncio.sleep(0.5)
    assert again == []
    assert (await other.queue_depths())[queue] == 0


async def test_close_does_not_wait_for_delayed_retries(make_bus: BusFactory) -> None:
    topic, queue = unique("job"), unique("q")
    bus = make_bus(retry_base_delay_s=60.0, retry_max_delay_s=60.0)
    failed = asyncio.Event()

    async def failing(message: Message) -> None:
        failed.set()
        raise RuntimeError("later")

    bus.subscribe(topic, queue, failing)
    await bus.start()
    await bus.publish_new(topic, {})
    await asyncio.wait_for(failed.wait(), 10)
    await asyncio.sleep(0.2)  # the retry is scheduled

    started = time.monotonic()
    await bus.close()
    assert time.monotonic() - started < 2.0


async def test_ping_answers_when_the_bus_is_up(bus: Bus) -> None:
    await bus.ping()
    bus.subscribe(unique("t"), unique("q"), _noop)
    await bus.start()
    await bus.ping()


async def test_subscribe_after_start_is_refused(bus: Bus) -> None:
    await bus.start()
    with pytest.raises(RuntimeError, match="before start"):
        bus.subscribe(unique("t"), unique("q"), _noop)


async def test_inprocess_buffers_messages_published_before_start(
    bus_settings: AmqpSettings,
) -> None:
    bus = InProcessBus(bus_settings)
    topic, queue = unique("early"), unique("q")
    received: list[Message] = []

    async def handler(message: Message) -> None:
        received.append(message)

    bus.subscribe(topic, queue, handler)
    sent = await bus.publish_new(topic, {"n": 1})
    assert (await bus.queue_depths())[queue] == 1
    await bus.start()
    try:
        await eventually(lambda: len(received) == 1, what="the buffered message")
        assert received[0].id == sent.id
    finally:
        await bus.close()
    with pytest.raises(AdapterUnavailable):
        await bus.publish_new(topic, {})


async def _noop(message: Message) -> None:
    return None
