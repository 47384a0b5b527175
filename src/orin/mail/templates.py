"""The mails ORIN sends, each as plain text with an HTML alternative.

Links point at the web app (``mail.app_url``, else the API's public URL): ``/verify-email`` and
``/reset-password`` with the token as a query parameter; the web app reads it and calls the
API. Everything that came from a user (display name, address) is escaped in the HTML part, and
the link is both escaped and percent-encoded, so no input can add markup to a mail.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import urlencode

from orin.config import Settings

VERIFY_PATH = "/verify-email"
INVITES_PATH = "/invites"
RESET_PATH = "/reset-password"


def app_base_url(settings: Settings) -> str:
    """Base URL of the web app that mailed links open, without a trailing slash."""
    return (settings.mail.app_url or settings.public_url).rstrip("/")


def link(settings: Settings, path: str, token: str) -> str:
    """``<app url><path>?token=<token>``, the token percent-encoded."""
    return f"{app_base_url(settings)}{path}?{urlencode({'token': token})}"


def describe_duration(seconds: int) -> str:
    """A lifetime in words: whole days when it is some, else hours or minutes rounded down
    (so the mail never promises more time than the link has): "2 days", "25 hours"."""
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size and (seconds % size == 0 or unit != "day"):
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


@dataclass(frozen=True, slots=True)
class _Content:
    subject: str
    intro: str
    action: str
    url: str
    lifetime: str
    not_you: str
    validity: str = "The link works once and expires in {lifetime}."
    """The sentence about how long the link is good for; ``{lifetime}`` is filled in."""


def _greeting(display_name: str) -> str:
    name = " ".join(display_name.split())  # no line breaks or runs of spaces from a profile
    return f"Hello {name}," if name else "Hello,"


def _text_body(content: _Content, display_name: str) -> str:
    return (
        f"{_greeting(display_name)}\n\n"
        f"{content.intro}\n\n"
        f"{content.action}:\n"
        f"{content.url}\n\n"
        f"{content.validity.format(lifetime=content.lifetime)}\n\n"
        f"{content.not_you}\n\n"
        "-- ORIN\n"
    )


def _html_body(content: _Content, display_name: str) -> str:
    e = html.escape
    url = e(content.url, quote=True)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(content.subject)}</title></head>\n"
        '<body style="font-family: sans-serif; line-height: 1.5; color: #1a1a1a;">\n'
        f"<p>{e(_greeting(display_name))}</p>\n"
        f"<p>{e(content.intro)}</p>\n"
        f'<p><a href="{url}" style="display: inline-block; padding: 10px 18px; '
        'background: #1f6feb; color: #ffffff; text-decoration: none; border-radius: 6px;">'
        f"{e(content.action)}</a></p>\n"
        f'<p>Or paste this address into your browser:<br><a href="{url}">{url}</a></p>\n'
        f"<p>{e(content.validity.format(lifetime=content.lifetime))}</p>\n"
        f'<p style="color: #555555;">{e(content.not_you)}</p>\n'
        "<p>&mdash; ORIN</p>\n"
        "</body></html>\n"
    )


def _message(settings: Settings, to: str, display_name: str, content: _Content) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail.sender
    message["To"] = to
    message["Subject"] = content.subject
    message["Date"] = formatdate(usegmt=True)
    sender_domain = parseaddr(settings.mail.sender)[1].rpartition("@")[2]
    message["Message-ID"] = make_msgid(domain=sender_domain or "orin.local")
    # RFC 3834: an automatic message, so auto-responders do not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_text_body(content, display_name))
    message.add_alternative(_html_body(content, display_name), subtype="html")
    return message


def verification_message(
    settings: Settings, *, to: str, display_name: str, token: str
) -> EmailMessage:
    """The "verify your email" mail: a link to ``/verify-email`` proving the user reads ``to``."""
    content = _Content(
        subject="Verify your email address for ORIN",
        intro=f"Please confirm that {to} is your email address for ORIN.",
        action="Verify email address",
        url=link(settings, VERIFY_PATH, token),
        lifetime=describe_duration(settings.mail.verify_token_ttl_s),
        not_you="If you did not create an ORIN account, ignore this mail; "
        "the address will not be confirmed.",
    )
    return _message(settings, to, display_name, content)


def password_reset_message(
    settings: Settings, *, to: str, display_name: str, token: str
) -> EmailMessage:
    """The "reset your password" mail: a link to ``/reset-password`` (which signs out every
    device)."""
    content = _Content(
        subject="Reset your ORIN password",
        intro="Someone (hopefully you) asked to reset the password of the ORIN account "
        f"for {to}. Choosing a new password signs out every device signed in to it.",
        action="Choose a new password",
        url=link(settings, RESET_PATH, token),
        lifetime=describe_duration(settings.mail.reset_token_ttl_s),
        not_you="If you did not ask for this, ignore this mail: your password stays as it is.",
    )
    return _message(settings, to, display_name, content)


def invitation_message(
    settings: Settings, *, to: str, inviter: str, space_name: str, role: str, lifetime_s: int
) -> EmailMessage:
    """The "you are invited to a space" mail: a link to the web app's ``/invites`` page, where
    the person signed in with ``to`` (verified) accepts or declines."""
    content = _Content(
        subject=f"{inviter} invited you to {space_name} on ORIN",
        intro=f"{inviter} invited you to the space {space_name} on ORIN as {role}. "
        f"Sign in (or create an account) with {to} to accept.",
        action="See the invitation",
        url=f"{app_base_url(settings)}{INVITES_PATH}",
        lifetime=describe_duration(lifetime_s),
        not_you="If you do not know the sender, ignore this mail; nothing happens unless you "
        "accept.",
        validity="The invitation expires in {lifetime}.",
    )
    return _message(settings, to, "", content)
