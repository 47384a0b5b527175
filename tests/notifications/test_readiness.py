"""Channel readiness: the one rule the preferences API, the planner and delivery share."""

from __future__ import annotations

import pytest

from orin.models.base import utcnow
from orin.models.user import User
from orin.notifications.readiness import not_ready
from orin.users.schemas import Channel, Preferences


def user(*, verified: bool) -> User:
    return User(email="a@orin.test", email_verified_at=utcnow() if verified else None)


@pytest.mark.parametrize(
    ("channel", "preferences", "verified", "reason"),
    [
        (Channel.EMAIL, {}, False, "the email address is not verified"),
        (Channel.EMAIL, {}, True, None),
        (Channel.SMS, {}, True, "no SMS number is set"),
        (Channel.SMS, {"sms_number": "+33612345678"}, False, None),
        (Channel.WEBHOOK, {}, True, "no webhook URL is set"),
        (Channel.WEBHOOK, {"webhook_url": "https://hooks.orin.test/x"}, False, None),
        (Channel.PUSH, {}, False, None),  # ready per subscription, not per user
    ],
)
def test_each_channel_needs_what_it_delivers_to(
    channel: Channel, preferences: dict[str, str], verified: bool, reason: str | None
) -> None:
    settings = Preferences.model_validate(preferences)
    assert not_ready(user(verified=verified), settings, channel) == reason
