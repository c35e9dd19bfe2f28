"""queue call-backs: the voice layer that calls each kept place back (each layer restores its own)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("queue_callbacks") as batch:
        batch.add_column(sa.Column("voice_layer", sa.String(length=16), nullable=False,
                                   server_default="sip"))


def downgrade() -> None:
    with op.batch_alter_table("queue_callbacks") as batch:
        batch.drop_column("voice_layer")
