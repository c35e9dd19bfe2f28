"""preview dialing: each agent's skips in a row per campaign, in the database

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27

Model in dialer/store.py (PreviewSkips). One row per (campaign, agent), changed only by
conditional UPDATEs, so that the skip limit holds across engine processes and restarts.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "preview_skips",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("in_a_row", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("in_a_row >= 0", name=op.f("ck_preview_skips_in_a_row")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_preview_skips_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "agent", name=op.f("pk_preview_skips")),
    )


def downgrade() -> None:
    op.drop_table("preview_skips")
