"""SQLAlchemy 2 typed models: the engine's record.

Users and roles, agents and their skills, queues and their members (penalty / tier), calls
(CDR) with their legs and events (IVR path, queue waits, transfers), agent state history and
dispositions. Times are stored timezone-aware in UTC. The schema is created and changed only
by the Alembic migrations in ``migrations/``; ``Base.metadata`` is what they are checked against.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names so that SQLite and PostgreSQL migrations name things alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

AGENT_STATES = ("logged_out", "available", "offered", "busy", "wrap_up", "paused")
CALL_DIRECTIONS = ("inbound", "outbound", "internal")
VOICE_LAYERS = ("sip", "twilio")
LEG_ROLES = ("caller", "agent", "supervisor", "transfer", "callee")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(at: datetime) -> datetime:
    """A stored time with its zone: SQLite hands back naive datetimes, stored as UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


user_roles = Table(
    "user_roles",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)


class Role(Base):
    """admin, supervisor, agent, backoffice: what a user may do."""

    __tablename__ = "roles"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Browser sessions issued before this are void: set by log-out, a new password, disabling.
    sessions_after: Mapped[datetime | None]
    roles: Mapped[list[Role]] = relationship(secondary=user_roles, lazy="selectin")


class ApiToken(Base):
    """A user's API token for integrations: only its SHA-256 is kept (the token is shown once)."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    user: Mapped[User] = relationship(lazy="joined")


class AuditEntry(Base):
    """Who did what: supervisors' and admins' changes, user and token changes, failed logins.

    ``actor`` is the user name as it was (kept when the user goes), or ``None`` when nobody was
    logged in (authentication off, a failed login); ``source`` the client's address or ``cli``.
    ``details`` never holds a password or a token.
    """

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255), default="")
    source: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor_at", "actor", "at"),
    )


class Skill(Base):
    __tablename__ = "skills"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")


class Agent(Base):
    """A person who takes tasks: reached at ``sip_uri`` or logged in over a nailed-up call."""

    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # the id typed at login
    name: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sip_uri: Mapped[str | None] = mapped_column(String(255))
    pin_hash: Mapped[str | None] = mapped_column(String(255))
    voice_capacity: Mapped[int] = mapped_column(Integer, default=1)
    chat_capacity: Mapped[int] = mapped_column(Integer, default=3)
    ticket_capacity: Mapped[int] = mapped_column(Integer, default=5)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    skills: Mapped[list[AgentSkill]] = relationship(
        back_populates="agent", cascade="all, delete-orphan", lazy="selectin"
    )
    __table_args__ = (
        CheckConstraint(
            "voice_capacity >= 0 AND chat_capacity >= 0 AND ticket_capacity >= 0",
            name="capacity_not_negative",
        ),
    )


class AgentSkill(Base):
    __tablename__ = "agent_skills"
    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    skill_id: Mapped[int] = mapped_column(
        ForeignKey("skills.id", ondelete="CASCADE"), primary_key=True
    )
    level: Mapped[int] = mapped_column(Integer, default=5)
    agent: Mapped[Agent] = relationship(back_populates="skills")
    skill: Mapped[Skill] = relationship(lazy="joined")
    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 10", name="level_range"),)


class Queue(Base):
    """An ACD queue and its options (see docs/acd.md for what each one does)."""

    __tablename__ = "queues"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(16), default="voice")
    strategy: Mapped[str] = mapped_column(String(32), default="longest-idle")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    service_level_s: Mapped[int] = mapped_column(Integer, default=20)
    max_wait_s: Mapped[int | None] = mapped_column(Integer)
    max_length: Mapped[int | None] = mapped_column(Integer)
    overflow_target: Mapped[str | None] = mapped_column(String(128))
    join_when_empty: Mapped[bool] = mapped_column(Boolean, default=True)
    leave_when_empty: Mapped[bool] = mapped_column(Boolean, default=False)
    wrapup_s: Mapped[int] = mapped_column(Integer, default=10)
    no_answer_timeout_s: Mapped[int] = mapped_column(Integer, default=15)
    retry_delay_s: Mapped[int] = mapped_column(Integer, default=5)
    announce_frequency_s: Mapped[int] = mapped_column(Integer, default=30)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    members: Mapped[list[QueueMember]] = relationship(
        back_populates="queue", cascade="all, delete-orphan", lazy="selectin"
    )
    __table_args__ = (
        CheckConstraint(_in("channel", ("voice", "chat", "ticket", "email")), name="channel"),
    )


class QueueMember(Base):
    """An agent in a queue; lower penalty / tier is tried first."""

    __tablename__ = "queue_members"
    queue_id: Mapped[int] = mapped_column(
        ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    penalty: Mapped[int] = mapped_column(Integer, default=0)
    tier: Mapped[int] = mapped_column(Integer, default=1)
    position: Mapped[int] = mapped_column(Integer, default=1)
    queue: Mapped[Queue] = relationship(back_populates="members")
    agent: Mapped[Agent] = relationship(lazy="joined")


class QueueSkill(Base):
    """A skill a queue's tasks require, with the minimum level an agent needs."""

    __tablename__ = "queue_skills"
    queue_id: Mapped[int] = mapped_column(
        ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True
    )
    skill_id: Mapped[int] = mapped_column(
        ForeignKey("skills.id", ondelete="CASCADE"), primary_key=True
    )
    min_level: Mapped[int] = mapped_column(Integer, default=1)


