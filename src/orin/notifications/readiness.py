"""Whether one of a user's channels can reach them now, decided in one place.

The preferences API refuses to turn on a channel that is not ready, the planner makes no
delivery for it, and the delivery task checks again when it renders (the user may have
changed their preferences in between). Push is ready per subscription: the planner sends to
each of the user's subscriptions, and delivery checks that the subscription still exists.
"""

from __future__ import annotations

from orin.models.user import User
from orin.users.schemas import Channel, Preferences


def not_ready(user: User, preferences: Preferences, channel: Channel) -> str | None:
    """Why ``channel`` cannot reach ``user`` with ``preferences``; None when it can."""
    if channel is Channel.EMAIL and user.email_verified_at is None:
        return "the email address is not verified"
    if channel is Channel.SMS and not preferences.sms_number:
        return "no SMS number is set"
    if channel is Channel.WEBHOOK and not preferences.webhook_url:
        return "no webhook URL is set"
    return None
