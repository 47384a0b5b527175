"""Every table of ORIN, one module each, sharing one MetaData (imported here for Alembic)."""

from orin.models.audit_entry import AuditEntry
from orin.models.auth_session import AuthSession
from orin.models.base import Base, metadata
from orin.models.camera import Camera, CameraShare, CameraStatus, RecordingMode, ShareRole
from orin.models.data_export import DataExport, ExportStatus
from orin.models.email_token import EmailToken, EmailTokenPurpose
from orin.models.event import Event, EventKind, ReviewState
from orin.models.guard import Guard, GuardCamera, GuardState
from orin.models.lease import Lease
from orin.models.mfa_recovery_code import MfaRecoveryCode
from orin.models.notification import (
    Notification,
    NotificationStatus,
    PushKind,
    PushSubscription,
)
from orin.models.oauth_identity import OAuthIdentity
from orin.models.outbox_message import OutboxMessage
from orin.models.process_heartbeat import ProcessHeartbeat
from orin.models.processed_message import ProcessedMessage
from orin.models.recording import RecordingSegment
from orin.models.refresh_token import RefreshToken
from orin.models.signing_key import SigningKey
from orin.models.space import Space, SpaceInvite, SpaceMember, SpaceRole
from orin.models.track import Track
from orin.models.user import Plan, User, UserRole

__all__ = [
    "AuditEntry",
    "AuthSession",
    "Base",
    "Camera",
    "CameraShare",
    "CameraStatus",
    "DataExport",
    "EmailToken",
    "EmailTokenPurpose",
    "Event",
    "EventKind",
    "ExportStatus",
    "Guard",
    "GuardCamera",
    "GuardState",
    "Lease",
    "MfaRecoveryCode",
    "Notification",
    "NotificationStatus",
    "OAuthIdentity",
    "OutboxMessage",
    "Plan",
    "ProcessHeartbeat",
    "ProcessedMessage",
    "PushKind",
    "PushSubscription",
    "RecordingMode",
    "RecordingSegment",
    "RefreshToken",
    "ReviewState",
    "ShareRole",
    "SigningKey",
    "Space",
    "SpaceInvite",
    "SpaceMember",
    "SpaceRole",
    "Track",
    "User",
    "UserRole",
    "metadata",
]
