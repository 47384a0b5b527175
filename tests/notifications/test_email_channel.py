"""The email channel against a real SMTP server (aiosmtpd) through the SMTP mail adapter."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING

import pytest

from orin.config import MailSettings
from orin.mail.sender import SmtpSender
from orin.notifications.channels.email import EmailSender, message_id_for
from orin.notifications.notice import (
    EmailTarget,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from tests.fixtures.services import free_port
from tests.notifications.helpers import OCCURRED_AT, make_catch, make_notice

if TYPE_CHECKING:
    from tests.fixtures.smtp import SmtpServer

pytest_plugins = ["tests.fixtures.smtp"]

SENDER = "ORIN Alerts <alerts@orin.test>"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + secrets.token_bytes(64) + b"\xff\xd9"


def address(prefix: str = "") -> str:
    return f"{prefix}user-{secrets.token_hex(6)}@example.test"


def mail_settings(port: int) -> MailSettings:
    return MailSettings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        smtp_timeout_s=5.0,
        sender=SENDER,
    )


@pytest.fixture
def email_sender(smtp_server: SmtpServer) -> EmailSender:
    settings = mail_settings(smtp_server.port)
    return EmailSender(SmtpSender(settings), settings)


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def images_of(message: EmailMessage) -> list[EmailMessage]:
    return [part for part in message.walk() if part.get_content_type() == "image/jpeg"]


async def test_catch_mail_has_text_html_link_and_inline_snapshot(
    email_sender: EmailSender, smtp_server: SmtpServer
) -> None:
    to = address()
    notice = make_notice(snapshot=JPEG)

    message_id = await email_sender.send(EmailTarget(to, name="Ada Lovelace"), notice)

    mail = await smtp_server.wait_for_message(to)
    assert mail["Subject"] == "Person at Back yard"
    assert "alerts@orin.test" in str(mail["From"])
    assert str(mail["To"]) == f"Ada Lovelace <{to}>"
    assert message_id == str(mail["Message-ID"]) == message_id_for(notice.key, SENDER)
    assert str(mail["X-ORIN-Notification"]) == notice.key
    assert mail.get_content_type() == "multipart/alternative"

    text = text_of(mail)
    assert "View catch: https://orin.test/events/evt-1" in text
    assert "Back yard" in text
    assert "Garden gate" in text
    assert "87%" in text
    assert "2024-05-01 12:00:00 UTC" in text

    html = html_of(mail)
    assert '<a href="https://orin.test/events/evt-1"' in html
    assert "View catch</a>" in html

    images = images_of(mail)
    assert len(images) == 1
    image = images[0]
    assert image.get_content() == JPEG
    assert image.get_content_disposition() == "inline"
    content_id = str(image["Content-ID"])
    assert content_id.startswith("<")
    assert content_id.endswith(">")
    assert f'<img src="cid:{content_id[1:-1]}"' in html
    # The image travels with the HTML page it belongs to.
    related = [part for part in mail.walk() if part.get_content_type() == "multipart/related"]
    assert len(related) == 1


async def test_html_escapes_user_text(email_sender: EmailSender, smtp_server: SmtpServer) -> None:
    to = address()
    catch = make_catch(
        camera_name='<script>alert("cam")</script>',
        guard_name="Tom & Jerry",
        link='https://orin.test/events/1?a=1&b="x"',
    )
    notice = make_notice(
        title="<b>Intruder</b>", body="a < b", catches=(catch,), link="https://orin.test/e?x=1&y=2"
    )

    await email_sender.send(EmailTarget(to), notice)

    html = html_of(await smtp_server.wait_for_message(to))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;cam&quot;)&lt;/script&gt;" in html
    assert "Tom &amp; Jerry" in html
    assert "&lt;b&gt;Intruder&lt;/b&gt;" in html
    assert "a &lt; b" in html
    assert 'href="https://orin.test/e?x=1&amp;y=2"' in html
    assert 'href="https://orin.test/events/1?a=1&amp;b=&quot;x&quot;"' in html


async def test_digest_lists_every_catch_in_the_given_timezone(
    email_sender: EmailSender, smtp_server: SmtpServer
) -> None:
    to = address()
    catches = (
        make_catch(
            event_id="e1",
            camera_name="Driveway",
            guard_name="Cars",
            label="car",
            confidence=0.91,
            occurred_at=OCCURRED_AT,
        ),
        make_catch(
            event_id="e2",
            camera_name="Porch",
            guard_name="Parcels",
            label="person",
            confidence=0.5,
            occurred_at=OCCURRED_AT + timedelta(hours=1, minutes=5),
            snapshot_url="https://orin.test/s/e2.jpg?sig=a&exp=1",
        ),
    )
    notice = make_notice(
        kind="digest",
        title="2 catches while you were away",
        body="",
        link="https://orin.test/events?since=x",
        catches=catches,
        extra={"timezone": "Europe/Berlin"},
    )

    await email_sender.send(EmailTarget(to), notice)

    mail = await smtp_server.wait_for_message(to)
    text = text_of(mail)
    html = html_of(mail)
    assert "View catches: https://orin.test/events?since=x" in text
    for expected in ("Driveway", "Cars", "car", "91%", "2024-05-01 14:00:00 CEST"):
        assert expected in text
        assert expected in html
    for expected in ("Porch", "Parcels", "person", "50%", "2024-05-01 15:05:00 CEST"):
        assert expected in text
        assert expected in html
    assert html.count("<tr>") == 3  # header and one row per catch
    assert "UTC" not in text
    # No snapshot bytes: no attachment, and the first catch has no snapshot URL either.
    assert images_of(mail) == []
    assert "<img" not in html


async def test_snapshot_url_is_linked_when_no_bytes(
    email_sender: EmailSender, smtp_server: SmtpServer
) -> None:
    to = address()
    notice = make_notice(
        catches=(make_catch(snapshot_url="https://orin.test/s/1.jpg?sig=abc&exp=9"),)
    )

    await email_sender.send(EmailTarget(to), notice)

    mail = await smtp_server.wait_for_message(to)
    assert images_of(mail) == []
    assert '<img src="https://orin.test/s/1.jpg?sig=abc&amp;exp=9"' in html_of(mail)


async def test_retry_sends_the_same_message_id(
    email_sender: EmailSender, smtp_server: SmtpServer
) -> None:
    to = address()
    notice = make_notice(key="delivery/42 with spaces")

    first = await email_sender.send(EmailTarget(to), notice)
    second = await email_sender.send(EmailTarget(to), notice)
    other = await email_sender.send(EmailTarget(to), make_notice())

    assert first == second
    assert first != other
    assert first is not None
    assert " " not in first
    assert first.endswith("@orin.test>")
    received = [await smtp_server.wait_for_message(to) for _ in range(3)]
    assert [str(mail["Message-ID"]) for mail in received] == [first, second, other]


async def test_unknown_timezone_falls_back_to_utc(
    email_sender: EmailSender, smtp_server: SmtpServer
) -> None:
    to = address()
    await email_sender.send(EmailTarget(to), make_notice(extra={"timezone": "Mars/Olympus"}))

    assert "2024-05-01 12:00:00 UTC" in text_of(await smtp_server.wait_for_message(to))


async def test_deferred_recipient_is_transient(
    email_sender: EmailSender, smtp_server: SmtpServer
) -> None:
    with pytest.raises(TransientDeliveryError) as caught:
        await email_sender.send(EmailTarget(address(smtp_server.defer_prefix)), make_notice())
    assert caught.value.status == 451


async def test_refused_recipient_is_permanent(
    email_sender: EmailSender, smtp_server: SmtpServer
) -> None:
    with pytest.raises(PermanentDeliveryError) as caught:
        await email_sender.send(EmailTarget(address(smtp_server.refuse_prefix)), make_notice())
    assert caught.value.status == 550
    assert not caught.value.transient


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_server_refusing_the_configuration_is_permanent(
    make_smtp_server: Callable[..., SmtpServer],
) -> None:
    server = make_smtp_server(credentials=("orin", "secret"))
    settings = mail_settings(server.port)  # no credentials: the server demands AUTH
    sender = EmailSender(SmtpSender(settings), settings)

    with pytest.raises(PermanentDeliveryError) as caught:
        await sender.send(EmailTarget(address()), make_notice())
    assert caught.value.status is not None
    assert caught.value.status >= 500


async def test_unreachable_server_is_transient() -> None:
    settings = mail_settings(free_port())
    sender = EmailSender(SmtpSender(settings), settings)

    with pytest.raises(TransientDeliveryError):
        await sender.send(EmailTarget(address()), make_notice())


async def test_unusable_address_is_permanent(email_sender: EmailSender) -> None:
    with pytest.raises(PermanentDeliveryError):
        await email_sender.send(EmailTarget("not an address\r\nBcc: x@example.test"), make_notice())
