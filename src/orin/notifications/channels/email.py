"""Email notifications, sent through the mail port (`orin.mail.sender.MailSender`).

Each notice becomes one multipart mail: a plain-text part and an HTML alternative with a
"View catch" button to ``notice.link`` and, for a digest, one row per catch (camera, guard,
label, confidence, time). Times are shown in the zone named by ``notice.extra["timezone"]``
(an IANA name such as ``Europe/Berlin``), in UTC when it is absent or unknown.

When the notice carries the snapshot (``notice.snapshot``) it is attached inline as
``image/jpeg`` and the HTML shows it through ``cid:``; otherwise the HTML points an ``<img>`` at
the first catch's signed snapshot URL, when there is one. Everything that came from users
(camera, guard and space names, titles) is escaped in the HTML part.

The ``Message-ID`` is derived from ``notice.key``, so a retried delivery carries the same id
and mail servers and clients can recognise the duplicate; ``X-ORIN-Notification`` carries the
key itself. Mail errors map onto delivery errors: `MailUnavailable` (server down, 4xx) is
transient, `RecipientRefused` and `MailRejected` (5xx, configuration) are permanent.
"""

from __future__ import annotations

import hashlib
import html
import re
from datetime import UTC, datetime, tzinfo
from email.errors import HeaderDefect, MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog

from orin.config import MailSettings
from orin.mail.sender import MailError, MailSender, MailUnavailable, RecipientRefused
from orin.notifications.notice import (
    CatchSummary,
    EmailTarget,
    Notice,
    PermanentDeliveryError,
    TransientDeliveryError,
)

logger = structlog.get_logger(__name__)

NOTIFICATION_HEADER = "X-ORIN-Notification"
"""Header carrying the notice's idempotency key."""

_SAFE_KEY = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_SNAPSHOT_FILENAME = "catch.jpg"


def _mail_domain(sender: str) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2]
    return domain or "orin.local"


def _key_token(key: str) -> str:
    """The key itself when it is a plain token, else a digest of it (always id-safe)."""
    if _SAFE_KEY.match(key):
        return key
    return hashlib.sha256(key.encode()).hexdigest()[:40]


def message_id_for(key: str, sender: str) -> str:
    """The ``Message-ID`` (with angle brackets) of the mail for notice ``key``."""
    return f"<notification.{_key_token(key)}@{_mail_domain(sender)}>"


def _zone(notice: Notice) -> tzinfo:
    name = notice.extra.get("timezone", "").strip()
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("notifications.email.unknown_timezone", timezone=name, key=notice.key)
        return UTC


