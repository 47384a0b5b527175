"""The worker's MQTT connection (Home Assistant), when ``notify.mqtt_url`` is set.

Started with the worker role and kept for the process's life: Home Assistant wants one client
whose Last Will marks ORIN offline, not a connection per message. Tasks find it with
`mqtt_publisher`.
"""

from __future__ import annotations

from orin.config import Settings
from orin.notifications.channels.mqtt import MqttPublisher

_publishers: dict[int, tuple[Settings, MqttPublisher]] = {}


async def start_mqtt(settings: Settings) -> MqttPublisher | None:
    """Connect the publisher for ``settings`` (None when MQTT is off)."""
    if not settings.notify.mqtt_url:
        return None
    publisher = MqttPublisher.from_settings(settings.notify)
    _publishers[id(settings)] = (settings, publisher)
    await publisher.start()
    return publisher


def mqtt_publisher(settings: Settings) -> MqttPublisher | None:
    """The started publisher for ``settings``, if any."""
    found = _publishers.get(id(settings))
    return found[1] if found is not None and found[0] is settings else None


async def stop_mqtt(settings: Settings) -> None:
    """Say offline and disconnect."""
    found = _publishers.pop(id(settings), None)
    if found is not None and found[0] is settings:
        await found[1].close()
