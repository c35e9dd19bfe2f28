"""campaign answering-machine detection switch; one recording row per call and file

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("amd", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_recordings_call_id_path"), ["call_id", "path"]
        )


def downgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_recordings_call_id_path"), type_="unique")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("amd")
