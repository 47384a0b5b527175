"""Recordings: stored video segments of each camera, indexed by time; the live ladder switch.

Revision ID: 74e58ef2d6f3
Revises: 08af9af19eb1
Create Date: 2026-11-24 08:11:11.160961+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orin.models.base

revision: str = "74e58ef2d6f3"
down_revision: str | None = "08af9af19eb1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recording_segment",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("camera_id", sa.String(length=32), nullable=False),
        sa.Column("started_at", orin.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", orin.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column(
            "size_bytes", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("object_key", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["camera.id"],
            name=op.f("fk_recording_segment_camera_id_camera"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_segment")),
        sa.UniqueConstraint("object_key", name=op.f("uq_recording_segment_object_key")),
    )
    with op.batch_alter_table("recording_segment", schema=None) as batch_op:
        batch_op.create_index(
            "ix_recording_segment_camera_started", ["camera_id", "started_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_recording_segment_ended_at"), ["ended_at"], unique=False
        )

    with op.batch_alter_table("camera", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("live_ladder", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("camera", schema=None) as batch_op:
        batch_op.alter_column("live_ladder", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("camera", schema=None) as batch_op:
        batch_op.drop_column("live_ladder")
    with op.batch_alter_table("recording_segment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recording_segment_ended_at"))
        batch_op.drop_index("ix_recording_segment_camera_started")

    op.drop_table("recording_segment")
