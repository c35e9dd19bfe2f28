"""queue call-backs: kept places of callers who asked to be called back (fair virtual hold)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "queue_callbacks",
        sa.Column("task_id", sa.String(length=64), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=128), nullable=False),
        sa.Column("shown", sa.String(length=128), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("node", sa.String(length=128), nullable=False),
        sa.Column("last_cause", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('waiting', 'calling', 'done', 'given_up')",
                           name=op.f("ck_queue_callbacks_status")),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_queue_callbacks")),
    )


def downgrade() -> None:
    op.drop_table("queue_callbacks")
