"""Every table of ORIN, one module each, sharing one MetaData (imported here for Alembic)."""

from orin.models.audit_entry import AuditEntry
from orin.models.auth_session import AuthSession
from orin.models.base import Base, metadata
from orin.models.email_token import EmailToken, EmailTokenPurpose
from orin.models.lease import Lease
from orin.models.mfa_recovery_code import MfaRecoveryCode
from orin.models.oauth_identity import OAuthIdentity
from orin.models.outbox_message import OutboxMessage
from orin.models.process_heartbeat import ProcessHeartbeat
from orin.models.processed_message import ProcessedMessage
from orin.models.refresh_token import RefreshToken
from orin.models.signing_key import SigningKey
from orin.models.user import Plan, User, UserRole

__all__ = [
    "AuditEntry",
    "AuthSession",
    "Base",
    "EmailToken",
    "EmailTokenPurpose",
    "Lease",
    "MfaRecoveryCode",
    "OAuthIdentity",
    "OutboxMessage",
    "Plan",
    "ProcessHeartbeat",
    "ProcessedMessage",
    "RefreshToken",
    "SigningKey",
    "User",
    "UserRole",
    "metadata",
]
