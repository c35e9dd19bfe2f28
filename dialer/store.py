"""The dialer's record: campaigns, leads, attempts, do-not-call numbers, survey answers and
preview agents' skip counts.

Defined on the engine's ``Base`` (:mod:`callcenter.store.models`); the Alembic migration
``0003_dialer`` creates them. Times are timezone-aware UTC. Two guarantees live in the schema:

- a lead is unique per campaign and phone number (imports merge duplicates into one lead);
- an attempt carries an idempotency key (``<campaign>:<lead>:<n>``), unique, so the n-th call
  to a lead is recorded once whatever retries or replays happen.

A preview agent's skips in a row are one row per campaign and agent (``preview_skips``,
migration ``0006``), changed only by conditional UPDATEs (see :mod:`dialer.preview`).

A scheduled callback (``callbacks``, migration ``0007``) is an appointment to call a lead at
a time, for anyone or for its owner agent only; a lead has at most one pending callback
(partial unique index), and the lead's ``next_attempt_at`` carries it to the dialer.

A do-not-call number is unique per scope: once on the internal and national lists (partial
unique index where ``campaign_id`` is NULL) and once per campaign for the campaign lists.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.leases import TermLease
from callcenter.store.models import VOICE_LAYERS, Base, _in, utcnow
from dialer.caller_ids import STRATEGIES as CALLER_ID_STRATEGIES

CAMPAIGN_KINDS = ("telemarketing", "survey")
DIAL_MODES = ("preview", "progressive", "predictive", "agentless")
CAMPAIGN_STATES = ("draft", "running", "paused", "completed", "stopped")
LEAD_STATUSES = ("new", "dialing", "done", "retry", "dnc", "failed")
ATTEMPT_OUTCOMES = ("busy", "no_answer", "machine", "human", "failed", "abandoned")
DNC_SCOPES = ("internal", "campaign", "national")
CALLBACK_STATES = ("pending", "done", "cancelled", "missed")


class Campaign(Base):
    """An outbound campaign and its rules (see docs/dialer.md, "Campaigns")."""

    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    voice_layer: Mapped[str] = mapped_column(String(16), default="sip")
    caller_id: Mapped[str] = mapped_column(String(32))
    dial_mode: Mapped[str] = mapped_column(String(16))
    max_lines: Mapped[int] = mapped_column(Integer, default=10)
    abandon_target: Mapped[float] = mapped_column(Float, default=0.03)
    # The calling window in the called party's local time (clipped to 08:00-21:00 by law).
    window_start: Mapped[time] = mapped_column(Time, default=time(9, 0))
    window_end: Mapped[time] = mapped_column(Time, default=time(20, 0))
    weekdays: Mapped[list[int]] = mapped_column(JSON, default=lambda: list(range(7)))
    holidays: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISO dates
    # Zone assumed for a number whose own zone phonenumbers cannot tell.
    timezone: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(2), default="US")
    max_attempts_per_day: Mapped[int] = mapped_column(Integer, default=3)
    max_attempts_total: Mapped[int] = mapped_column(Integer, default=10)
    ring_timeout_s: Mapped[float] = mapped_column(Float, default=25.0)
    retry_rules: Mapped[dict[str, Any]] = mapped_column(default=dict)
    flow: Mapped[str | None] = mapped_column(String(128))  # survey flow / agent script
    queue: Mapped[str | None] = mapped_column(String(64))  # agents' queue (telemarketing)
    # Screen answered calls for answering machines (0005; SIP: dialer.amd, Twilio: its AMD).
    amd: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Minutes past its time an owner-only callback waits for its agent before any agent of
    # the campaign may take it (0008; NULL: it waits for its owner, VICIdial's default).
    callback_owner_wait_min: Mapped[int | None] = mapped_column(Integer)
    # Stricter local law where the called party lives (0009; dialer.local_rules), and no
    # calls on their public holidays.
    local_rules: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    public_holidays: Mapped[bool] = mapped_column(Boolean, default=False,
                                                  server_default=false())
    # What the agents read, with {{field}} placeholders (0012; dialer.scripts).
    script: Mapped[str | None] = mapped_column(Text)
    # Caller-ID pool (0014; dialer.caller_ids): E.164 numbers, fixed | rotate | local, and
    # the most calls a number shows a day (NULL: no cap).
    caller_ids: Mapped[list[str]] = mapped_column(JSON, default=list,
                                                  server_default=text("'[]'"))
    caller_id_strategy: Mapped[str] = mapped_column(String(16), default="fixed",
                                                    server_default="fixed")
    caller_id_daily_cap: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="draft")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    __table_args__ = (
        CheckConstraint(_in("kind", CAMPAIGN_KINDS), name="kind"),
        CheckConstraint(_in("voice_layer", VOICE_LAYERS), name="voice_layer"),
        CheckConstraint(_in("dial_mode", DIAL_MODES), name="dial_mode"),
        CheckConstraint(_in("state", CAMPAIGN_STATES), name="state"),
        CheckConstraint(_in("caller_id_strategy", CALLER_ID_STRATEGIES),
                        name="caller_id_strategy"),
        CheckConstraint("max_lines >= 1", name="max_lines"),
        CheckConstraint("abandon_target >= 0 AND abandon_target <= 1", name="abandon_target"),
    )


class Lead(Base):
    """A number to call for a campaign, with the fields the agent's screen pop shows."""

    __tablename__ = "leads"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(20))  # E.164
    first_name: Mapped[str] = mapped_column(String(64), default="")
    last_name: Mapped[str] = mapped_column(String(64), default="")
    external_id: Mapped[str] = mapped_column(String(64), default="")
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="new")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]  # NULL: as soon as the rules allow
    # Why the lead waits (a compliance reason or "retry"), for the supervisor's lead flow.
    wait_reason: Mapped[str | None] = mapped_column(String(64))
    last_outcome: Mapped[str | None] = mapped_column(String(16))
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When a supervisor last recycled the lead (0011; dialer.recycle): its retry counters
    # count the attempts from then on.
    recycled_at: Mapped[datetime | None]
    __table_args__ = (
        UniqueConstraint("campaign_id", "phone", name="uq_leads_campaign_id_phone"),
        CheckConstraint(_in("status", LEAD_STATUSES), name="status"),
        Index("ix_leads_campaign_status_next", "campaign_id", "status", "next_attempt_at"),
    )


