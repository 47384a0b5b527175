"""The MQTT publisher against the real Mosquitto on 127.0.0.1:1883.

Every test uses its own topic and discovery prefixes (so tests run in parallel against one
broker) and clears the retained messages it left behind (the broker persists them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiomqtt
import pytest

from orin.config import NotifySettings
from orin.notifications.channels.mqtt import BrokerAddress, MqttPublisher, topic_id
from orin.notifications.notice import CatchSummary, TransientDeliveryError
from tests.fixtures.services import TcpProxy
from tests.notifications import helpers

BROKER_HOST = "127.0.0.1"
BROKER_PORT = 1883
BROKER_URL = f"mqtt://{BROKER_HOST}:{BROKER_PORT}"


def make_catch(**overrides: Any) -> CatchSummary:
    return helpers.make_catch(
        **{
            "event_id": f"evt-{secrets.token_hex(4)}",
            "snapshot_url": "https://orin.test/s/evt-1.jpg",
            **overrides,
        }
    )


@dataclass
class Seen:
    topic: str
    payload: bytes
    retain: bool
    qos: int
    at: float

    def json(self) -> Any:
        return json.loads(self.payload)


class Observer:
    """A separate client subscribed to some topics, keeping what arrives."""

    def __init__(self, *topics: str) -> None:
        self.topics = topics
        self.seen: list[Seen] = []
        self._client = aiomqtt.Client(
            BROKER_HOST, BROKER_PORT, identifier=f"observer-{secrets.token_hex(4)}"
        )
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Observer:
        await self._client.__aenter__()
        for topic in self.topics:
            await self._client.subscribe(topic, qos=1)
        self._task = asyncio.create_task(self._collect())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.__aexit__(exc_type, exc, tb)

    async def _collect(self) -> None:
        async for message in self._client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            self.seen.append(
                Seen(str(message.topic), payload, message.retain, message.qos, time.monotonic())
            )

    async def publish(self, topic: str, payload: str, *, retain: bool = False) -> None:
        await self._client.publish(topic, payload, qos=1, retain=retain)

    def on(self, topic: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.topic == topic]

    async def wait_for(
        self,
        topic: str,
        condition: Callable[[list[Seen]], bool] | None = None,
        *,
        timeout_s: float = 5.0,
    ) -> list[Seen]:
        """The messages on ``topic`` once ``condition`` holds (default: at least one)."""
        check = condition or (lambda seen: len(seen) > 0)
        deadline = time.monotonic() + timeout_s
        while not check(self.on(topic)):
            if time.monotonic() > deadline:
                payloads = [seen.payload for seen in self.on(topic)]
                raise AssertionError(f"{topic}: condition not met within {timeout_s}s: {payloads}")
            await asyncio.sleep(0.02)
        return self.on(topic)


async def eventually(check: Callable[[], bool], *, timeout_s: float = 5.0) -> None:
    """Wait until ``check()`` holds (AssertionError after ``timeout_s``)."""
    for _ in range(int(timeout_s / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not true within {timeout_s}s")


def last_is(payload: bytes) -> Callable[[list[Seen]], bool]:
    """A `Observer.wait_for` condition: the latest message carries ``payload``."""
    return lambda seen: bool(seen) and seen[-1].payload == payload


@dataclass(frozen=True)
class Prefixes:
    topic: str
    discovery: str

    @property
    def all(self) -> tuple[str, str]:
        return (f"{self.topic}/#", f"{self.discovery}/#")


async def clear_retained(prefixes: Prefixes) -> None:
    async with Observer(*prefixes.all) as observer:
        await asyncio.sleep(0.3)  # retained messages arrive right after subscribing
        topics = {seen.topic for seen in observer.seen if seen.retain}
        for topic in topics:
            await observer.publish(topic, "", retain=True)


@pytest.fixture
async def prefixes() -> AsyncIterator[Prefixes]:
    token = secrets.token_hex(5)
    chosen = Prefixes(topic=f"orin-test-{token}", discovery=f"ha-test-{token}")
    yield chosen
    await clear_retained(chosen)


def publisher_for(prefixes: Prefixes, url: str = BROKER_URL, **options: Any) -> MqttPublisher:
    values: dict[str, Any] = {
        "topic_prefix": prefixes.topic,
        "discovery_prefix": prefixes.discovery,
        "off_delay_s": 0.4,
        "timeout_s": 3.0,
        "reconnect_min_s": 0.1,
        "reconnect_max_s": 0.5,
    }
    values.update(options)
    return MqttPublisher(url, **values)


@pytest.fixture
async def publisher(prefixes: Prefixes) -> AsyncIterator[MqttPublisher]:
    mqtt = publisher_for(prefixes)
    await mqtt.start()
    assert mqtt.connected
    yield mqtt
    await mqtt.close()


async def test_camera_discovery_and_retained_availability(
    publisher: MqttPublisher, prefixes: Prefixes
) -> None:
    p, ha = prefixes.topic, prefixes.discovery
    await publisher.publish_camera("cam-1", "Back yard", online=True)

    # A subscriber that arrives afterwards still gets everything retained.
    async with Observer(*prefixes.all) as late:
        [status] = await late.wait_for(f"{p}/status")
        assert status.payload == b"online"
        assert status.retain
        [availability] = await late.wait_for(f"{p}/cam-1/availability")
        assert availability.payload == b"online"
        assert availability.retain
        [state] = await late.wait_for(f"{p}/cam-1/catch/state")
        assert state.payload == b"OFF"
        [sensor] = await late.wait_for(f"{ha}/binary_sensor/orin_cam-1/config")
        [event] = await late.wait_for(f"{ha}/event/orin_cam-1/config")

    assert sensor.retain
    config = sensor.json()
    assert config["unique_id"] == "orin_cam-1_catch"
    assert config["name"] == "Catch"
    assert config["device_class"] == "occupancy"
    assert config["state_topic"] == f"{p}/cam-1/catch/state"
    assert config["payload_on"] == "ON"
    assert config["payload_off"] == "OFF"
    assert config["json_attributes_topic"] == f"{p}/cam-1/catch"
    assert config["availability"] == [
        {"topic": f"{p}/status"},
        {"topic": f"{p}/cam-1/availability"},
    ]
    assert config["availability_mode"] == "all"
    assert config["device"] == {
        "identifiers": ["orin_cam-1"],
        "name": "Back yard",
        "manufacturer": "ORIN",
        "model": "ORIN camera",
    }

    event_config = event.json()
    assert event_config["unique_id"] == "orin_cam-1_catch_event"
    assert event_config["state_topic"] == f"{p}/cam-1/catch"
    assert event_config["event_types"] == ["catch"]
    assert event_config["device"]["identifiers"] == ["orin_cam-1"]


async def test_discovery_once_per_connection_availability_every_time(
    publisher: MqttPublisher, prefixes: Prefixes
) -> None:
    p, ha = prefixes.topic, prefixes.discovery
    async with Observer(*prefixes.all) as observer:
        await publisher.publish_camera("cam-1", "Back yard", online=True)
        await publisher.publish_camera("cam-1", "Back yard", online=False)
        seen = await observer.wait_for(f"{p}/cam-1/availability", lambda s: len(s) == 2)
        assert [message.payload for message in seen] == [b"online", b"offline"]
        await asyncio.sleep(0.2)
        assert len(observer.on(f"{ha}/binary_sensor/orin_cam-1/config")) == 1

        # A new name is new discovery.
        await publisher.publish_camera("cam-1", "Garden", online=False)
        configs = await observer.wait_for(
            f"{ha}/binary_sensor/orin_cam-1/config", lambda s: len(s) == 2
        )
        assert configs[-1].json()["device"]["name"] == "Garden"


async def test_catch_json_then_on_then_off(publisher: MqttPublisher, prefixes: Prefixes) -> None:
    p = prefixes.topic
    catch = make_catch(camera_id="cam/7 #1", camera_name="Porch")
    cam = topic_id(catch.camera_id)
    assert cam == "cam_7__1"
    async with Observer(*prefixes.all) as observer:
        await publisher.publish_camera(catch.camera_id, "Porch", online=True)
        await observer.wait_for(f"{p}/{cam}/catch/state")  # the initial OFF
        started = time.monotonic()
        await publisher.publish_catch(catch)

        [message] = await observer.wait_for(f"{p}/{cam}/catch")
        assert not message.retain
        assert message.qos == 1
        assert message.json() == {
            "event_type": "catch",
            "event_id": catch.event_id,
            "camera_id": "cam/7 #1",
            "camera": "Porch",
            "guard_id": "grd-1",
            "guard": "Garden gate",
            "space_id": "spc-1",
            "space": "Home",
            "label": "person",
            "confidence": 0.874,
            "severity": "high",
            "occurred_at": "2024-05-01T12:00:00+00:00",
            "link": "https://orin.test/events/evt-1",
            "snapshot_url": "https://orin.test/s/evt-1.jpg",
        }
        states = await observer.wait_for(f"{p}/{cam}/catch/state", lambda s: len(s) == 3)
        assert [state.payload for state in states] == [b"OFF", b"ON", b"OFF"]
        on, off = states[1], states[2]
        assert on.at <= message.at + 0.5
        assert off.at - started >= 0.35  # off_delay_s is 0.4


async def test_newer_catch_postpones_off(publisher: MqttPublisher, prefixes: Prefixes) -> None:
    p = prefixes.topic
    async with Observer(f"{p}/#") as observer:
        await publisher.publish_catch(make_catch())  # announces the camera on the fly
        await asyncio.sleep(0.25)
        second_at = time.monotonic()
        await publisher.publish_catch(make_catch())

        states = await observer.wait_for(f"{p}/cam-1/catch/state", last_is(b"OFF"))
        await asyncio.sleep(0.6)  # a second OFF would have arrived by now

    assert [state.payload for state in observer.on(f"{p}/cam-1/catch/state")] == [
        b"ON",
        b"ON",
        b"OFF",
    ]
    assert states[-1].at - second_at >= 0.35
    assert len(observer.on(f"{p}/cam-1/catch")) == 2
    assert observer.on(f"{p}/cam-1/availability")[0].payload == b"online"


async def test_abrupt_disconnect_publishes_the_last_will_and_reconnects(
    prefixes: Prefixes,
) -> None:
    p, ha = prefixes.topic, prefixes.discovery
    proxy = TcpProxy(BROKER_HOST, BROKER_PORT)
    await proxy.start()
    mqtt = publisher_for(prefixes, f"mqtt://127.0.0.1:{proxy.port}")
    try:
        async with Observer(*prefixes.all) as observer:
            await mqtt.start()
            assert mqtt.connected
            await mqtt.publish_camera("cam-1", "Back yard", online=True)
            await observer.wait_for(f"{p}/status", last_is(b"online"))

            # The link dies without a DISCONNECT: the broker publishes the Last Will.
            await proxy.cut()
            await observer.wait_for(f"{p}/status", last_is(b"offline"))
            async with Observer(f"{p}/status") as late:
                [will] = await late.wait_for(f"{p}/status")
            assert will.payload == b"offline"
            assert will.retain
            await eventually(lambda: not mqtt.connected)  # the publisher notices too
            with pytest.raises(TransientDeliveryError):
                await mqtt.publish_catch(make_catch())
            with pytest.raises(TransientDeliveryError):
                await mqtt.publish_camera("cam-2", "Porch", online=True)

            # Back: online again, and every known camera is announced anew.
            await proxy.restore()
            await mqtt.wait_connected(5.0)
            await observer.wait_for(f"{p}/status", last_is(b"online"))
            configs = await observer.wait_for(
                f"{ha}/binary_sensor/orin_cam-1/config", lambda s: len(s) == 2
            )
            assert configs[-1].json()["device"]["name"] == "Back yard"
            porch = await observer.wait_for(f"{p}/cam-2/availability")
            assert porch[-1].payload == b"online"
            await observer.wait_for(f"{ha}/binary_sensor/orin_cam-2/config")
            # The catch ON that never went out was not replayed; the state is OFF.
            states = await observer.wait_for(f"{p}/cam-1/catch/state", lambda s: len(s) >= 2)
            assert all(state.payload == b"OFF" for state in states)

            await mqtt.publish_catch(make_catch())
            await observer.wait_for(f"{p}/cam-1/catch")
    finally:
        await mqtt.close()
        await proxy.close()


async def test_close_says_offline(prefixes: Prefixes) -> None:
    mqtt = publisher_for(prefixes)
    await mqtt.start()
    await mqtt.close()

    assert not mqtt.connected
    async with Observer(f"{prefixes.topic}/status") as late:
        [status] = await late.wait_for(f"{prefixes.topic}/status")
    assert status.payload == b"offline"
    assert status.retain
    with pytest.raises(TransientDeliveryError):
        await mqtt.publish_catch(make_catch())


async def test_home_assistant_birth_gets_discovery_again(
    publisher: MqttPublisher, prefixes: Prefixes
) -> None:
    ha = prefixes.discovery
    async with Observer(f"{ha}/+/+/config") as observer:
        await publisher.publish_camera("cam-1", "Back yard", online=True)
        await observer.wait_for(f"{ha}/event/orin_cam-1/config")

        await observer.publish(f"{ha}/status", "online")

        await observer.wait_for(f"{ha}/event/orin_cam-1/config", lambda s: len(s) == 2)
        await observer.wait_for(f"{ha}/binary_sensor/orin_cam-1/config", lambda s: len(s) == 2)


async def test_broker_down_at_start_is_not_fatal(prefixes: Prefixes) -> None:
    proxy = TcpProxy(BROKER_HOST, BROKER_PORT)  # not started yet: nothing listens
    mqtt = publisher_for(prefixes, f"mqtt://127.0.0.1:{proxy.port}")
    try:
        await mqtt.start()
        assert not mqtt.connected
        with pytest.raises(TransientDeliveryError):
            await mqtt.publish_camera("cam-1", "Back yard", online=True)

        await proxy.start()
        await mqtt.wait_connected(5.0)
        async with Observer(*prefixes.all) as late:
            [availability] = await late.wait_for(f"{prefixes.topic}/cam-1/availability")
        assert availability.payload == b"online"
    finally:
        await mqtt.close()
        await proxy.close()


def test_broker_url_parsing() -> None:
    address = BrokerAddress.parse("mqtt://ha%40home:p%3Ass@broker.lan:1884")
    assert address == BrokerAddress("broker.lan", 1884, "ha@home", "p:ss", tls=False)
    assert BrokerAddress.parse("mqtts://broker.lan").port == 8883
    assert BrokerAddress.parse("mqtt://broker.lan").username is None
    with pytest.raises(ValueError, match="MQTT broker URL"):
        BrokerAddress.parse("http://broker.lan")


async def test_from_settings_needs_a_url() -> None:
    with pytest.raises(ValueError, match="mqtt_url"):
        MqttPublisher.from_settings(NotifySettings())
    mqtt = MqttPublisher.from_settings(
        NotifySettings(mqtt_url="mqtt://u:p@127.0.0.1:1883", mqtt_topic_prefix="home/orin")
    )
    assert mqtt.status_topic == "home/orin/status"
    assert mqtt.state_topic("cam-1") == "home/orin/cam-1/catch/state"
    assert mqtt.discovery_topic("binary_sensor", "cam-1") == (
        "homeassistant/binary_sensor/orin_cam-1/config"
    )
