"""The worker task that mails an invitation; the job carries only the invitation's id."""

from __future__ import annotations

from email.message import EmailMessage

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from orin.bus.base import Message
from orin.mail.sender import RecipientRefused, create_mail_sender
from orin.mail.templates import invitation_message
from orin.models.base import utcnow
from orin.models.space import Space, SpaceInvite
from orin.models.user import User
from orin.runtime.tasks import OwnTransactionsContext, read_then_act, tasks

logger = structlog.get_logger(__name__)

INVITE_MAIL_TOPIC = "spaces.invite_mail"


@tasks.own_transactions(INVITE_MAIL_TOPIC)
async def send_invitation(ctx: OwnTransactionsContext, message: Message) -> None:
    """Mail the invitation ``payload["invite_id"]`` if it is still pending; the mail server is
    waited for with no transaction open (`orin.runtime.tasks.read_then_act`)."""
    invite_id = str(message.payload.get("invite_id", ""))
    log = logger.bind(invite_id=invite_id, message_id=message.id)
    settings = ctx.infra.settings

    async def read(session: AsyncSession) -> EmailMessage | None:
        row = await session.get(SpaceInvite, invite_id) if invite_id else None
        if row is None or row.expires_at <= utcnow():
            log.info("mail.invite_skipped", reason="gone")
            return None
        space = await session.get(Space, row.space_id)
        inviter = await session.get(User, row.invited_by) if row.invited_by else None
        if space is None:
            return None
        inviter_name = (inviter.display_name or inviter.email) if inviter else "Someone"
        lifetime_s = int((row.expires_at - row.created_at).total_seconds())
        log.info("mail.invite_built", space_id=space.id)
        return invitation_message(
            settings,
            to=row.email,
            inviter=inviter_name,
            space_name=space.name,
            role=row.role,
            lifetime_s=lifetime_s,
        )

    async def send(mail: EmailMessage) -> None:
        try:
            await create_mail_sender(settings).send(mail)
        except RecipientRefused as exc:
            log.error("mail.recipient_refused", code=exc.code, error=exc.message)
            return
        log.info("mail.invite_sent")

    await read_then_act(ctx, message, read, send)
