"""Catches on MQTT, laid out for Home Assistant's MQTT integration.

Topics (``<prefix>`` is ``notify.mqtt_topic_prefix``, ``<ha>`` the discovery prefix, ``<cam>``
the camera id with anything but letters, digits, ``_`` and ``-`` replaced by ``_``):

``<prefix>/status``
    ``online`` (retained) once connected; the broker publishes the Last Will ``offline``
    (retained) when ORIN vanishes without disconnecting, and ORIN publishes it on `close`.
``<prefix>/<cam>/availability``
    ``online`` / ``offline`` (retained): whether the camera streams.
``<prefix>/<cam>/catch``
    One JSON document per catch (QoS 1, not retained): ``event_type`` (``"catch"``), ids and
    names of camera, guard and space, label, confidence, severity, ``occurred_at``, link and
    snapshot URL.
``<prefix>/<cam>/catch/state``
    ``ON`` (retained) when a catch arrives, ``OFF`` after ``off_delay_s`` without a newer one.
``<ha>/binary_sensor/orin_<cam>/config`` and ``<ha>/event/orin_<cam>/config``
    Retained discovery documents: a ``binary_sensor`` (device class ``occupancy``) that is on
    while the camera has a recent catch, with the last catch as attributes, and an ``event``
    entity (device class ``motion``) firing once per catch. Both belong to one device per
    camera and are available only while both ``<prefix>/status`` and the camera's availability
    say ``online`` (``availability_mode: all``), so a crashed ORIN greys them out.

Discovery is published once per camera per connection (and again when Home Assistant
announces itself on ``<ha>/status``); the publisher remembers each camera's name and
availability and republishes them after a reconnect, along with ``OFF`` for cameras whose
catch timer ran out meanwhile. It reconnects with exponential backoff while the broker is
away; publishing meanwhile raises `TransientDeliveryError`. It holds no database state:
callers pass camera names and catches in.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import ssl
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
import structlog

from orin.config import NotifySettings
from orin.notifications.notice import CatchSummary, TransientDeliveryError

logger = structlog.get_logger(__name__)

ONLINE = "online"
OFFLINE = "offline"
STATE_ON = "ON"
STATE_OFF = "OFF"
MANUFACTURER = "ORIN"
MODEL = "ORIN camera"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def topic_id(camera_id: str) -> str:
    """``camera_id`` as one topic level and discovery object id."""
    return _UNSAFE.sub("_", camera_id) or "_"


@dataclass(frozen=True)
class BrokerAddress:
    """Where the broker is, parsed from ``mqtt://[user:pass@]host[:port]`` (or ``mqtts://``)."""

    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"not an MQTT broker URL (mqtt://host:port): {url!r}")
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            tls=tls,
        )


@dataclass
class _Camera:
    name: str
    online: bool


