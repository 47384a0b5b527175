"""Domain series on `/metrics`, read from the database at scrape time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from orin.admin import metrics as domain_metrics
from orin.admin.metrics import DomainMetrics, MonotonicCounts
from orin.models.base import utcnow
from orin.models.camera import CameraStatus
from orin.models.event import EventKind
from orin.models.guard import GuardState
from orin.models.notification import NotificationStatus
from tests.admin.conftest import (
    add_camera,
    add_event,
    add_guard,
    add_notification,
    add_space,
)
from tests.fixtures.api import Api

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(api: Api) -> Samples:
    response = await api.http.get("/metrics")
    assert response.status_code == 200
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


async def test_metrics_carry_the_domain_figures(
    clean_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = clean_api
    user = await api.sign_up()
    space = await add_space(api)
    online = await add_camera(api, space, CameraStatus.ONLINE)
    await add_camera(api, space, CameraStatus.ONLINE)
    await add_camera(api, space, CameraStatus.OFFLINE)
    await add_guard(api, space, GuardState.ACTIVE)
    await add_guard(api, space, GuardState.PAUSED)
    now = utcnow()
    for minutes in (1, 2, 90):
        await add_event(api, space, online, now - timedelta(minutes=minutes))
    await add_event(api, space, online, now, kind=EventKind.CAMERA_OFFLINE)
    for channel, status in (
        ("email", NotificationStatus.SENT),
        ("email", NotificationStatus.SENT),
        ("push", NotificationStatus.DEAD),
        ("webhook", NotificationStatus.QUEUED),
    ):
        await add_notification(api, user.user_id, channel, status)

    samples = await scrape(api)
    assert samples[("orin_events_total", (("kind", "catch"),))] == 3
    assert samples[("orin_events_total", (("kind", "camera_offline"),))] == 1
    assert samples[("orin_events_total", (("kind", "motion"),))] == 0
    assert samples[("orin_cameras_online", ())] == 2
    assert samples[("orin_guards_active", ())] == 1
    sent = ("orin_notifications_total", (("channel", "email"), ("outcome", "sent")))
    assert samples[sent] == 2
    dead = ("orin_notifications_total", (("channel", "push"), ("outcome", "dead")))
    assert samples[dead] == 1
    failed = ("orin_notifications_total", (("channel", "sms"), ("outcome", "failed")))
    assert samples[failed] == 0
    queued = ("orin_notifications_pending", (("channel", "webhook"), ("status", "queued")))
    assert samples[queued] == 1
    depth = ("orin_queue_depth", (("queue", "maintenance.outbox_cleanup"),))
    assert samples[depth] >= 0
    assert ("orin_dead_letters", (("queue", "maintenance.outbox_cleanup"),)) in samples
    assert samples[("orin_domain_metrics_refreshed_timestamp_seconds", ())] > 0
    # The HTTP metrics are still there.
    assert any(name == "orin_http_requests_total" for name, _ in samples)

    # Figures are read at most every 10 s: a scrape right after reuses them.
    await add_event(api, space, online, now)
    await add_camera(api, space, CameraStatus.ONLINE)
    again = await scrape(api)
    assert again[("orin_events_total", (("kind", "catch"),))] == 3
    assert again[("orin_cameras_online", ())] == 2
    # Once they are due, the next scrape reads them again.
    monkeypatch.setattr(domain_metrics, "REFRESH_EVERY_S", 0.0)
    monkeypatch.setattr(domain_metrics, "EVENT_COUNTS_EVERY_S", 0.0)
    fresh = await scrape(api)
    assert fresh[("orin_events_total", (("kind", "catch"),))] == 4
    assert fresh[("orin_cameras_online", ())] == 3


def test_counts_read_from_storage_never_go_down() -> None:
    counts = MonotonicCounts[str]()
    counts.update({"catch": 10, "motion": 4})
    assert counts.values == {"catch": 10, "motion": 4}
    counts.update({"catch": 12, "motion": 4, "camera_online": 1})
    assert counts.values == {"catch": 12, "motion": 4, "camera_online": 1}
    # A camera was deleted with its events: the stored counts drop, the counters do not.
    counts.update({"catch": 5, "motion": 0, "camera_online": 1})
    assert counts.values == {"catch": 12, "motion": 4, "camera_online": 1}
    counts.update({"catch": 7, "motion": 0, "camera_online": 1})
    assert counts.values == {"catch": 14, "motion": 4, "camera_online": 1}


def test_the_collector_registers_its_families_before_any_refresh() -> None:
    registry = CollectorRegistry(auto_describe=True)
    DomainMetrics(registry)
    names = {metric.name for metric in registry.collect()}
    assert {
        "orin_events",
        "orin_notifications",
        "orin_notifications_pending",
        "orin_cameras_online",
        "orin_guards_active",
        "orin_queue_depth",
        "orin_dead_letters",
    } <= names
