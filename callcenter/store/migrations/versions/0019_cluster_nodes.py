"""cluster nodes: every engine node's heartbeat (which nodes are up, stopped or lost)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cluster_nodes",
        sa.Column("node", sa.String(length=128), nullable=False),
        sa.Column("sip_uri", sa.String(length=255), nullable=True),
        sa.Column("http_url", sa.String(length=255), nullable=True),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("node", name=op.f("pk_cluster_nodes")),
    )


def downgrade() -> None:
    op.drop_table("cluster_nodes")
