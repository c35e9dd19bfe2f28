"""scheduled callbacks: an appointment to call a lead at a time, for anyone or one agent

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

Model in dialer/store.py (Callback). At most one pending callback per lead (partial unique
index); the lead's next_attempt_at carries the time to the dialer's claim.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "callbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_attempt_id", sa.Integer(), nullable=True),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('pending', 'done', 'cancelled', 'missed')", name=op.f("ck_callbacks_state")
        ),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"],
                                name=op.f("fk_callbacks_campaign_id_campaigns"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"],
                                name=op.f("fk_callbacks_lead_id_leads"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["source_attempt_id"], ["attempts.id"],
                                name=op.f("fk_callbacks_source_attempt_id_attempts"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["attempt_id"], ["attempts.id"],
                                name=op.f("fk_callbacks_attempt_id_attempts"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callbacks")),
    )
    op.create_index("ix_callbacks_campaign_state_due", "callbacks",
                    ["campaign_id", "state", "due_at"])
    op.create_index("uq_callbacks_lead_pending", "callbacks", ["lead_id"], unique=True,
                    sqlite_where=sa.text("state = 'pending'"),
                    postgresql_where=sa.text("state = 'pending'"))


def downgrade() -> None:
    op.drop_index("uq_callbacks_lead_pending", table_name="callbacks")
    op.drop_index("ix_callbacks_campaign_state_due", table_name="callbacks")
    op.drop_table("callbacks")
