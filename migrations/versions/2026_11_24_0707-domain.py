"""Domain: spaces, members, cameras, shares, guards, events (partitioned on PG), exports.

Also makes audit entries redactable: personal fields enter the chain through a salted digest.

Revision ID: 08af9af19eb1
Revises: a42e71897836
Create Date: 2026-11-24 07:07:29.827452+00:00
"""

import hashlib
import json
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

import orin.models.base
import orin.models.embedding_type

revision: str = "08af9af19eb1"
down_revision: str | None = "a42e71897836"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "data_export",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("object_key", sa.String(length=300), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("created_at", orin.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", orin.models.base.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_data_export_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_export")),
    )
    with op.batch_alter_table("data_export", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_export_user_id"), ["user_id"], unique=False)

    op.create_table(
        "space",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", orin.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", orin.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user.id"], name=op.f("fk_space_created_by_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_space")),
    )
    op.create_table(
        "camera",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("space_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("main_url", sa.String(length=2048), nullable=False),
        sa.Column("detect_url", sa.String(length=2048), nullable=True),
        sa.Column("credentials_sealed", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_reason", sa.String(length=300), nullable=False),
        sa.Column("status_changed_at", orin.models.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("detect", sa.JSON(), nullable=False),
        sa.Column("zones", sa.JSON(), nullable=False),
        sa.Column("privacy_masks", sa.JSON(), nullable=False),
        sa.Column("recording_mode", sa.String(length=20), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", orin.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", orin.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user.id"], name=op.f("fk_camera_created_by_user"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["space_id"], ["space.id"], name=op.f("fk_camera_space_id_space"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera")),
    )
    with op.batch_alter_table("camera", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_camera_space_id"), ["space_id"], unique=False)

    op.create_table(
        "guard",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("space_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("instruction", sa.Text(), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=True),
        sa.Column("rule_edited", sa.Boolean(), nullable=False),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("invalid_reason", sa.String(length=500), nullable=False),
        sa.Column("tuning", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", orin.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", orin.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user.id"], name=op.f("fk_guard_created_by_user"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["space_id"], ["space.id"], name=op.f("fk_guard_space_id_space"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guard")),
    )
    with op.batch_alter_table("guard", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_guard_space_id"), ["space_id"], unique=False)

    op.create_table(
        "space_invite",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("space_id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("invited_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", orin.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", orin.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invited_by"],
            ["user.id"],
            name=op.f("fk_space_invite_invited_by_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["space_id"],
            ["space.id"],
            name=op.f("fk_space_invite_space_id_space"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_space_invite")),
        sa.UniqueConstraint("space_id", "email", name=op.f("uq_space_invite_space_id_email")),
    )
    with op.batch_alter_table("space_invite", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_space_invite_email"), ["email"], unique=False)

    op.create_table(
        "space_member",
        sa.Column("space_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created_at", orin.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["space_id"],
            ["space.id"],
            name=op.f("fk_space_member_space_id_space"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_space_member_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("space_id", "user_id", name=op.f("pk_space_member")),
    )
    with op.batch_alter_table("space_member", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_space_member_user_id"), ["user_id"], unique=False)

    op.create_table(
        "camera_share",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("camera_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("expires_at", orin.models.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", orin.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["camera.id"],
            name=op.f("fk_camera_share_camera_id_camera"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user.id"],
            name=op.f("fk_camera_share_created_by_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_camera_share_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera_share")),
        sa.UniqueConstraint("camera_id", "user_id", name=op.f("uq_camera_share_camera_id_user_id")),
    )
    with op.batch_alter_table("camera_share", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_camera_share_user_id"), ["user_id"], unique=False)

    op.create_table(
        "event",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("started_at", orin.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", orin.models.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("space_id", sa.String(length=32), nullable=False),
        sa.Column("camera_id", sa.String(length=32), nullable=False),
        sa.Column("guard_id", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=50), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("zone", sa.String(length=64), nullable=True),
        sa.Column("track_id", sa.String(length=64), nullable=True),
        sa.Column("snapshot_key", sa.String(length=300), nullable=True),
        sa.Column("thumbnail_key", sa.String(length=300), nullable=True),
        sa.Column("clip_key", sa.String(length=300), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("review_state", sa.String(length=20), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("reviewed_by", sa.String(length=32), nullable=True),
        sa.Column("reviewed_at", orin.models.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("embedding", orin.models.embedding_type.Embedding(384), nullable=True),
        sa.Column("created_at", orin.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["camera.id"], name=op.f("fk_event_camera_id_camera"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["guard_id"], ["guard.id"], name=op.f("fk_event_guard_id_guard"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"],
            ["user.id"],
            name=op.f("fk_event_reviewed_by_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["space_id"], ["space.id"], name=op.f("fk_event_space_id_space"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", "started_at", name=op.f("pk_event")),
        postgresql_partition_by="RANGE (started_at)",
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index("ix_event_camera_started", ["camera_id", "started_at"], unique=False)
        batch_op.create_index("ix_event_guard_started", ["guard_id", "started_at"], unique=False)
        batch_op.create_index(
            "ix_event_space_started",
            ["space_id", "started_at", "id"],
            unique=False,
            postgresql_include=["kind", "label", "camera_id", "guard_id"],
        )
    if postgres:
        _create_event_partitions()

    op.create_table(
        "guard_camera",
        sa.Column("guard_id", sa.String(length=32), nullable=False),
        sa.Column("camera_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["camera.id"],
            name=op.f("fk_guard_camera_camera_id_camera"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["guard_id"],
            ["guard.id"],
            name=op.f("fk_guard_camera_guard_id_guard"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("guard_id", "camera_id", name=op.f("pk_guard_camera")),
    )
    with op.batch_alter_table("guard_camera", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_guard_camera_camera_id"), ["camera_id"], unique=False)

    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("personal_salt", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("personal_digest", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("redacted_at", orin.models.base.UtcDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.alter_column("personal_digest", server_default=None)
    _rechain_audit(op.get_bind())


def _create_event_partitions() -> None:
    # A default partition catches rows outside every month; the scheduler creates each month's
    # partition ahead of time (orin.events.partitions) and moves stray rows out of the default.
    op.execute("CREATE TABLE event_default PARTITION OF event DEFAULT")
    op.execute(
        "CREATE INDEX ix_event_embedding_hnsw ON event USING hnsw (embedding vector_cosine_ops)"
    )
    for offset in (0, 1):
        month = (
            op.get_bind()
            .execute(
                sa.text(
                    "SELECT date_trunc('month', now() AT TIME ZONE 'UTC') "
                    "+ make_interval(months => :offset)"
                ),
                {"offset": offset},
            )
            .scalar_one()
        )
        name = f"event_y{month.year:04d}m{month.month:02d}"
        op.execute(
            f"CREATE TABLE {name} PARTITION OF event FOR VALUES "
            f"FROM ('{month:%Y-%m-01} 00:00:00+00') "
            f"TO ('{month:%Y-%m-01} 00:00:00+00'::timestamptz + interval '1 month')"
        )


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _rechain_audit(connection: Connection) -> None:
    # Entries written before this revision hashed their personal fields directly; re-chain them
    # with the salted personal digest (the scheme of orin.audit.service, frozen here).
    rows = connection.execute(
        sa.text(
            "SELECT seq, at, actor_id, action, target_type, target_id, ip, user_agent, details "
            "FROM audit_entry ORDER BY seq"
        )
    ).mappings()
    prev_hash = "0" * 64
    for row in list(rows):
        details = row["details"]
        if isinstance(details, str):
            details = json.loads(details)
        at = row["at"]
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        salt = secrets.token_hex(16)
        personal = {
            "salt": salt,
            "actor_id": row["actor_id"],
            "target_id": row["target_id"],
            "ip": row["ip"],
            "user_agent": row["user_agent"],
            "details": details,
        }
        digest = hashlib.sha256(_canonical(personal).encode("ascii")).hexdigest()
        content = {
            "prev_hash": prev_hash,
            "at": at.isoformat(timespec="microseconds"),
            "action": row["action"],
            "target_type": row["target_type"],
            "personal_digest": digest,
        }
        entry_hash = hashlib.sha256(_canonical(content).encode("ascii")).hexdigest()
        connection.execute(
            sa.text(
                "UPDATE audit_entry SET personal_salt = :salt, personal_digest = :digest, "
                "prev_hash = :prev, hash = :hash WHERE seq = :seq"
            ),
            {
                "salt": salt,
                "digest": digest,
                "prev": prev_hash,
                "hash": entry_hash,
                "seq": row["seq"],
            },
        )
        prev_hash = entry_hash


def downgrade() -> None:
    # Audit entries keep the salted-digest hashes; `orin audit verify` of an older release
    # would report them, so downgrading past this revision is for development databases only.
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_column("redacted_at")
        batch_op.drop_column("personal_digest")
        batch_op.drop_column("personal_salt")

    with op.batch_alter_table("guard_camera", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guard_camera_camera_id"))

    op.drop_table("guard_camera")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index("ix_event_space_started")
        batch_op.drop_index("ix_event_guard_started")
        batch_op.drop_index("ix_event_camera_started")

    op.drop_table("event")  # drops its partitions too
    with op.batch_alter_table("camera_share", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_camera_share_user_id"))

    op.drop_table("camera_share")
    with op.batch_alter_table("space_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_space_member_user_id"))

    op.drop_table("space_member")
    with op.batch_alter_table("space_invite", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_space_invite_email"))

    op.drop_table("space_invite")
    with op.batch_alter_table("guard", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guard_space_id"))

    op.drop_table("guard")
    with op.batch_alter_table("camera", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_camera_space_id"))

    op.drop_table("camera")
    op.drop_table("space")
    with op.batch_alter_table("data_export", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_export_user_id"))

    op.drop_table("data_export")