class LeadAttempt(Base):
    """One call placed to a lead; recorded before the call is placed (outcome NULL until
    it ends), so a crash leaves a trace that :func:`dialer.runner.reconcile` closes."""

    __tablename__ = "attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100), unique=True)  # idempotency key
    number: Mapped[str] = mapped_column(String(20))
    call_id: Mapped[str | None] = mapped_column(String(64))  # the CDR (calls.id), if any
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))
    disposition: Mapped[str | None] = mapped_column(String(32))
    ring_s: Mapped[float | None] = mapped_column(Float)
    talk_s: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[str] = mapped_column(String(200), default="")
    # The number the called party saw (0014): callbacks come to it; counts toward its cap.
    caller_id: Mapped[str | None] = mapped_column(String(32))
    __table_args__ = (
        CheckConstraint(
            f"outcome IS NULL OR {_in('outcome', ATTEMPT_OUTCOMES)}", name="outcome"
        ),
        Index("ix_attempts_campaign_started", "campaign_id", "started_at"),
    )


class PreviewSkips(Base):
    """How many leads in a row an agent skipped in a preview campaign since their last dial:
    the count the skip limit is checked against, in the database so that every engine process
    sees the same count and a restart keeps it."""

    __tablename__ = "preview_skips"
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    agent: Mapped[str] = mapped_column(String(64), primary_key=True)
    in_a_row: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (CheckConstraint("in_a_row >= 0", name="in_a_row"),)


class CampaignLease(TermLease, Base):
    """Which engine node runs a campaign: one holder at a time (:mod:`dialer.leases`).

    The holder renews ``expires_at`` while its runner runs; another node takes the campaign
    over only after it expired. ``term`` counts the hand-overs: a claim of a lead checks the
    holder's node and term in the same statement, so a node that lost its lease cannot dial.
    """

    __tablename__ = "campaign_leases"
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )


class Callback(Base):
    """An appointment to call a lead back at ``due_at`` (UTC): by the campaign's agents
    (``owner`` NULL) or by one agent only. Pending until an attempt is recorded for the
    lead (done), a supervisor cancels it, or the lead is closed by the rules (missed)."""

    __tablename__ = "callbacks"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    due_at: Mapped[datetime]
    owner: Mapped[str | None] = mapped_column(String(64))  # agent code; NULL: anyone
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The attempt whose disposition set it, and the attempt that served it.
    source_attempt_id: Mapped[int | None] = mapped_column(
        ForeignKey("attempts.id", ondelete="SET NULL")
    )
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempts.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (
        CheckConstraint(_in("state", CALLBACK_STATES), name="state"),
        Index("ix_callbacks_campaign_state_due", "campaign_id", "state", "due_at"),
        Index(
            "uq_callbacks_lead_pending", "lead_id", unique=True,
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
    )


class DncEntry(Base):
    """A number that must not be called: everywhere (internal, national) or by one campaign."""

    __tablename__ = "dnc"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), index=True)  # E.164
    scope: Mapped[str] = mapped_column(String(16))
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    reason: Mapped[str] = mapped_column(String(200), default="")
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (
        CheckConstraint(_in("scope", DNC_SCOPES), name="scope"),
        CheckConstraint(
            "(scope = 'campaign') = (campaign_id IS NOT NULL)", name="campaign_scope"
        ),
        Index(
            "uq_dnc_number_scope", "number", "scope", unique=True,
            sqlite_where=text("campaign_id IS NULL"),
            postgresql_where=text("campaign_id IS NULL"),
        ),
        Index(
            "uq_dnc_number_campaign", "number", "campaign_id", unique=True,
            sqlite_where=text("campaign_id IS NOT NULL"),
            postgresql_where=text("campaign_id IS NOT NULL"),
        ),
    )


class SurveyAnswer(Base):
    """A lead's answer to one survey question (the last answer given wins)."""

    __tablename__ = "survey_answers"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    attempt_id: Mapped[int | None] = mapped_column(
        ForeignKey("attempts.id", ondelete="SET NULL")
    )
    question: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(255))
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (
        UniqueConstraint("lead_id", "question", name="uq_survey_answers_lead_id_question"),
        Index("ix_survey_answers_campaign_question", "campaign_id", "question"),
    )