def format_time(moment: datetime, zone: tzinfo) -> str:
    """``2024-05-01 14:34:56 CEST``: the moment in ``zone`` (naive moments are UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or local.strftime('%z')}"


def format_confidence(confidence: float) -> str:
    """A detector confidence (0..1) as a whole percentage: ``87%``."""
    return f"{round(max(0.0, min(confidence, 1.0)) * 100)}%"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _catch_line(catch: CatchSummary, zone: tzinfo) -> str:
    return (
        f"- {format_time(catch.occurred_at, zone)}: {catch.label} "
        f"({format_confidence(catch.confidence)}) on {catch.camera_name}, "
        f"guard {catch.guard_name}, space {catch.space_name}\n"
        f"  {catch.link}"
    )


def _action(notice: Notice) -> str:
    return "View catches" if notice.kind == "digest" else "View catch"


def render_text(notice: Notice, zone: tzinfo) -> str:
    """The plain-text part."""
    lines = [notice.title, ""]
    if notice.body:
        lines += [notice.body, ""]
    lines += [f"{_action(notice)}: {notice.link}", ""]
    if notice.catches:
        lines.append("Catches:" if len(notice.catches) > 1 else "Catch:")
        lines += [_catch_line(catch, zone) for catch in notice.catches]
        lines.append("")
    lines.append("-- ORIN")
    return "\n".join(lines) + "\n"


def _catch_row(catch: CatchSummary, zone: tzinfo) -> str:
    e = html.escape
    cell = 'style="padding: 4px 8px; border-bottom: 1px solid #dddddd;"'
    return (
        "<tr>"
        f"<td {cell}>{e(format_time(catch.occurred_at, zone))}</td>"
        f"<td {cell}>{e(catch.camera_name)}</td>"
        f"<td {cell}>{e(catch.guard_name)}</td>"
        f"<td {cell}>{e(catch.label)}</td>"
        f"<td {cell}>{e(format_confidence(catch.confidence))}</td>"
        f'<td {cell}><a href="{e(catch.link, quote=True)}">Open</a></td>'
        "</tr>\n"
    )


def render_html(notice: Notice, zone: tzinfo, *, image_src: str | None) -> str:
    """The HTML part; ``image_src`` is a ``cid:`` reference or the snapshot URL."""
    e = html.escape
    link = e(notice.link, quote=True)
    parts = [
        "<!DOCTYPE html>\n",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(notice.title)}</title></head>\n",
        '<body style="font-family: sans-serif; line-height: 1.5; color: #1a1a1a;">\n',
        f"<h2>{e(notice.title)}</h2>\n",
    ]
    if notice.body:
        parts.append(f"<p>{e(notice.body)}</p>\n")
    if image_src is not None:
        parts.append(
            f'<p><a href="{link}"><img src="{e(image_src, quote=True)}" alt="Snapshot of the '
            'catch" style="max-width: 100%; height: auto; border-radius: 6px;"></a></p>\n'
        )
    parts.append(
        f'<p><a href="{link}" style="display: inline-block; padding: 10px 18px; '
        'background: #1f6feb; color: #ffffff; text-decoration: none; border-radius: 6px;">'
        f"{e(_action(notice))}</a></p>\n"
    )
    if notice.catches:
        head = 'style="text-align: left; padding: 4px 8px; border-bottom: 2px solid #999999;"'
        parts.append('<table style="border-collapse: collapse;">\n<thead><tr>')
        parts += [f"<th {head}>{name}</th>" for name in ("Time", "Camera", "Guard", "Label")]
        parts.append(f"<th {head}>Confidence</th><th {head}></th></tr></thead>\n<tbody>\n")
        parts += [_catch_row(catch, zone) for catch in notice.catches]
        parts.append("</tbody></table>\n")
    parts.append(
        f'<p style="color: #555555;">Or paste this address into your browser:<br>'
        f'<a href="{link}">{link}</a></p>\n'
        "<p>&mdash; ORIN</p>\n</body></html>\n"
    )
    return "".join(parts)


class EmailSender:
    """Sends notices as multipart mails through a `MailSender` (SMTP or the mail folder).

    ``settings.sender`` is the From: address and gives the domain of the Message-ID and of
    the snapshot's Content-ID.
    """

    channel = "email"

    def __init__(self, mail: MailSender, settings: MailSettings) -> None:
        self.mail = mail
        self.sender = settings.sender

    def build(self, target: EmailTarget, notice: Notice) -> EmailMessage:
        """The mail for ``notice`` to ``target`` (From, To, Subject and ids set)."""
        zone = _zone(notice)
        domain = _mail_domain(self.sender)
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = (
            Address(display_name=_one_line(target.name), addr_spec=target.address)
            if target.name
            else target.address
        )
        message["Subject"] = _one_line(notice.title) or "ORIN notification"
        message["Date"] = format_datetime(datetime.now(UTC), usegmt=True)
        message["Message-ID"] = message_id_for(notice.key, self.sender)
        message[NOTIFICATION_HEADER] = _one_line(notice.key)
        # RFC 3834: an automatic message, so auto-responders do not answer it.
        message["Auto-Submitted"] = "auto-generated"

        cid: str | None = None
        image_src: str | None = None
        if notice.snapshot:
            cid = f"<snapshot.{_key_token(notice.key)}@{domain}>"
            image_src = f"cid:{cid[1:-1]}"
        elif notice.catches and notice.catches[0].snapshot_url:
            image_src = notice.catches[0].snapshot_url

        message.set_content(render_text(notice, zone))
        message.add_alternative(render_html(notice, zone, image_src=image_src), subtype="html")
        if notice.snapshot and cid is not None:
            html_part = next(
                part for part in message.iter_parts() if part.get_content_type() == "text/html"
            )
            # Turns the HTML part into multipart/related: the image travels with the page.
            html_part.add_related(
                notice.snapshot,
                maintype="image",
                subtype="jpeg",
                cid=cid,
                disposition="inline",
                filename=_SNAPSHOT_FILENAME,
            )
        return message

    async def send(self, target: EmailTarget, notice: Notice) -> str | None:
        """Mail ``notice`` to ``target``; returns the Message-ID."""
        try:
            message = self.build(target, notice)
        except (ValueError, IndexError, MessageError, HeaderDefect) as exc:
            # An address or key that cannot be written into a header: retrying will not help.
            raise PermanentDeliveryError(f"cannot build the mail: {exc}") from exc
        try:
            await self.mail.send(message)
        except MailUnavailable as exc:
            raise TransientDeliveryError(exc.message, status=exc.code) from exc
        except RecipientRefused as exc:
            raise PermanentDeliveryError(exc.message, status=exc.code) from exc
        except MailError as exc:  # MailRejected: sender, credentials, TLS, content
            raise PermanentDeliveryError(exc.message, status=exc.code) from exc
        except ValueError as exc:  # the adapter found no recipient
            raise PermanentDeliveryError(str(exc)) from exc
        message_id = str(message["Message-ID"])
        logger.info(
            "notifications.email.sent",
            key=notice.key,
            kind=notice.kind,
            adapter=self.mail.name,
            message_id=message_id,
        )
        return message_id


__all__ = ["NOTIFICATION_HEADER", "EmailSender", "format_time", "message_id_for"]
