"""The mail port: one `MailSender` interface, an SMTP adapter and a folder adapter.

Scaled deployments name an SMTP server (``ORIN_MAIL_SMTP_HOST``) and mail goes out through it
with aiosmtplib, one connection per message. Without one (the embedded default) each message is
written to ``<data_dir>/mail`` as an ``.eml`` file and the recipient and subject are logged, so
a single-box install still lets its first user verify an address: the operator opens the file.

Failures are `MailError`s. Those worth retrying (the server is down, slow, or answered 4xx)
are `MailUnavailable`, and the caller lets them propagate so the bus retries the job with
backoff. A 5xx answer, or a server lacking what the settings ask for (STARTTLS, AUTH), is
`MailRejected`: a configuration problem that surfaces in the dead-letter queue after the
retries. `RecipientRefused` (a 5xx for the address itself) is the one failure no retry or
configuration change can fix, and the mail task drops that message with an error log.
"""

from __future__ import annotations

import abc
import asyncio
import os
import secrets
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path

import aiosmtplib
import structlog

from orin.config import MailSettings, Settings

logger = structlog.get_logger(__name__)

MAIL_FOLDER = "mail"
"""Folder under ``data_dir`` the folder adapter writes to."""


class MailError(Exception):
    """A message could not be handed to the mail server."""

    transient: bool = False
    """True when sending the same message again later may succeed."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        """The SMTP reply code, when the server answered one."""


class MailUnavailable(MailError):
    """The server could not be reached, timed out, or answered 4xx: retry later."""

    transient = True


class MailRejected(MailError):
    """The server refused with a 5xx answer (sender, authentication, content or TLS)."""


class RecipientRefused(MailRejected):
    """The server refused the recipient address for good: resending will not help."""


def recipients_of(message: EmailMessage) -> list[str]:
    """The addresses in the message's To, Cc and Bcc headers."""
    fields = [str(value) for name in ("To", "Cc", "Bcc") for value in message.get_all(name, [])]
    return [address for _, address in getaddresses(fields) if address]


class MailSender(abc.ABC):
    """Hands finished messages to whatever delivers them."""

    name: str
    """Short adapter name for logs and readiness reports (``smtp``, ``folder``)."""

    @abc.abstractmethod
    async def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` (From, To and Subject set) or raise `MailError`."""


class SmtpSender(MailSender):
    """Sends each message over its own SMTP connection with aiosmtplib.

    ``smtp_security`` picks implicit TLS (``tls``, port 465), STARTTLS after connecting
    (``starttls``, port 587; a server that does not offer it is an error, never a silent
    fallback to plain text) or neither (``none``, for a relay on the same host). Credentials
    are sent only when ``smtp_username`` is set. Certificates are always verified.
    """

    name = "smtp"

    def __init__(self, settings: MailSettings) -> None:
        if not settings.smtp_host:
            raise ValueError("SmtpSender needs mail.smtp_host")
        self.settings = settings
        self.host = settings.smtp_host

    async def send(self, message: EmailMessage) -> None:
        settings = self.settings
        recipients = recipients_of(message)
        if not recipients:
            raise ValueError("the message has no recipient (To, Cc or Bcc)")
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=settings.smtp_port,
                username=settings.smtp_username or None,
                password=settings.smtp_password.get_secret_value()
                if settings.smtp_username
                else None,
                use_tls=settings.smtp_security == "tls",
                start_tls=settings.smtp_security == "starttls",
                timeout=settings.smtp_timeout_s,
            )
        except aiosmtplib.SMTPException as exc:
            raise self._translate(exc) from exc
        except (OSError, TimeoutError) as exc:  # refused, unreachable, TLS handshake failure
            raise MailUnavailable(
                f"cannot reach the mail server {self._where()}: {type(exc).__name__}: {exc}"
            ) from exc
        logger.info(
            "mail.sent",
            adapter=self.name,
            server=self._where(),
            recipients=len(recipients),
            subject=str(message.get("Subject", "")),
        )

    def _where(self) -> str:
        return f"{self.host}:{self.settings.smtp_port}"

    def _translate(self, exc: aiosmtplib.SMTPException) -> MailError:
        where = self._where()
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
            # One refusal per recipient; worth a retry only if every one was temporary.
            codes = [refusal.code for refusal in exc.recipients]
            detail = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            if codes and all(400 <= code < 500 for code in codes):
                return MailUnavailable(f"{where} deferred the recipient: {detail}", code=codes[0])
            return RecipientRefused(
                f"{where} refused the recipient: {detail}", code=codes[0] if codes else None
            )
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            text = f"{where} answered {exc.code} {exc.message}"
            if 400 <= exc.code < 500:
                return MailUnavailable(text, code=exc.code)
            if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
                return RecipientRefused(text, code=exc.code)
            if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
                return MailRejected(
                    f"{where} refused the credentials of mail.smtp_username: {exc.code} "
                    f"{exc.message}",
                    code=exc.code,
                )
            if exc.code >= 500:
                return MailRejected(text, code=exc.code)
            # Not a reply code at all (the connection broke mid-answer): try again later.
            return MailUnavailable(text, code=exc.code)
        if isinstance(
            exc,
            aiosmtplib.SMTPServerDisconnected
            | aiosmtplib.SMTPConnectError
            | aiosmtplib.SMTPTimeoutError,
        ):
            return MailUnavailable(f"cannot talk to the mail server {where}: {exc.message}")
        # What is left is the server lacking something the settings ask for (STARTTLS, AUTH,
        # SMTPUTF8): a configuration problem that waiting will not fix.
        return MailRejected(
            f"{where} cannot send as configured (mail.smtp_security="
            f"{self.settings.smtp_security}, authentication "
            f"{'on' if self.settings.smtp_username else 'off'}): {exc.message}"
        )


class FolderSender(MailSender):
    """Writes each message to ``folder`` as ``<UTC timestamp>-<random id>.eml``.

    The file appears complete or not at all (written beside it, then renamed), so a watcher
    never reads half a message. Only the recipient, the subject and the file name are logged:
    the body holds single-use links that must not end up in a log store.
    """

    name = "folder"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, message: EmailMessage) -> None:
        recipients = recipients_of(message)
        if not recipients:
            raise ValueError("the message has no recipient (To, Cc or Bcc)")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{stamp}-{secrets.token_hex(6)}.eml"
        try:
            path = await asyncio.to_thread(self._write, name, message.as_bytes())
        except OSError as exc:
            raise MailUnavailable(f"cannot write mail to {self.folder}: {exc}") from exc
        logger.info(
            "mail.written",
            adapter=self.name,
            to=recipients,
            subject=str(message.get("Subject", "")),
            path=str(path),
        )

    def _write(self, name: str, data: bytes) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / name
        partial = self.folder / f".{name}.partial"
        try:
            with partial.open("wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, final)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return final


def mail_folder(settings: Settings) -> Path:
    """Where the folder adapter writes: ``<data_dir>/mail``."""
    return settings.data_dir / MAIL_FOLDER


def create_mail_sender(settings: Settings) -> MailSender:
    """SMTP when ``mail.smtp_host`` is set, the mail folder otherwise."""
    if settings.mail.smtp_host:
        return SmtpSender(settings.mail)
    return FolderSender(mail_folder(settings))


__all__ = [
    "FolderSender",
    "MailError",
    "MailRejected",
    "MailSender",
    "MailUnavailable",
    "RecipientRefused",
    "SmtpSender",
    "create_mail_sender",
    "mail_folder",
    "recipients_of",
]
