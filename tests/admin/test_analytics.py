"""`GET /api/v1/admin/analytics`: exact figures over seeded rows, zero-filled series."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orin.admin.repository import CatchBucket, Part
from orin.admin.service import fold, parse_window, series_step
from orin.models.base import utcnow
from orin.models.camera import CameraStatus
from orin.models.event import EventKind, ReviewState
from orin.models.guard import GuardState
from orin.models.notification import NotificationStatus
from orin.models.user import Plan
from tests.admin.conftest import (
    add_camera,
    add_event,
    add_guard,
    add_notification,
    add_space,
    add_user,
)
from tests.fixtures.api import Api

STATUSES = ["queued", "sending", "sent", "failed", "dead", "held", "suppressed"]


def floor_to(instant: datetime, step_s: int) -> datetime:
    seconds = int(instant.timestamp())
    return datetime.fromtimestamp(seconds - seconds % step_s, UTC)


def nonzero(series: dict[str, Any]) -> dict[datetime, int]:
    return {
        datetime.fromisoformat(bucket["start"]): bucket["count"]
        for bucket in series["buckets"]
        if bucket["count"]
    }


def expected(times: list[datetime], step_s: int, first: datetime) -> dict[datetime, int]:
    return dict(Counter(floor_to(t, step_s) for t in times if floor_to(t, step_s) >= first))


async def test_analytics_counts_users_cameras_guards_catches_and_deliveries(
    clean_api: Api,
) -> None:
    api = clean_api
    admin = await api.sign_up(admin=True)
    user = await api.sign_up()
    await add_user(api, plan=Plan.PRO)
    await add_user(api, plan=Plan.PRO)
    await add_user(api, plan=Plan.BUSINESS, disabled_at=utcnow())

    space = await add_space(api)
    online = await add_camera(api, space, CameraStatus.ONLINE)
    await add_camera(api, space, CameraStatus.OFFLINE)
    await add_camera(api, space, CameraStatus.ERROR, enabled=False)
    for state in (GuardState.ACTIVE, GuardState.ACTIVE, GuardState.PAUSED, GuardState.INVALID):
        await add_guard(api, space, state)

    now = utcnow()
    catches = {
        now - timedelta(minutes=5): ReviewState.FALSE_ALARM,
        now - timedelta(minutes=5, seconds=1): ReviewState.CONFIRMED,
        now - timedelta(minutes=30): ReviewState.NEW,
        now - timedelta(hours=2): ReviewState.FALSE_ALARM,
        now - timedelta(days=3): ReviewState.RESOLVED,
        now - timedelta(days=29): ReviewState.SEEN,
        now - timedelta(days=40): ReviewState.FALSE_ALARM,
    }
    for started_at, review in catches.items():
        await add_event(api, space, online, started_at, review=review)
    # System events are not catches.
    await add_event(api, space, online, now - timedelta(minutes=5), kind=EventKind.MOTION)

    for channel, status in (
        ("email", NotificationStatus.SENT),
        ("email", NotificationStatus.SENT),
        ("email", NotificationStatus.FAILED),
        ("push", NotificationStatus.DEAD),
        ("push", NotificationStatus.HELD),
        ("sms", NotificationStatus.SUPPRESSED),
        ("webhook", NotificationStatus.QUEUED),
    ):
        await add_notification(api, user.user_id, channel, status)
    await add_notification(
        api, user.user_id, "email", NotificationStatus.SENT, created_at=now - timedelta(days=3)
    )

    response = await admin.get("/api/v1/admin/analytics", params={"window": "1h"})
    assert response.status_code == 200, response.text
    body = response.json()
    generated = datetime.fromisoformat(body["generated_at"])
    assert body["window"] == "1h"
    assert body["window_s"] == 3600
    since = datetime.fromisoformat(body["since"])
    assert since == floor_to(generated - timedelta(hours=1), 60)

    assert body["users"] == {
        "total": 5,
        "active": 2,
        "disabled": 1,
        "admins": 1,
        "by_plan": {"free": 2, "pro": 2, "business": 1},
    }
    assert body["cameras"] == {
        "total": 3,
        "enabled": 2,
        "online": 1,
        "offline": 2,
        "by_status": {"unknown": 0, "connecting": 0, "online": 1, "offline": 1, "error": 1},
    }
    assert body["guards"] == {
        "total": 4,
        "active": 2,
        "by_state": {"active": 2, "paused": 1, "invalid": 1},
    }

    figures = body["catches"]
    in_window = [t for t in catches if t >= since]
    assert figures["in_window"] == len(in_window) == 3
    assert figures["reviewed"] == 2
    assert figures["false_alarms"] == 1
    assert figures["false_alarm_rate"] == 0.5

    per_minute = figures["per_minute"]
    assert per_minute["bucket_s"] == 60
    assert len(per_minute["buckets"]) == 60
    first_minute = floor_to(generated, 60) - timedelta(minutes=59)
    assert datetime.fromisoformat(per_minute["buckets"][0]["start"]) == first_minute
    assert nonzero(per_minute) == expected(list(catches), 60, first_minute)
    assert per_minute["total"] == sum(nonzero(per_minute).values())

    over_window = figures["over_window"]
    assert over_window["bucket_s"] == 60
    assert datetime.fromisoformat(over_window["buckets"][0]["start"]) == since
    assert nonzero(over_window) == expected(list(catches), 60, since)
    assert over_window["total"] == 3

    per_day = figures["per_day"]
    assert per_day["bucket_s"] == 86400
    assert len(per_day["buckets"]) == 30
    first_day = floor_to(generated, 86400) - timedelta(days=29)
    assert datetime.fromisoformat(per_day["buckets"][0]["start"]) == first_day
    assert nonzero(per_day) == expected(list(catches), 86400, first_day)
    assert per_day["total"] == sum(expected(list(catches), 86400, first_day).values())
    assert per_day["total"] >= 5  # not the one 40 days old

    outcomes = {row["channel"]: row for row in body["notifications"]}
    assert sorted(outcomes) == ["email", "push", "sms", "webhook"]
    for row in outcomes.values():
        assert list(row["by_status"]) == STATUSES
    assert outcomes["email"]["by_status"]["sent"] == 2  # the one three days old is outside
    assert outcomes["email"]["by_status"]["failed"] == 1
    assert outcomes["email"]["total"] == 3
    assert outcomes["push"]["by_status"] == dict.fromkeys(STATUSES, 0) | {"dead": 1, "held": 1}
    assert outcomes["sms"]["by_status"]["suppressed"] == 1
    assert outcomes["webhook"]["by_status"]["queued"] == 1

    week = (await admin.get("/api/v1/admin/analytics", params={"window": "7d"})).json()
    assert week["catches"]["in_window"] == 5
    assert week["catches"]["reviewed"] == 4  # false alarm, confirmed, false alarm, resolved
    assert week["catches"]["false_alarm_rate"] == 0.5
    assert week["catches"]["over_window"]["bucket_s"] == 1800
    assert week["notifications"][0]["channel"] == "email"
    assert week["notifications"][0]["by_status"]["sent"] == 3


async def test_false_alarm_rate_is_null_when_nothing_was_reviewed(clean_api: Api) -> None:
    admin = await clean_api.sign_up(admin=True)
    space = await add_space(clean_api)
    camera = await add_camera(clean_api, space, CameraStatus.ONLINE)
    await add_event(clean_api, space, camera, utcnow() - timedelta(minutes=1))
    body = (await admin.get("/api/v1/admin/analytics")).json()
    assert body["window"] == "24h"
    assert body["catches"]["in_window"] == 1
    assert body["catches"]["reviewed"] == 0
    assert body["catches"]["false_alarm_rate"] is None
    assert len(body["catches"]["over_window"]["buckets"]) == 289  # 5-minute buckets


@pytest.mark.parametrize(
    ("window", "seconds", "step"),
    [
        ("1h", 3600, 60),
        ("6h", 21600, 60),
        ("24h", 86400, 300),
        ("48h", 172800, 900),
        ("7d", 604800, 1800),
        ("30d", 2592000, 10800),
    ],
)
def test_windows_and_their_series_steps(window: str, seconds: int, step: int) -> None:
    assert parse_window(window) == seconds
    assert series_step(seconds) == step
    assert seconds // step <= 360


@pytest.mark.parametrize("window", ["0h", "59m", "31d", "721h", "1w", "", "24", "-1h", "1.5h"])
def test_windows_out_of_bounds_are_refused(window: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_window(window)


def bucket(start_s: int, width_s: int, count: int) -> CatchBucket:
    return CatchBucket(Part.WINDOW, start_s, width_s, count, reviewed=0, false_alarms=0)


def test_fine_buckets_fold_into_zero_filled_coarse_ones() -> None:
    # Minutes 100..104 fold into 5-minute bucket 20, minute 111 into 22; the 5-minute bucket
    # 23 stays as it is; minute 90 is before the series and the day bucket is too wide.
    buckets = [
        bucket(100 * 60, 60, 1),
        bucket(104 * 60, 60, 2),
        bucket(111 * 60, 60, 5),
        bucket(90 * 60, 60, 7),
        bucket(23 * 300, 300, 4),
        bucket(0, 86400, 9),
    ]
    series = fold(buckets, step_s=300, first=20, last=23)
    assert [b.count for b in series.buckets] == [3, 0, 5, 4]
    assert series.total == 12
    assert series.buckets[0].start == datetime.fromtimestamp(6000, UTC)
