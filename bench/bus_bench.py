"""Bus benchmark: round-trip latency and throughput of the in-process and RabbitMQ adapters.

    uv run python bench/bus_bench.py [--amqp-url URL] [--latency-messages 500]
                                     [--throughput-messages 5000] [--prefetch 16]

Latency is publish (including its broker confirm) → handler start, one message at a time after
a warm-up. Throughput: ``--throughput-messages`` published concurrently to one subscription;
"publish/s" counts until every publish is confirmed, "handled/s" until the last handler ran.
Without ``--amqp-url`` the benchmark makes its own vhost with ``rabbitmqctl`` and deletes it
afterwards; with one it uses a unique exchange there and deletes what it declared.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aio_pika

from bench_services import quiet_logs, temporary_vhost
from orin.bus import Bus, InProcessBus, Message
from orin.bus.rabbitmq import RabbitMqBus
from orin.config import AmqpSettings

WARMUP_MESSAGES = 50
QUEUE = "bench"
TOPIC = "bench.message"


@dataclass(frozen=True)
class Figures:
    """What one adapter measured."""

    p50_ms: float
    p95_ms: float
    publish_per_s: float
    handled_per_s: float


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


async def measure_latency(bus_factory: Callable[[], Bus], count: int) -> list[float]:
    """Seconds from publish to handler for ``count`` messages sent one at a time."""
    bus = bus_factory()
    waiting: dict[str, tuple[float, asyncio.Future[float]]] = {}

    async def handler(message: Message) -> None:
        entry = waiting.pop(message.id, None)
        if entry is not None:
            started, done = entry
            done.set_result(time.perf_counter() - started)

    bus.subscribe(TOPIC, QUEUE, handler)
    await bus.start()
    loop = asyncio.get_running_loop()
    samples: list[float] = []
    try:
        for n in range(WARMUP_MESSAGES + count):
            message = Message(topic=TOPIC, payload={"n": n})
            done: asyncio.Future[float] = loop.create_future()
            waiting[message.id] = (time.perf_counter(), done)
            await bus.publish(message)
            elapsed = await asyncio.wait_for(done, 30)
            if n >= WARMUP_MESSAGES:
                samples.append(elapsed)
    finally:
        await bus.close()
    return samples


async def measure_throughput(bus_factory: Callable[[], Bus], count: int) -> tuple[float, float]:
    """(publishes/s, handled/s) for ``count`` messages published concurrently."""
    bus = bus_factory()
    handled = 0
    all_handled = asyncio.Event()

    async def handler(message: Message) -> None:
        nonlocal handled
        handled += 1
        if handled == count:
            all_handled.set()

    bus.subscribe(TOPIC, QUEUE, handler)
    await bus.start()
    try:
        messages = [Message(topic=TOPIC, payload={"n": n}) for n in range(count)]
        started = time.perf_counter()
        await asyncio.gather(*(bus.publish(message) for message in messages))
        published = time.perf_counter() - started
        await asyncio.wait_for(all_handled.wait(), 120)
        finished = time.perf_counter() - started
    finally:
        await bus.close()
    return count / published, count / finished


async def run_adapter(
    bus_factory: Callable[[], Bus], latency_messages: int, throughput_messages: int
) -> Figures:
    """Latency then throughput for one adapter."""
    samples = await measure_latency(bus_factory, latency_messages)
    publish_rate, handled_rate = await measure_throughput(bus_factory, throughput_messages)
    return Figures(
        p50_ms=statistics.median(samples) * 1000,
        p95_ms=percentile(samples, 0.95) * 1000,
        publish_per_s=publish_rate,
        handled_per_s=handled_rate,
    )


@contextlib.asynccontextmanager
async def broker(amqp_url: str | None, exchange: str) -> AsyncIterator[str]:
    """The AMQP URL to benchmark against, cleaned up afterwards."""
    if amqp_url is None:
        async with temporary_vhost() as url:
            yield url
        return
    try:
        yield amqp_url
    finally:
        await delete_topology(amqp_url, exchange)


async def delete_topology(amqp_url: str, exchange: str) -> None:
    """Delete the exchanges and queues the benchmark declared on a shared vhost."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        main = f"{exchange}.{QUEUE}"
        for queue in (main, f"{main}.dlq"):
            await channel.queue_delete(queue)
        for name in (exchange, f"{exchange}.dlx"):
            await channel.exchange_delete(name)


def print_table(inprocess: Figures, rabbitmq: Figures, args: argparse.Namespace) -> None:
    """The figures of both adapters side by side, with rabbitmq / inprocess."""
    rows = [
        (f"latency p50 (ms, n={args.latency_messages})", "p50_ms"),
        (f"latency p95 (ms, n={args.latency_messages})", "p95_ms"),
        (f"publish/s (n={args.throughput_messages}, concurrent)", "publish_per_s"),
        (f"handled/s (n={args.throughput_messages}, prefetch={args.prefetch})", "handled_per_s"),
    ]
    header = f"{'metric':<44} {'inprocess':>12} {'rabbitmq':>12} {'rabbitmq/inprocess':>19}"
    print(header)
    print("-" * len(header))
    for label, attribute in rows:
        left = float(getattr(inprocess, attribute))
        right = float(getattr(rabbitmq, attribute))
        ratio = right / left if left else float("inf")
        print(f"{label:<44} {left:>12.3f} {right:>12.3f} {ratio:>18.2f}x")


async def main() -> None:
    parser = argparse.ArgumentParser(description="Bus latency and throughput, both adapters.")
    parser.add_argument("--amqp-url", help="broker to use (default: a new vhost on localhost)")
    parser.add_argument("--latency-messages", type=int, default=500)
    parser.add_argument("--throughput-messages", type=int, default=5000)
    parser.add_argument("--prefetch", type=int, default=16)
    args = parser.parse_args()
    quiet_logs()

    exchange = f"orin-bench-{uuid.uuid4().hex[:8]}"
    inprocess_settings = AmqpSettings(exchange=exchange, prefetch=args.prefetch)
    inprocess = await run_adapter(
        lambda: InProcessBus(inprocess_settings), args.latency_messages, args.throughput_messages
    )
    async with broker(args.amqp_url, exchange) as url:
        settings = inprocess_settings.model_copy(update={"url": url})
        rabbitmq = await run_adapter(
            lambda: RabbitMqBus(settings), args.latency_messages, args.throughput_messages
        )
    print_table(inprocess, rabbitmq, args)


if __name__ == "__main__":
    asyncio.run(main())
