"""Choosing the detection adapter from settings."""

from __future__ import annotations

from orin.config import Settings
from orin.vision.transport.base import DetectionService, DetectorFactory, build_registered


def detection_service(
    settings: Settings, factory: DetectorFactory = build_registered
) -> DetectionService:
    """The in-process pool (``local``) or the RabbitMQ client (``amqp``), not yet started.

    ``amqp`` without ``ORIN_AMQP_URL`` raises `SettingsError`; ``factory`` is used only by the
    local pool (replicas build their own detectors).
    """
    if settings.vision.transport == "amqp":
        from orin.vision.transport.amqp import AmqpDetectionService

        return AmqpDetectionService(settings)
    from orin.vision.transport.local import LocalDetectionService

    return LocalDetectionService(settings.vision, factory)
