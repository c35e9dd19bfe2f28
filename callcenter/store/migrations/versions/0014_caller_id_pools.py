"""caller-ID pools: a campaign's numbers, strategy and daily cap; the number each call showed

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("caller_ids", sa.JSON(), nullable=False,
                                      server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column("caller_id_strategy", sa.String(length=16),
                                      nullable=False, server_default="fixed"))
        batch_op.add_column(sa.Column("caller_id_daily_cap", sa.Integer(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_campaigns_caller_id_strategy"),
            "caller_id_strategy IN ('fixed', 'rotate', 'local')")
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("caller_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_column("caller_id")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_campaigns_caller_id_strategy"), type_="check")
        batch_op.drop_column("caller_id_daily_cap")
        batch_op.drop_column("caller_id_strategy")
        batch_op.drop_column("caller_ids")
