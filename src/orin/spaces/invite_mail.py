"""The worker task that mails an invitation; the job carries only the invitation's id."""

from __future__ import annotations

import structlog

from orin.bus.base import Message
from orin.mail.sender import RecipientRefused, create_mail_sender
from orin.mail.templates import invitation_message
from orin.models.base import utcnow
from orin.models.space import Space, SpaceInvite
from orin.models.user import User
from orin.runtime.tasks import TaskContext, tasks

logger = structlog.get_logger(__name__)

INVITE_MAIL_TOPIC = "spaces.invite_mail"


@tasks.task(INVITE_MAIL_TOPIC)
async def send_invitation(ctx: TaskContext, message: Message) -> None:
    """Mail the invitation ``payload["invite_id"]`` if it is still pending."""
    invite_id = str(message.payload.get("invite_id", ""))
    log = logger.bind(invite_id=invite_id, message_id=message.id)
    row = await ctx.session.get(SpaceInvite, invite_id) if invite_id else None
    if row is None or row.expires_at <= utcnow():
        log.info("mail.invite_skipped", reason="gone")
        return
    space = await ctx.session.get(Space, row.space_id)
    inviter = await ctx.session.get(User, row.invited_by) if row.invited_by else None
    if space is None:
        return
    inviter_name = (inviter.display_name or inviter.email) if inviter else "Someone"
    lifetime_s = int((row.expires_at - row.created_at).total_seconds())
    mail = invitation_message(
        ctx.infra.settings,
        to=row.email,
        inviter=inviter_name,
        space_name=space.name,
        role=row.role,
        lifetime_s=lifetime_s,
    )
    try:
        await create_mail_sender(ctx.infra.settings).send(mail)
    except RecipientRefused as exc:
        log.error("mail.recipient_refused", code=exc.code, error=exc.message)
        return
    log.info("mail.invite_sent", space_id=space.id)
