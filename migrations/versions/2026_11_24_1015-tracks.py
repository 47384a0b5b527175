"""Tracks: objects the vision pipeline followed, kept for guard backtests.

Revision ID: 647e8341c68f
Revises: 74e58ef2d6f3
Create Date: 2026-11-24 10:15:22.575314+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orin.models.base

revision: str = "647e8341c68f"
down_revision: str | None = "74e58ef2d6f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "track",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("camera_id", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=50), nullable=False),
        sa.Column("first_seen", orin.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", orin.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("stationary_since", orin.models.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("path", sa.JSON(), nullable=False),
        sa.Column("ended", sa.Boolean(), nullable=False),
        sa.Column("updated_at", orin.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["camera.id"], name=op.f("fk_track_camera_id_camera"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_track")),
    )
    with op.batch_alter_table("track", schema=None) as batch_op:
        batch_op.create_index("ix_track_camera_last_seen", ["camera_id", "last_seen"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("track", schema=None) as batch_op:
        batch_op.drop_index("ix_track_camera_last_seen")

    op.drop_table("track")
