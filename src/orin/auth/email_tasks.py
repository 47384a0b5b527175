"""The worker task that mails a verification or reset link.

The job carries only the token row's id. The handler re-reads the row and opens the sealed token
in a read-only transaction, then sends the mail with no transaction open (a slow SMTP server
holds no lock), then records the message as processed: if sending fails with a
`MailUnavailable` (server down, 4xx) nothing is recorded and the bus retries with backoff. A
token that was used, expired or superseded meanwhile is not mailed; nor is one whose address
the server refused for good, since no retry would change that and the user can ask for a new
link.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.stdlib import BoundLogger

from orin.auth.email_flows import MAIL_TOPIC, SEAL_PURPOSE
from orin.bus.base import Message
from orin.config import Settings
from orin.kit.crypto import SealError
from orin.mail.sender import RecipientRefused, create_mail_sender
from orin.mail.templates import password_reset_message, verification_message
from orin.models.base import utcnow
from orin.models.email_token import EmailToken, EmailTokenPurpose
from orin.models.user import User
from orin.runtime.infrastructure import Infrastructure
from orin.runtime.tasks import OwnTransactionsContext, read_then_act, tasks

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


@tasks.own_transactions(MAIL_TOPIC)
async def send_email_token(ctx: OwnTransactionsContext, message: Message) -> None:
    """Mail the link of the email token named by ``payload["email_token_id"]``."""
    token_id = str(message.payload.get("email_token_id", ""))
    log = logger.bind(email_token_id=token_id, message_id=message.id)

    async def read(session: AsyncSession) -> EmailMessage | None:
        return await _token_mail(session, ctx.infra, token_id, log)

    async def send(mail: EmailMessage) -> None:
        try:
            # One sender per message is cheap: SMTP opens a connection per message anyway.
            await create_mail_sender(ctx.infra.settings).send(mail)
        except RecipientRefused as exc:
            log.error("mail.recipient_refused", code=exc.code, error=exc.message)
            return
        log.info("mail.email_token_sent")

    await read_then_act(ctx, message, read, send)


async def _token_mail(
    session: AsyncSession, infra: Infrastructure, token_id: str, log: BoundLogger
) -> EmailMessage | None:
    """The mail for the token row, or None when it is not to be sent (logged why)."""
    row = await session.get(EmailToken, token_id) if token_id else None
    if row is None:
        log.warning("mail.email_token_missing")
        return None
    if row.used_at is not None:
        log.info("mail.email_token_skipped", reason="used")
        return None
    if row.expires_at <= utcnow():
        log.info("mail.email_token_skipped", reason="expired")
        return None
    user = await session.get(User, row.user_id)
    if user is None or user.email != row.email:
        log.info("mail.email_token_skipped", reason="address_changed")
        return None
    try:
        token = infra.sealer.open(row.sealed_token, purpose=SEAL_PURPOSE).decode()
    except SealError as exc:
        # Sealed under another secret key: no retry can open it; the user asks for a new link.
        log.error("mail.email_token_unreadable", error=str(exc))
        return None
    build = _MESSAGES.get(row.purpose)
    if build is None:  # a purpose added to the model but not here
        log.error("mail.email_token_skipped", reason="unknown_purpose", purpose=str(row.purpose))
        return None
    log.info("mail.email_token_built", user_id=user.id, purpose=str(row.purpose))
    return build(infra.settings, to=row.email, display_name=user.display_name, token=token)