class Disposition(Base):
    """The outcome an agent sets after a call; ``resolved=False`` codes can escalate."""

    __tablename__ = "dispositions"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    label: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(32), default="general")
    resolved: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Call(Base):
    """One call detail record (CDR), the same shape for SIP and Twilio calls."""

    __tablename__ = "calls"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), default="default")
    direction: Mapped[str] = mapped_column(String(16))
    voice_layer: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(128), unique=True)  # Call-ID / CallSid
    caller: Mapped[str] = mapped_column(String(128), default="")
    dialed: Mapped[str] = mapped_column(String(128), default="")
    flow: Mapped[str | None] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="SET NULL"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    queue_wait_s: Mapped[float | None] = mapped_column(Float)
    talk_s: Mapped[float | None] = mapped_column(Float)
    disposition_id: Mapped[int | None] = mapped_column(
        ForeignKey("dispositions.id", ondelete="SET NULL")
    )
    hangup_cause: Mapped[str | None] = mapped_column(String(64))
    hangup_by: Mapped[str | None] = mapped_column(String(16))
    legs: Mapped[list[CallLeg]] = relationship(
        back_populates="call",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="CallLeg.id",
    )
    events: Mapped[list[CallEvent]] = relationship(
        back_populates="call",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="CallEvent.seq",
    )
    __table_args__ = (
        CheckConstraint(_in("direction", CALL_DIRECTIONS), name="direction"),
        CheckConstraint(_in("voice_layer", VOICE_LAYERS), name="voice_layer"),
        Index("ix_calls_started_at", "started_at"),
    )


class CallLeg(Base):
    """One party's leg of a call: the caller, an agent, a supervisor listening, a transfer."""

    __tablename__ = "call_legs"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    remote: Mapped[str] = mapped_column(String(255), default="")
    external_id: Mapped[str | None] = mapped_column(String(128))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    hangup_cause: Mapped[str | None] = mapped_column(String(64))
    call: Mapped[Call] = relationship(back_populates="legs")
    __table_args__ = (CheckConstraint(_in("role", LEG_ROLES), name="role"),)


class CallEvent(Base):
    """What happened in a call, in order: IVR nodes, queue enter / leave, offers, transfers."""

    __tablename__ = "call_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    call: Mapped[Call] = relationship(back_populates="events")
    # (call_id, seq) makes a replayed event a no-op instead of a duplicate.
    __table_args__ = (UniqueConstraint("call_id", "seq", name="uq_call_events_call_id_seq"),)


class AgentStateChange(Base):
    """Agent state history, with the reason (users complain when events omit it)."""

    __tablename__ = "agent_state_history"
    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(128), default="")
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    __table_args__ = (
        CheckConstraint(_in("state", AGENT_STATES), name="state"),
        Index("ix_agent_state_history_agent_at", "agent_id", "at"),
    )
