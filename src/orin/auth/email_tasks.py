"""The worker task that mails a verification or reset link.

The job carries only the token row's id. The handler re-reads the row, opens the sealed token
and sends the mail inside the task's transaction: if sending fails with a `MailUnavailable`
(server down, 4xx) the transaction rolls back and the bus retries with backoff. A token that
was used, expired or superseded meanwhile is not mailed; nor is one whose address the server
refused for good, since no retry would change that and the user can ask for a new link.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol

import structlog

from orin.auth.email_flows import MAIL_TOPIC, SEAL_PURPOSE
from orin.bus.base import Message
from orin.config import Settings
from orin.kit.crypto import SealError
from orin.mail.sender import RecipientRefused, create_mail_sender
from orin.mail.templates import password_reset_message, verification_message
from orin.models.base import utcnow
from orin.models.email_token import EmailToken, EmailTokenPurpose
from orin.models.user import User
from orin.runtime.tasks import TaskContext, tasks

logger = structlog.get_logger(__name__)


class _MessageBuilder(Protocol):
    def __call__(
        self, settings: Settings, *, to: str, display_name: str, token: str
    ) -> EmailMessage: ...


_MESSAGES: dict[str, _MessageBuilder] = {
    EmailTokenPurpose.VERIFY_EMAIL: verification_message,
    EmailTokenPurpose.RESET_PASSWORD: password_reset_message,
}
"""The mail built for each token purpose."""


@tasks.task(MAIL_TOPIC)
async def send_email_token(ctx: TaskContext, message: Message) -> None:
    """Mail the link of the email token named by ``payload["email_token_id"]``."""
    token_id = str(message.payload.get("email_token_id", ""))
    log = logger.bind(email_token_id=token_id, message_id=message.id)
    row = await ctx.session.get(EmailToken, token_id) if token_id else None
    if row is None:
        log.warning("mail.email_token_missing")
        return
    if row.used_at is not None:
        log.info("mail.email_token_skipped", reason="used")
        return
    if row.expires_at <= utcnow():
        log.info("mail.email_token_skipped", reason="expired")
        return
    user = await ctx.session.get(User, row.user_id)
    if user is None or user.email != row.email:
        log.info("mail.email_token_skipped", reason="address_changed")
        return
    try:
        token = ctx.infra.sealer.open(row.sealed_token, purpose=SEAL_PURPOSE).decode()
    except SealError as exc:
        # Sealed under another secret key: no retry can open it; the user asks for a new link.
        log.error("mail.email_token_unreadable", error=str(exc))
        return
    settings = ctx.infra.settings
    build = _MESSAGES.get(row.purpose)
    if build is None:  # a purpose added to the model but not here
        log.error("mail.email_token_skipped", reason="unknown_purpose", purpose=str(row.purpose))
        return
    mail = build(settings, to=row.email, display_name=user.display_name, token=token)
    try:
        # One sender per message is cheap: SMTP opens a connection per message anyway.
        await create_mail_sender(settings).send(mail)
    except RecipientRefused as exc:
        log.error("mail.recipient_refused", user_id=user.id, code=exc.code, error=exc.message)
        return
    log.info("mail.email_token_sent", user_id=user.id, purpose=str(row.purpose))
