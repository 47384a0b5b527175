"""Events: index on (kind, started_at) for the admin analytics' catches per minute and day.

Revision ID: 5d0c7e2a9b14
Revises: 211aaeb0409c
Create Date: 2026-11-24 20:10:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5d0c7e2a9b14"
down_revision: str | None = "211aaeb0409c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # On PostgreSQL the event table is partitioned by month: the index is made on every
    # partition, and on the ones made later.
    op.create_index("ix_event_kind_started", "event", ["kind", "started_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_event_kind_started", table_name="event")
