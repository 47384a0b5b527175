"""The SMS channel against a local fake of Twilio's Messages resource."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from orin.config import NotifySettings
from orin.notifications.channels.sms import MAX_BODY_CHARS, TwilioSmsSender, sms_body
from orin.notifications.notice import (
    Notice,
    PermanentDeliveryError,
    SmsTarget,
    TargetGone,
    TransientDeliveryError,
)
from tests.fixtures.services import free_port
from tests.notifications import helpers
from tests.notifications.fakes.twilio_server import TwilioServer
from tests.notifications.helpers import LINK, make_catch

FROM_NUMBER = "+15005550006"
TO_NUMBER = "+14155550100"


def make_notice(**overrides: Any) -> Notice:
    return helpers.make_notice(**{"catches": (make_catch(confidence=0.9),), **overrides})


@pytest.fixture
def twilio() -> Iterator[TwilioServer]:
    server = TwilioServer()
    server.start()
    yield server
    server.stop()


def sender_for(twilio: TwilioServer, **overrides: Any) -> TwilioSmsSender:
    options: dict[str, Any] = {
        "account_sid": twilio.account_sid,
        "auth_token": twilio.auth_token,
        "sender": FROM_NUMBER,
        "base_url": twilio.base_url,
        "timeout_s": 2.0,
    }
    options.update(overrides)
    return TwilioSmsSender(**options)


@pytest.fixture
async def sms(twilio: TwilioServer) -> AsyncIterator[TwilioSmsSender]:
    sender = sender_for(twilio)
    yield sender
    await sender.aclose()


async def test_sends_a_concise_sms_and_returns_the_sid(
    sms: TwilioSmsSender, twilio: TwilioServer
) -> None:
    sid = await sms.send(SmsTarget(TO_NUMBER), make_notice())

    assert len(twilio.messages) == 1
    message = twilio.messages[0]
    assert sid == message.sid
    assert sid.startswith("SM")
    assert message.to == TO_NUMBER
    assert message.from_ == FROM_NUMBER
    assert message.messaging_service_sid is None
    assert message.body == f"[ORIN] Person at Back yard: Garden gate caught a person. {LINK}"


async def test_messaging_service_sid_replaces_from(twilio: TwilioServer) -> None:
    service = "MG" + secrets.token_hex(16)
    sender = sender_for(twilio, sender=service)
    try:
        await sender.send(SmsTarget(TO_NUMBER), make_notice())
    finally:
        await sender.aclose()

    message = twilio.messages[0]
    assert message.messaging_service_sid == service
    assert message.from_ is None


async def test_long_text_is_cut_to_twilios_limit_keeping_the_link(
    sms: TwilioSmsSender, twilio: TwilioServer
) -> None:
    notice = make_notice(body="word " * 1000)

    await sms.send(SmsTarget(TO_NUMBER), notice)

    body = twilio.messages[0].body
    assert MAX_BODY_CHARS - 5 <= len(body) <= MAX_BODY_CHARS
    assert body.startswith("[ORIN] Person at Back yard: word word")
    assert body.endswith(f"… {LINK}")


def test_body_collapses_whitespace_and_skips_an_empty_body() -> None:
    notice = make_notice(title="Two\ncatches", body="", link="https://orin.test/x")
    assert sms_body(notice) == "[ORIN] Two catches https://orin.test/x"


@pytest.mark.parametrize(
    ("number", "code"),
    [("4155550100", 21211), ("+1-415-555", 21211), ("+14155550199", 21614)],
)
async def test_invalid_or_unreachable_number_is_permanent(
    sms: TwilioSmsSender, twilio: TwilioServer, number: str, code: int
) -> None:
    twilio.unreachable.add("+14155550199")

    with pytest.raises(PermanentDeliveryError) as caught:
        await sms.send(SmsTarget(number), make_notice())

    assert not isinstance(caught.value, TargetGone)
    assert caught.value.status == 400
    assert str(code) in caught.value.message
    assert twilio.refusals == [(400, code)]
    assert twilio.messages == []


async def test_unsubscribed_recipient_is_permanent(
    sms: TwilioSmsSender, twilio: TwilioServer
) -> None:
    twilio.unsubscribed.add(TO_NUMBER)

    with pytest.raises(PermanentDeliveryError) as caught:
        await sms.send(SmsTarget(TO_NUMBER), make_notice())

    assert "21610" in caught.value.message
    assert "unsubscribed" in caught.value.message


async def test_wrong_credentials_are_permanent(twilio: TwilioServer) -> None:
    sender = sender_for(twilio, auth_token="wrong")
    try:
        with pytest.raises(PermanentDeliveryError) as caught:
            await sender.send(SmsTarget(TO_NUMBER), make_notice())
    finally:
        await sender.aclose()

    assert caught.value.status == 401
    assert twilio.refusals == [(401, 20003)]


async def test_unknown_account_is_permanent(twilio: TwilioServer) -> None:
    sender = sender_for(twilio, account_sid="AC" + "0" * 32)
    try:
        with pytest.raises(PermanentDeliveryError) as caught:
            await sender.send(SmsTarget(TO_NUMBER), make_notice())
    finally:
        await sender.aclose()

    assert caught.value.status == 404


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_transient_and_a_retry_succeeds(
    sms: TwilioSmsSender, twilio: TwilioServer, status: int
) -> None:
    twilio.fail_next(status)
    notice = make_notice()

    with pytest.raises(TransientDeliveryError) as caught:
        await sms.send(SmsTarget(TO_NUMBER), notice)
    assert caught.value.status == status
    assert caught.value.retry_after_s is None

    sid = await sms.send(SmsTarget(TO_NUMBER), notice)
    assert sid == twilio.messages[0].sid
    assert twilio.requests == 2


async def test_rate_limit_is_transient_with_retry_after(
    sms: TwilioSmsSender, twilio: TwilioServer
) -> None:
    twilio.fail_next(429, retry_after="7")

    with pytest.raises(TransientDeliveryError) as caught:
        await sms.send(SmsTarget(TO_NUMBER), make_notice())

    assert caught.value.status == 429
    assert caught.value.retry_after_s == 7.0
    assert "20429" in caught.value.message


async def test_timeout_is_transient(twilio: TwilioServer) -> None:
    twilio.stall_next(3.0)
    sender = sender_for(twilio, timeout_s=0.3)
    try:
        with pytest.raises(TransientDeliveryError) as caught:
            await sender.send(SmsTarget(TO_NUMBER), make_notice())
    finally:
        await sender.aclose()

    assert "timed out" in caught.value.message
    assert caught.value.status is None


async def test_unreachable_api_is_transient() -> None:
    sender = TwilioSmsSender(
        account_sid="AC" + "1" * 32,
        auth_token="token",
        sender=FROM_NUMBER,
        base_url=f"http://127.0.0.1:{free_port()}",
        timeout_s=2.0,
    )
    try:
        with pytest.raises(TransientDeliveryError):
            await sender.send(SmsTarget(TO_NUMBER), make_notice())
    finally:
        await sender.aclose()


async def test_from_settings_with_a_shared_client(twilio: TwilioServer) -> None:
    settings = NotifySettings(
        twilio_account_sid=twilio.account_sid,
        twilio_auth_token=SecretStr(twilio.auth_token),
        twilio_from=FROM_NUMBER,
        twilio_url=twilio.base_url + "/",
    )
    async with httpx.AsyncClient() as client:
        sender = TwilioSmsSender.from_settings(settings, client=client)
        sid = await sender.send(SmsTarget(TO_NUMBER), make_notice())
        await sender.aclose()  # not its client: stays open
        assert not client.is_closed

    assert sid == twilio.messages[0].sid


def test_sms_off_without_credentials() -> None:
    with pytest.raises(ValueError, match="account SID"):
        TwilioSmsSender.from_settings(NotifySettings())
