"""The detection port: the in-process pool (batching, errors, shutdown), the wire format,
and RabbitMQ request/reply to replicas (load sharing, late replies, a replica killed -9)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pamqp import decode as pamqp_decode
from pamqp import encode as pamqp_encode
from pydantic import ValidationError

from orin.config import AmqpSettings, Settings, SettingsError, VisionSettings
from orin.guards.rule import ObjectClass
from orin.vision.detectors.base import Detection, Image
from orin.vision.detectors.config import (
    DetectorConfig,
    OnnxYoloConfig,
    OpenImagesSsdConfig,
    SsdCocoConfig,
)
from orin.vision.detectors.registry import build_detector
from orin.vision.transport import (
    DetectionFailed,
    DetectionService,
    DetectionServiceClosed,
    UnknownDetector,
    labels_for,
)
from orin.vision.transport.amqp import AmqpDetectionService, DetectorServer
from orin.vision.transport.broker import DEADLINE_HEADER, deadline_header
from orin.vision.transport.codec import (
    FrameError,
    ReplicaError,
    decode_images,
    decode_reply,
    encode_detections,
    encode_error,
    encode_images,
)
from orin.vision.transport.factory import detection_service
from orin.vision.transport.local import LocalDetectionService
from tests.bus.helpers import eventually
from tests.fixtures.rabbitmq import AMQP_HOST, AMQP_PORT, amqp_url_for
from tests.fixtures.services import TcpProxy
from tests.vision.detector_child import Stats, expected, fake_factory, replica_settings

REPO_ROOT = Path(__file__).resolve().parents[2]


def frame(value: int, height: int = 30, width: int = 40) -> Image:
    """A uniform image whose mean, hence its fake detection, is ``value``."""
    return np.full((height, width, 3), value, np.uint8)


def local(
    stats: Stats, *, delays: list[float] | None = None, fail_on: int | None = None, **vision: Any
) -> LocalDetectionService:
    """A local pool of one detector, "fake", made of `FakeDetector` objects sharing ``stats``."""
    settings = VisionSettings(detectors={"fake": SsdCocoConfig()}, **vision)
    factory = fake_factory(stats, delays=delays or [0.0], fail_on=fail_on)
    return LocalDetectionService(settings, factory)


@asynccontextmanager
async def started(*services: DetectionService | DetectorServer) -> AsyncIterator[None]:
    try:
        for service in services:
            await service.start()
        yield
    finally:
        for service in reversed(services):
            await service.close()


# -- the in-process pool --------------------------------------------------------------------


async def test_concurrent_cameras_get_their_own_results_in_merged_batches() -> None:
    stats = Stats()
    service = local(stats, max_batch=4, batch_window_ms=20, local_workers=2, delays=[0.01])

    async def camera(index: int) -> list[list[Detection]]:
        found = []
        for step in range(5):
            found += await service.detect("fake", [frame(index * 10 + step)])
        return found

    async with started(service):
        results = await asyncio.gather(*(camera(index) for index in range(8)))
    for index, found in enumerate(results):
        assert found == [[expected(frame(index * 10 + step))] for step in range(5)]
    assert sum(stats.batches) == 40
    assert max(stats.batches) <= 4
    assert max(stats.batches) > 1, "concurrent calls were never merged into one batch"
    assert len(stats.load_threads) <= 2  # one model per worker thread, loaded lazily
    assert threading.get_ident() not in stats.load_threads + stats.detect_threads


async def test_a_call_larger_than_max_batch_is_split_and_reassembled() -> None:
    stats = Stats()
    service = local(stats, max_batch=3, batch_window_ms=0)
    images = [frame(value, 20 + value, 30) for value in range(10)]
    async with started(service):
        found = await service.detect("fake", images)
    assert found == [[expected(image)] for image in images]
    assert max(stats.batches) <= 3


async def test_errors_reach_every_caller_of_the_failed_batch_only() -> None:
    stats = Stats()
    service = local(stats, max_batch=8, batch_window_ms=50, fail_on=13)
    async with started(service):
        outcomes = await asyncio.gather(
            *(service.detect("fake", [frame(value)]) for value in (1, 13, 2)),
            return_exceptions=True,
        )
        assert all(isinstance(outcome, RuntimeError) for outcome in outcomes), outcomes
        assert stats.batches == [3]
        assert await service.detect("fake", [frame(4)]) == [[expected(frame(4))]]


async def test_close_fails_pending_calls_and_joins_threads() -> None:
    stats = Stats()
    service = local(stats, max_batch=1, delays=[0.3])
    await service.start()
    calls = [asyncio.create_task(service.detect("fake", [frame(v)])) for v in range(3)]
    await eventually(lambda: bool(stats.batches), what="the first batch to start")
    await service.close()
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(outcome, DetectionServiceClosed) for outcome in outcomes), outcomes
    assert stats.batches == [1]  # the rest never ran
    assert not any(t.name.startswith("detect-fake") for t in threading.enumerate())
    with pytest.raises(DetectionServiceClosed):
        await service.detect("fake", [frame(1)])


async def test_unknown_detector_and_labels() -> None:
    service = local(Stats())
    async with started(service):
        with pytest.raises(UnknownDetector, match=r"'nope'.*configured: fake"):
            await service.detect("nope", [frame(1)])
        assert await service.detect("fake", []) == []
    assert "person" in service.labels("fake")
    with pytest.raises(UnknownDetector):
        service.labels("nope")


def test_labels_are_known_from_the_config_alone() -> None:
    coco = labels_for(SsdCocoConfig())
    assert coco == {c.value for c in ObjectClass} - {"package"}  # what guards can ask for
    assert labels_for(SsdCocoConfig(classes=("person", "traffic light"))) == {
        "person",
        "traffic light",
    }
    with pytest.raises(ValidationError, match="not COCO labels: package, unicorn"):
        SsdCocoConfig(classes=("person", "unicorn", "package"))
    packages = labels_for(OpenImagesSsdConfig())
    assert {"package", "car", "person", "bicycle", "dog", "cat"} <= packages
    assert "box" not in packages
    assert "vehicle" not in packages
    yolo = labels_for(OnnxYoloConfig(path="m.onnx", class_names=["Person", "Box", "forklift"]))
    assert yolo == {"person", "package", "forklift"}


@pytest.mark.parametrize("config", [SsdCocoConfig(), OpenImagesSsdConfig()])
def test_static_labels_match_the_loaded_models(config: DetectorConfig) -> None:
    assert labels_for(config) == build_detector(config).labels


def test_factory_picks_the_adapter_from_settings() -> None:
    assert isinstance(detection_service(Settings()), LocalDetectionService)
    amqp = Settings(
        amqp=AmqpSettings(url="amqp://guest:guest@127.0.0.1:5672/"),
        vision=VisionSettings(transport="amqp"),
    )
    assert isinstance(detection_service(amqp), AmqpDetectionService)
    with pytest.raises(SettingsError, match="ORIN_AMQP_URL"):
        detection_service(Settings(vision=VisionSettings(transport="amqp")))


# -- the wire format ------------------------------------------------------------------------


def test_frames_round_trip_in_the_binary_format() -> None:
    rng = np.random.default_rng(7)
    big = rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)
    images: list[Image] = [
        big,
        rng.integers(0, 256, (17, 45, 3), dtype=np.uint8),
        big[10:60:2, 5:200:3],  # a non-contiguous crop
        np.zeros((0, 5, 3), np.uint8),
        rng.integers(0, 256, (8, 6), dtype=np.uint8),  # grey
    ]
    body = encode_images(images)
    assert len(body) < sum(image.nbytes for image in images) + 200
    decoded = decode_images(body)
    assert [image.shape for image in decoded] == [image.shape for image in images]
    for got, sent in zip(decoded, images, strict=True):
        assert got.dtype == np.uint8
        assert np.array_equal(got, sent)
    decoded[0][0, 0, 0] = 1  # writable, for detectors that work in place
    assert decode_images(encode_images([])) == []


@pytest.mark.parametrize(
    "body",
    [b"", b"XXXX\x02\x00\x00\x00{}", b"ORF1\x05\x00\x00\x00{}", b"ORF1\x02\x00\x00\x00{}"],
)
def test_malformed_frame_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(FrameError):
        decode_images(body)
    good = encode_images([frame(1)])
    with pytest.raises(FrameError, match="size"):
        decode_images(good[:-1])
    with pytest.raises(FrameError, match="uint8"):
        encode_images([np.zeros((2, 2, 3), np.float32)])


def test_detections_and_errors_round_trip() -> None:
    found = [[Detection("car", 0.875, 1.5, 2.25, 100.0, 50.125)], [], [expected(frame(3))]]
    assert decode_reply(encode_detections(found)) == found
    with pytest.raises(ReplicaError, match="model missing"):
        decode_reply(encode_error("model missing"))
    with pytest.raises(FrameError):
        decode_reply(b'{"detections": [[["car", 1]]]}')


def test_the_deadline_survives_amqp_header_encoding_to_the_millisecond() -> None:
    headers = deadline_header(5.0)
    _, decoded = pamqp_decode.field_table(pamqp_encode.field_table(headers))
    assert decoded == headers
    deadline_ms = decoded[DEADLINE_HEADER]
    assert isinstance(deadline_ms, int)
    assert abs(deadline_ms / 1000 - time.time() - 5.0) < 0.1


# -- RabbitMQ request/reply -----------------------------------------------------------------


def unique_detector() -> str:
    return f"fake-{uuid.uuid4().hex[:10]}"


async def test_amqp_round_trip(amqp_url: str) -> None:
    name = unique_detector()
    settings = replica_settings(amqp_url, name, max_batch=4)
    stats = Stats()
    server = DetectorServer(settings, factory=fake_factory(stats))
    client = AmqpDetectionService(settings)
    images = [frame(5, 300, 300), frame(6, 120, 200), frame(7, 31, 17)]
    async with started(server, client):
        assert await client.detect(name, images) == [[expected(image)] for image in images]
        assert await client.detect(name, []) == []
        with pytest.raises(UnknownDetector):
            await client.detect("nope", images)
    assert stats.batches == [3]
    assert client.labels(name) == labels_for(SsdCocoConfig())


async def test_a_replica_error_fails_the_call_without_resending(amqp_url: str) -> None:
    name = unique_detector()
    settings = replica_settings(amqp_url, name, request_attempts=3)
    stats = Stats()
    server = DetectorServer(settings, factory=fake_factory(stats, fail_on=9))
    client = AmqpDetectionService(settings)
    async with started(server, client):
        with pytest.raises(DetectionFailed, match="poisoned image 9"):
            await client.detect(name, [frame(9)])
    assert stats.batches == [1]


async def test_two_replicas_share_the_load(amqp_url: str) -> None:
    name = unique_detector()
    settings = replica_settings(amqp_url, name, max_batch=1)
    first, second = Stats(), Stats()
    servers = [
        DetectorServer(settings, factory=fake_factory(stats, delays=[0.05]))
        for stats in (first, second)
    ]
    client = AmqpDetectionService(settings)
    async with started(*servers, client):
        found = await asyncio.gather(*(client.detect(name, [frame(v)]) for v in range(20)))
    assert found == [[[expected(frame(v))]] for v in range(20)]
    assert len(first.batches) + len(second.batches) == 20
    assert first.batches, "the second replica did all the work"
    assert second.batches, "the first replica did all the work"
    assert sum(server.served for server in servers) == 20


async def test_a_late_reply_is_ignored_and_the_resend_is_answered(amqp_url: str) -> None:
    name = unique_detector()
    settings = replica_settings(amqp_url, name, request_timeout_s=0.4, request_attempts=3)
    stats = Stats()
    server = DetectorServer(settings, factory=fake_factory(stats, delays=[0.6, 0.0]))
    client = AmqpDetectionService(settings)
    async with started(server, client):
        started_at = time.monotonic()
        assert await client.detect(name, [frame(42)]) == [[expected(frame(42))]]
        assert 0.4 <= time.monotonic() - started_at < 1.5
        await eventually(lambda: client.ignored_replies == 1, what="the late reply")
    assert stats.values == [42.0, 42.0]  # the first attempt and its resend both ran


async def test_no_replica_fails_after_every_attempt_and_stale_frames_are_dropped(
    amqp_url: str,
) -> None:
    name = unique_detector()
    settings = replica_settings(amqp_url, name, request_timeout_s=0.2, request_attempts=2)
    client = AmqpDetectionService(settings)
    stats = Stats()
    server = DetectorServer(settings, factory=fake_factory(stats))
    async with started(client):
        started_at = time.monotonic()
        with pytest.raises(DetectionFailed, match="no reply after 2 attempt"):
            await client.detect(name, [frame(1)])
        assert 0.4 <= time.monotonic() - started_at < 1.0
        await asyncio.sleep(0.1)
        async with started(server):  # a replica coming up late finds only stale frames
            assert await client.detect(name, [frame(2)]) == [[expected(frame(2))]]
    assert stats.values == [2.0]


async def test_client_and_replica_survive_a_broker_outage(amqp_vhost: str) -> None:
    proxy = TcpProxy(AMQP_HOST, AMQP_PORT)
    await proxy.start()
    name = unique_detector()
    settings = replica_settings(
        amqp_url_for(amqp_vhost, port=proxy.port), name, request_timeout_s=4.0
    )
    stats = Stats()
    server = DetectorServer(settings, factory=fake_factory(stats))
    client = AmqpDetectionService(settings)
    try:
        async with started(server, client):
            assert await client.detect(name, [frame(1)]) == [[expected(frame(1))]]
            await proxy.cut()  # both lose the broker, as in a restart
            cut_at = time.monotonic()
            during = asyncio.create_task(client.detect(name, [frame(2)]))
            await asyncio.sleep(0.5)
            await proxy.restore()
            assert await during == [[expected(frame(2))]]
            assert time.monotonic() - cut_at < 3.0, "resent on reconnection, not on timeout"
            assert await client.detect(name, [frame(3)]) == [[expected(frame(3))]]
    finally:
        await proxy.close()
    assert set(stats.values) == {1.0, 2.0, 3.0}  # the lost request may have run twice


async def test_a_replica_killed_mid_inference_loses_and_duplicates_nothing(
    amqp_url: str, tmp_path: Path
) -> None:
    name = unique_detector()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.vision.detector_child",
        amqp_url,
        name,
        str(tmp_path),
        "0.5",
        cwd=REPO_ROOT,
    )
    settings = replica_settings(
        amqp_url, name, max_batch=2, request_timeout_s=2.0, request_attempts=3
    )
    stats = Stats()
    survivor = DetectorServer(settings, factory=fake_factory(stats, delays=[0.05]))
    client = AmqpDetectionService(settings)
    answered: list[int] = []

    async def camera(index: int) -> list[list[Detection]]:
        found = []
        for step in range(4):
            found += await client.detect(name, [frame(index * 10 + step)])
            answered.append(index * 10 + step)
        return found

    async def kill_mid_inference() -> int:
        await eventually(lambda: (tmp_path / "batches").exists(), what="the child's first batch")
        os.kill(child.pid, signal.SIGKILL)
        return len(answered)

    try:
        await eventually(
            lambda: (tmp_path / "ready").exists() or child.returncode is not None,
            what="the child replica",
            timeout_s=30,
        )
        assert child.returncode is None, "the child replica exited early"
        async with started(survivor, client):
            killer = asyncio.create_task(kill_mid_inference())
            results = await asyncio.gather(*(camera(index) for index in range(6)))
            answered_before_kill = await killer
        assert await child.wait() == -signal.SIGKILL
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    for index, found in enumerate(results):
        assert found == [[expected(frame(index * 10 + step))] for step in range(4)]
    assert sorted(answered) == sorted(index * 10 + step for index in range(6) for step in range(4))
    assert answered_before_kill < 24, "the kill came after the flow"
    taken_by_child = (tmp_path / "batches").read_text().split()
    assert taken_by_child, "the child never ran a batch"
    # What the killed replica had in hand was run again by the survivor.
    assert {float(value) for value in taken_by_child} <= set(stats.values)
