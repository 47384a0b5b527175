"""The senders of one process, built from settings and kept for its lifetime.

One `ChannelSet` per settings object shares an HTTP connection pool between the HTTP senders
and keeps the FCM access token and VAPID signatures cached across deliveries. A channel
without credentials (no VAPID key, no FCM service account, no Twilio account) has no sender;
delivering on it raises `ChannelUnavailable`.
"""

from __future__ import annotations

import httpx

from orin.config import Settings
from orin.mail.sender import create_mail_sender
from orin.notifications.channels.email import EmailSender
from orin.notifications.channels.fcm import FcmSender
from orin.notifications.channels.sms import TwilioSmsSender
from orin.notifications.channels.webhook import WebhookSender
from orin.notifications.channels.webpush import WebPushSender
from orin.notifications.notice import (
    EmailTarget,
    FcmTarget,
    Notice,
    SmsTarget,
    Target,
    WebhookTarget,
    WebPushTarget,
)


class ChannelUnavailable(Exception):
    """This server has no credentials for the channel."""


class ChannelSet:
    """Every sender this server can use (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        notify = settings.notify
        self.client = httpx.AsyncClient(
            timeout=notify.request_timeout_s, follow_redirects=False, trust_env=False
        )
        self.email = EmailSender(create_mail_sender(settings), settings.mail)
        self.webhook = WebhookSender(timeout_s=notify.request_timeout_s, client=self.client)
        self.webpush = (
            WebPushSender(notify, client=self.client)
            if notify.vapid_private_key.get_secret_value().strip()
            else None
        )
        self.fcm = (
            FcmSender(notify, client=self.client)
            if notify.fcm_service_account.get_secret_value().strip()
            else None
        )
        self.sms = (
            TwilioSmsSender(
                account_sid=notify.twilio_account_sid,
                auth_token=notify.twilio_auth_token.get_secret_value(),
                sender=notify.twilio_from,
                base_url=notify.twilio_url,
                timeout_s=notify.request_timeout_s,
                client=self.client,
            )
            if notify.twilio_account_sid and notify.twilio_from
            else None
        )

    async def send(self, target: Target, notice: Notice) -> str | None:
        """Deliver ``notice`` to ``target`` with the sender for its kind."""
        if isinstance(target, EmailTarget):
            return await self.email.send(target, notice)
        if isinstance(target, WebhookTarget):
            return await self.webhook.send(target, notice)
        if isinstance(target, WebPushTarget):
            if self.webpush is None:
                raise ChannelUnavailable("Web Push is not configured (notify.vapid_private_key)")
            return await self.webpush.send(target, notice)
        if isinstance(target, FcmTarget):
            if self.fcm is None:
                raise ChannelUnavailable("FCM is not configured (notify.fcm_service_account)")
            return await self.fcm.send(target, notice)
        if isinstance(target, SmsTarget):
            if self.sms is None:
                raise ChannelUnavailable("SMS is not configured (notify.twilio_account_sid)")
            return await self.sms.send(target, notice)
        raise TypeError(f"no sender for {type(target).__name__}")

    async def close(self) -> None:
        await self.client.aclose()


_sets: dict[int, tuple[Settings, ChannelSet]] = {}


def channel_set(settings: Settings) -> ChannelSet:
    """The process's `ChannelSet` for ``settings`` (built on first use)."""
    found = _sets.get(id(settings))
    if found is None or found[0] is not settings:
        found = (settings, ChannelSet(settings))
        _sets[id(settings)] = found
    return found[1]


async def close_channel_set(settings: Settings) -> None:
    """Close the `ChannelSet` of ``settings``, if one was built (runtime shutdown)."""
    found = _sets.get(id(settings))
    if found is not None and found[0] is settings:
        del _sets[id(settings)]
        await found[1].close()
