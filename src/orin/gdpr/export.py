"""Building a user's export archive in the background: JSON of everything about them + media.

The archive (zip) holds ``export.json`` and ``media/<object key>`` for the snapshots,
thumbnails and clips of events in the spaces the user owns. Secrets are never exported:
password hash, TOTP seed and camera credentials stay out (camera URLs appear masked).
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from orin.bus.base import Message
from orin.cameras.credentials import masked_url
from orin.kit.envelope import Envelope
from orin.media.keys import export_prefix
from orin.models.audit_entry import AuditEntry
from orin.models.auth_session import AuthSession
from orin.models.base import Base, utcnow
from orin.models.camera import Camera, CameraShare
from orin.models.data_export import DataExport, ExportStatus
from orin.models.event import Event
from orin.models.guard import Guard
from orin.models.oauth_identity import OAuthIdentity
from orin.models.space import Space, SpaceMember, SpaceRole
from orin.models.user import User
from orin.runtime.tasks import TaskContext, tasks
from orin.storage.base import ObjectStorage

logger = structlog.get_logger(__name__)

EXPORT_TOPIC = "gdpr.export"
FORMAT_VERSION = 1
_SKIPPED_COLUMNS = frozenset(
    {"password_hash", "totp_secret_sealed", "credentials_sealed", "embedding", "search_text"}
)


def _row(obj: Base, *, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A row's columns as JSON-ready values, without secrets."""
    out: dict[str, Any] = {}
    for column in obj.__table__.columns:
        if column.key in _SKIPPED_COLUMNS or column.key in skip:
            continue
        value = getattr(obj, column.key)
        out[column.key] = value.isoformat() if isinstance(value, datetime) else value
    return out


async def collect(session: AsyncSession, envelope: Envelope, user: User) -> dict[str, Any]:
    """Everything ORIN holds about ``user``, as one JSON document."""
    memberships = list(
        await session.execute(
            select(SpaceMember, Space)
            .join(Space, Space.id == SpaceMember.space_id)
            .where(SpaceMember.user_id == user.id)
        )
    )
    owned = [space.id for member, space in memberships if member.role == SpaceRole.OWNER]
    cameras = list(await session.scalars(select(Camera).where(Camera.space_id.in_(owned))))
    shares = list(await session.scalars(select(CameraShare).where(CameraShare.user_id == user.id)))
    events = list(
        await session.scalars(
            select(Event)
            .where(or_(Event.space_id.in_(owned), Event.reviewed_by == user.id))
            .order_by(Event.started_at)
        )
    )
    return {
        "format": FORMAT_VERSION,
        "exported_at": utcnow().isoformat(),
        "user": _row(user, skip=frozenset({"failed_logins", "locked_until"}))
        | {"mfa_enabled": user.mfa_enabled_at is not None},
        "sessions": [
            _row(row)
            for row in await session.scalars(
                select(AuthSession).where(AuthSession.user_id == user.id)
            )
        ],
        "sign_in_providers": [
            _row(row)
            for row in await session.scalars(
                select(OAuthIdentity).where(OAuthIdentity.user_id == user.id)
            )
        ],
        "spaces": [_row(space) | {"role": member.role} for member, space in memberships],
        "cameras": [
            _row(camera)
            | {
                "main_url": masked_url(envelope, camera, "main"),
                "detect_url": masked_url(envelope, camera, "detect"),
            }
            for camera in cameras
        ],
        "camera_shares_with_me": [_row(share) for share in shares],
        "guards": [
            _row(guard)
            for guard in await session.scalars(select(Guard).where(Guard.space_id.in_(owned)))
        ],
        "events": [_row(event) for event in events],
        "audit": [
            _row(entry, skip=frozenset({"personal_salt"}))
            for entry in await session.scalars(
                select(AuditEntry).where(AuditEntry.actor_id == user.id).order_by(AuditEntry.seq)
            )
        ],
    }


def media_keys(document: dict[str, Any]) -> list[str]:
    keys = []
    for event in document["events"]:
        for field in ("snapshot_key", "thumbnail_key", "clip_key"):
            if event.get(field):
                keys.append(str(event[field]))
    return keys


async def build_archive(document: dict[str, Any], storage: ObjectStorage) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export.json", json.dumps(document, indent=2, default=str))
        for key in media_keys(document):
            if await storage.head(key) is None:
                continue
            archive.writestr(f"media/{key}", await storage.get(key))
    return buffer.getvalue()


@tasks.task(EXPORT_TOPIC)
async def build_export(ctx: TaskContext, message: Message) -> None:
    """Build the export ``payload["export_id"]`` and upload it; a redelivery of a finished
    export does nothing."""
    export = await ctx.session.get(DataExport, str(message.payload.get("export_id", "")))
    if export is None or export.status != ExportStatus.PENDING:
        return
    user = await ctx.session.get(User, export.user_id)
    if user is None:
        return
    document = await collect(ctx.session, ctx.infra.envelope, user)
    archive = await build_archive(document, ctx.infra.storage)
    key = f"{export_prefix(user.id)}{export.id}.zip"
    await ctx.infra.storage.put(key, archive, content_type="application/zip")
    export.object_key = key
    export.size_bytes = len(archive)
    export.status = ExportStatus.READY
    export.finished_at = utcnow()
    logger.info("gdpr.export_ready", export_id=export.id, bytes=len(archive))