class MqttPublisher:
    """Publishes catches and camera availability to an MQTT broker for Home Assistant.

    `start` connects (waiting at most ``timeout_s`` for the first attempt, never failing: the
    connection is retried in the background); `close` publishes ``offline`` and disconnects.
    """

    def __init__(
        self,
        url: str,
        *,
        topic_prefix: str = "orin",
        discovery_prefix: str = "homeassistant",
        off_delay_s: float = 30.0,
        timeout_s: float = 10.0,
        keepalive_s: int = 30,
        reconnect_min_s: float = 1.0,
        reconnect_max_s: float = 60.0,
        client_id: str | None = None,
    ) -> None:
        self.address = BrokerAddress.parse(url)
        self.prefix = topic_prefix.strip("/")
        self.discovery_prefix = discovery_prefix.strip("/")
        self.off_delay_s = off_delay_s
        self.timeout_s = timeout_s
        self.keepalive_s = keepalive_s
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.client_id = client_id or f"orin-{secrets.token_hex(6)}"
        self.status_topic = f"{self.prefix}/status"
        self.ha_status_topic = f"{self.discovery_prefix}/status"
        self._tls = ssl.create_default_context() if self.address.tls else None
        self._client: aiomqtt.Client | None = None
        self._runner: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._attempted = asyncio.Event()
        self._connected = asyncio.Event()
        self._cameras: dict[str, _Camera] = {}
        self._announced: dict[str, str] = {}
        """Cameras whose discovery went out on this connection, with the name it used."""
        self._off_timers: dict[str, asyncio.Task[None]] = {}

    @classmethod
    def from_settings(cls, settings: NotifySettings, **options: Any) -> MqttPublisher:
        """The publisher for ``notify.mqtt_url`` (raises ValueError when MQTT is off)."""
        if not settings.mqtt_url:
            raise ValueError("MQTT is off: notify.mqtt_url is unset")
        return cls(
            settings.mqtt_url,
            topic_prefix=settings.mqtt_topic_prefix,
            discovery_prefix=settings.mqtt_discovery_prefix,
            timeout_s=settings.request_timeout_s,
            **options,
        )

    # Topics

    def camera_topic(self, camera_id: str) -> str:
        """``<prefix>/<cam>``, the base of one camera's topics."""
        return f"{self.prefix}/{topic_id(camera_id)}"

    def availability_topic(self, camera_id: str) -> str:
        return f"{self.camera_topic(camera_id)}/availability"

    def catch_topic(self, camera_id: str) -> str:
        return f"{self.camera_topic(camera_id)}/catch"

    def state_topic(self, camera_id: str) -> str:
        return f"{self.camera_topic(camera_id)}/catch/state"

    def discovery_topic(self, component: str, camera_id: str) -> str:
        return f"{self.discovery_prefix}/{component}/orin_{topic_id(camera_id)}/config"

    # Lifecycle

    @property
    def connected(self) -> bool:
        """Whether a connection to the broker is up right now."""
        return self._client is not None

    async def start(self) -> None:
        """Connect in the background; returns once the first attempt succeeded or failed."""
        if self._runner is not None:
            return
        self._stopping.clear()
        self._attempted.clear()
        self._runner = asyncio.create_task(self._run(), name=f"mqtt-{self.client_id}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._attempted.wait(), self.timeout_s)

    async def wait_connected(self, timeout_s: float | None = None) -> None:
        """Wait until connected (raises TimeoutError after ``timeout_s``)."""
        await asyncio.wait_for(self._connected.wait(), timeout_s or self.timeout_s)

    async def close(self) -> None:
        """Publish ``offline``, disconnect cleanly and stop reconnecting."""
        for timer in self._off_timers.values():
            timer.cancel()
        self._off_timers.clear()
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(runner, self.timeout_s + 5)
        except TimeoutError:
            logger.warning("notifications.mqtt.close_timeout", client_id=self.client_id)

    async def _run(self) -> None:
        delay = self.reconnect_min_s
        while not self._stopping.is_set():
            client = aiomqtt.Client(
                self.address.host,
                self.address.port,
                username=self.address.username,
                password=self.address.password,
                identifier=self.client_id,
                will=aiomqtt.Will(self.status_topic, OFFLINE, qos=1, retain=True),
                keepalive=self.keepalive_s,
                timeout=self.timeout_s,
                tls_context=self._tls,
            )
            try:
                async with client:
                    await self._on_connect(client)
                    delay = self.reconnect_min_s
                    await self._serve(client)
            except (aiomqtt.MqttError, TransientDeliveryError) as exc:
                logger.warning(
                    "notifications.mqtt.disconnected",
                    broker=f"{self.address.host}:{self.address.port}",
                    error=str(exc),
                    retry_in_s=None if self._stopping.is_set() else delay,
                )
            except Exception:
                # A bug must not end MQTT for good: log it and connect afresh.
                logger.exception(
                    "notifications.mqtt.failed",
                    broker=f"{self.address.host}:{self.address.port}",
                    retry_in_s=delay,
                )
            finally:
                self._client = None
                self._connected.clear()
                self._attempted.set()
            if self._stopping.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            delay = min(delay * 2, self.reconnect_max_s)

    async def _on_connect(self, client: aiomqtt.Client) -> None:
        await client.publish(self.status_topic, ONLINE, qos=1, retain=True)
        await client.subscribe(self.ha_status_topic, qos=1)
        self._announced.clear()
        self._client = client
        for camera_id in list(self._cameras):
            await self._announce(camera_id)
        self._connected.set()
        self._attempted.set()
        logger.info(
            "notifications.mqtt.connected",
            broker=f"{self.address.host}:{self.address.port}",
            cameras=len(self._cameras),
        )

    async def _serve(self, client: aiomqtt.Client) -> None:
        """Until `close` (then go offline cleanly) or the connection drops (MqttError)."""
        listening = asyncio.create_task(self._listen(client))
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({listening, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (listening, stopping):
                task.cancel()
            await asyncio.gather(listening, stopping, return_exceptions=True)
        if listening.done() and not listening.cancelled() and listening.exception():
            raise aiomqtt.MqttError("lost the broker connection") from listening.exception()
        self._client = None
        # A clean DISCONNECT suppresses the Last Will, so say it ourselves.
        await client.publish(self.status_topic, OFFLINE, qos=1, retain=True)

    async def _listen(self, client: aiomqtt.Client) -> None:
        # Ends with MqttError when the connection drops.
        async for message in client.messages:
            if message.topic.matches(self.ha_status_topic) and message.payload == b"online":
                # Home Assistant (re)started: it wants the discovery documents again.
                self._announced.clear()
                for camera_id in list(self._cameras):
                    with contextlib.suppress(TransientDeliveryError):
                        await self._announce(camera_id)

    # Publishing

    async def _publish(
        self, topic: str, payload: str | bytes, *, retain: bool = False, qos: int = 1
    ) -> None:
        client = self._client
        if client is None:
            raise TransientDeliveryError("not connected to the MQTT broker")
        try:
            await client.publish(topic, payload, qos=qos, retain=retain, timeout=self.timeout_s)
        except aiomqtt.MqttError as exc:
            raise TransientDeliveryError(f"MQTT publish to {topic} failed: {exc}") from exc

    def discovery_documents(self, camera_id: str, name: str) -> dict[str, dict[str, Any]]:
        """The discovery config per component (``binary_sensor``, ``event``) of a camera."""
        object_id = f"orin_{topic_id(camera_id)}"
        common: dict[str, Any] = {
            "availability": [
                {"topic": self.status_topic},
                {"topic": self.availability_topic(camera_id)},
            ],
            "availability_mode": "all",
            "payload_available": ONLINE,
            "payload_not_available": OFFLINE,
            "device": {
                "identifiers": [object_id],
                "name": name,
                "manufacturer": MANUFACTURER,
                "model": MODEL,
            },
            "origin": {"name": "ORIN"},
            "qos": 1,
        }
        return {
            "binary_sensor": {
                **common,
                "name": "Catch",
                "unique_id": f"{object_id}_catch",
                "device_class": "occupancy",
                "state_topic": self.state_topic(camera_id),
                "payload_on": STATE_ON,
                "payload_off": STATE_OFF,
                "json_attributes_topic": self.catch_topic(camera_id),
            },
            "event": {
                **common,
                "name": "Catch event",
                "unique_id": f"{object_id}_catch_event",
                "device_class": "motion",
                "state_topic": self.catch_topic(camera_id),
                "event_types": ["catch"],
            },
        }

    async def _announce(self, camera_id: str, *, reset_state: bool = True) -> None:
        camera = self._cameras[camera_id]
        if self._announced.get(camera_id) != camera.name:
            for component, document in self.discovery_documents(camera_id, camera.name).items():
                await self._publish(
                    self.discovery_topic(component, camera_id), json.dumps(document), retain=True
                )
            if reset_state and camera_id not in self._off_timers:
                # No catch is pending: clear an ON left behind by a timer that ran out while
                # disconnected, or by a previous process.
                await self._publish(self.state_topic(camera_id), STATE_OFF, retain=True)
            self._announced[camera_id] = camera.name
        await self._publish(
            self.availability_topic(camera_id), ONLINE if camera.online else OFFLINE, retain=True
        )

    async def publish_camera(self, camera_id: str, name: str, online: bool) -> None:
        """Announce the camera (discovery, once per connection) and its availability.

        The state is remembered and republished after a reconnect even when this call raises
        `TransientDeliveryError` because the broker is away.
        """
        self._cameras[camera_id] = _Camera(name=name, online=online)
        await self._announce(camera_id)

    async def publish_catch(self, catch: CatchSummary) -> None:
        """Publish ``catch`` and switch the camera's state ON; OFF follows ``off_delay_s``
        after the latest catch. A camera not announced yet is announced as online."""
        camera_id = catch.camera_id
        if camera_id not in self._cameras:
            self._cameras[camera_id] = _Camera(name=catch.camera_name, online=True)
        timer = self._off_timers.pop(camera_id, None)
        if timer is not None:
            timer.cancel()
        if camera_id not in self._announced:
            await self._announce(camera_id, reset_state=False)
        await self._publish(self.catch_topic(camera_id), json.dumps(catch_document(catch)))
        await self._publish(self.state_topic(camera_id), STATE_ON, retain=True)
        self._off_timers[camera_id] = asyncio.create_task(
            self._switch_off(camera_id), name=f"mqtt-off-{camera_id}"
        )

    async def _switch_off(self, camera_id: str) -> None:
        await asyncio.sleep(self.off_delay_s)
        # Leave the table first: a reconnect from now on republishes OFF itself.
        if self._off_timers.get(camera_id) is asyncio.current_task():
            del self._off_timers[camera_id]
        try:
            await self._publish(self.state_topic(camera_id), STATE_OFF, retain=True)
        except TransientDeliveryError as exc:
            # `_announce` publishes OFF after the reconnect.
            self._announced.pop(camera_id, None)
            logger.warning("notifications.mqtt.off_failed", camera_id=camera_id, error=exc.message)


def catch_document(catch: CatchSummary) -> dict[str, Any]:
    """The JSON published on ``<prefix>/<cam>/catch`` (also the event entity's payload)."""
    occurred_at = catch.occurred_at
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=UTC)
    return {
        "event_type": "catch",
        "event_id": catch.event_id,
        "camera_id": catch.camera_id,
        "camera": catch.camera_name,
        "guard_id": catch.guard_id,
        "guard": catch.guard_name,
        "space_id": catch.space_id,
        "space": catch.space_name,
        "label": catch.label,
        "confidence": catch.confidence,
        "severity": catch.severity,
        "occurred_at": occurred_at.astimezone(UTC).isoformat(),
        "link": catch.link,
        "snapshot_url": catch.snapshot_url,
    }


__all__ = ["BrokerAddress", "MqttPublisher", "catch_document", "topic_id"]
