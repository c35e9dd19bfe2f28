"""dialer: campaigns, leads, attempts, do-not-call numbers, survey answers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

Models in dialer/store.py. Leads are unique per (campaign, phone); attempts carry a unique
idempotency key; DNC numbers are unique per scope through two partial unique indexes (internal
and national where campaign_id IS NULL, per campaign otherwise), on SQLite and PostgreSQL alike.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("voice_layer", sa.String(length=16), nullable=False),
        sa.Column("caller_id", sa.String(length=32), nullable=False),
        sa.Column("dial_mode", sa.String(length=16), nullable=False),
        sa.Column("max_lines", sa.Integer(), nullable=False),
        sa.Column("abandon_target", sa.Float(), nullable=False),
        sa.Column("window_start", sa.Time(), nullable=False),
        sa.Column("window_end", sa.Time(), nullable=False),
        sa.Column("weekdays", sa.JSON(), nullable=False),
        sa.Column("holidays", sa.JSON(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("region", sa.String(length=2), nullable=False),
        sa.Column("max_attempts_per_day", sa.Integer(), nullable=False),
        sa.Column("max_attempts_total", sa.Integer(), nullable=False),
        sa.Column("ring_timeout_s", sa.Float(), nullable=False),
        sa.Column("retry_rules", sa.JSON(), nullable=False),
        sa.Column("flow", sa.String(length=128), nullable=True),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "dial_mode IN ('preview', 'progressive', 'predictive', 'agentless')",
            name=op.f("ck_campaigns_dial_mode"),
        ),
        sa.CheckConstraint("kind IN ('telemarketing', 'survey')", name=op.f("ck_campaigns_kind")),
        sa.CheckConstraint(
            "state IN ('draft', 'running', 'paused', 'completed', 'stopped')",
            name=op.f("ck_campaigns_state"),
        ),
        sa.CheckConstraint(
            "voice_layer IN ('sip', 'twilio')", name=op.f("ck_campaigns_voice_layer")
        ),
        sa.CheckConstraint(
            "abandon_target >= 0 AND abandon_target <= 1", name=op.f("ck_campaigns_abandon_target")
        ),
        sa.CheckConstraint("max_lines >= 1", name=op.f("ck_campaigns_max_lines")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("name", name=op.f("uq_campaigns_name")),
    )
    op.create_table(
        "dnc",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(scope = 'campaign') = (campaign_id IS NOT NULL)", name=op.f("ck_dnc_campaign_scope")
        ),
        sa.CheckConstraint(
            "scope IN ('internal', 'campaign', 'national')", name=op.f("ck_dnc_scope")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_dnc_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dnc")),
    )
    with op.batch_alter_table("dnc", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dnc_number"), ["number"], unique=False)
        batch_op.create_index(
            "uq_dnc_number_campaign",
            ["number", "campaign_id"],
            unique=True,
            sqlite_where=sa.text("campaign_id IS NOT NULL"),
            postgresql_where=sa.text("campaign_id IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_dnc_number_scope",
            ["number", "scope"],
            unique=True,
            sqlite_where=sa.text("campaign_id IS NULL"),
            postgresql_where=sa.text("campaign_id IS NULL"),
        )

    op.create_table(
        "leads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("first_name", sa.String(length=64), nullable=False),
        sa.Column("last_name", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wait_reason", sa.String(length=64), nullable=True),
        sa.Column("last_outcome", sa.String(length=16), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('new', 'dialing', 'done', 'retry', 'dnc', 'failed')",
            name=op.f("ck_leads_status"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_leads_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
        sa.UniqueConstraint("campaign_id", "phone", name="uq_leads_campaign_id_phone"),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index(
            "ix_leads_campaign_status_next",
            ["campaign_id", "status", "next_attempt_at"],
            unique=False,
        )

    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("disposition", sa.String(length=32), nullable=True),
        sa.Column("ring_s", sa.Float(), nullable=True),
        sa.Column("talk_s", sa.Float(), nullable=True),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN "
            "('busy', 'no_answer', 'machine', 'human', 'failed', 'abandoned')",
            name=op.f("ck_attempts_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_attempts_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_attempts_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempts")),
        sa.UniqueConstraint("key", name=op.f("uq_attempts_key")),
    )
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_attempts_campaign_started", ["campaign_id", "started_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_attempts_lead_id"), ["lead_id"], unique=False)

    op.create_table(
        "survey_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("question", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempts.id"],
            name=op.f("fk_survey_answers_attempt_id_attempts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_survey_answers_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_survey_answers_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_answers")),
        sa.UniqueConstraint("lead_id", "question", name="uq_survey_answers_lead_id_question"),
    )
    with op.batch_alter_table("survey_answers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_survey_answers_campaign_question", ["campaign_id", "question"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("survey_answers", schema=None) as batch_op:
        batch_op.drop_index("ix_survey_answers_campaign_question")

    op.drop_table("survey_answers")
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attempts_lead_id"))
        batch_op.drop_index("ix_attempts_campaign_started")

    op.drop_table("attempts")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_campaign_status_next")

    op.drop_table("leads")
    with op.batch_alter_table("dnc", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_dnc_number_scope",
            sqlite_where=sa.text("campaign_id IS NULL"),
            postgresql_where=sa.text("campaign_id IS NULL"),
        )
        batch_op.drop_index(
            "uq_dnc_number_campaign",
            sqlite_where=sa.text("campaign_id IS NOT NULL"),
            postgresql_where=sa.text("campaign_id IS NOT NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_dnc_number"))

    op.drop_table("dnc")
    op.drop_table("campaigns")
