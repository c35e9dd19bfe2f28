"""SQLAlchemy models of the back office: customers, tickets and everything hung on them.

Defined on the same ``Base`` as :mod:`callcenter.store.models`; the Alembic migration
``0002_tickets`` creates them. A ticket's number (``T-<id>``) is its primary key. The life
cycle and SLA rules live in :mod:`callcenter.tickets`; these rows are their record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.store.models import Base, _in, utcnow

TICKET_STATUSES = ("new", "open", "pending_customer", "resolved", "closed")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
TICKET_CHANNELS = ("phone", "email", "chat", "web")
MESSAGE_DIRECTIONS = ("in", "out", "note")
DELIVERY_STATES = ("none", "pending", "sent", "failed")
CHAT_STATES = ("waiting", "active", "ended", "ticketed")


class Customer(Base):
    """Someone who contacts us, known by phone number and / or mail address."""

    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Ticket(Base):
    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), default="default")
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="new")
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    sla_priority: Mapped[str | None] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(64), default="general")
    subject: Mapped[str] = mapped_column(String(255), default="")
    channel: Mapped[str] = mapped_column(String(10), default="phone")
    source: Mapped[str] = mapped_column(String(32), default="manual")
    assigned_agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL")
    )
    handled_by: Mapped[str | None] = mapped_column(String(32))  # agent code, for call backs
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL")
    )
    sla_started_at: Mapped[datetime] = mapped_column(default=utcnow)
    sla_used_s: Mapped[float] = mapped_column(Float, default=0.0)
    sla_running_since: Mapped[datetime | None]
    sla_due_at: Mapped[datetime | None]
    sla_breached: Mapped[str] = mapped_column(String(64), default="")  # comma-separated targets
    priority_raised: Mapped[bool] = mapped_column(Boolean, default=False)
    first_response_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    customer: Mapped[Customer | None] = relationship(lazy="joined")
    messages: Mapped[list[TicketMessage]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan", order_by="TicketMessage.id"
    )
    links: Mapped[list[TicketLink]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan", order_by="TicketLink.created_at"
    )
    __table_args__ = (
        CheckConstraint(_in("status", TICKET_STATUSES), name="status"),
        CheckConstraint(_in("priority", TICKET_PRIORITIES), name="priority"),
        CheckConstraint(_in("channel", TICKET_CHANNELS), name="channel"),
        Index("ix_tickets_status_priority", "status", "priority"),
    )

    @property
    def ref(self) -> str:
        return f"T-{self.id}"


class TicketMessage(Base):
    """A mail, chat line, phone note or agent reply on a ticket; ``out`` mail is an outbox."""

    __tablename__ = "ticket_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(10))
    author: Mapped[str] = mapped_column(String(254), default="")
    subject: Mapped[str] = mapped_column(String(255), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str | None] = mapped_column(String(255), unique=True)  # mail Message-ID
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    delivery: Mapped[str] = mapped_column(String(8), default="none")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ticket: Mapped[Ticket] = relationship(back_populates="messages")
    attachments: Mapped[list[TicketAttachment]] = relationship(
        back_populates="message", cascade="all, delete-orphan", lazy="selectin"
    )
    __table_args__ = (
        CheckConstraint(_in("direction", MESSAGE_DIRECTIONS), name="direction"),
        CheckConstraint(_in("delivery", DELIVERY_STATES), name="delivery"),
    )


class TicketAttachment(Base):
    """A file that came with a message; the bytes are on disk under ``path``."""

    __tablename__ = "ticket_attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("ticket_messages.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128), default="application/octet-stream")
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(1024))
    message: Mapped[TicketMessage] = relationship(back_populates="attachments")


class TicketAudit(Base):
    """Every change of a ticket: who, when, what."""

    __tablename__ = "ticket_audit"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64), default="system")
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class TicketLink(Base):
    """A call (CDR) a ticket came from or concerns, with what the escalation carried."""

    __tablename__ = "ticket_links"
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    call_id: Mapped[str] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(32), default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ticket: Mapped[Ticket] = relationship(back_populates="links")


class EscalationKey(Base):
    """One row per escalation ever filed: the unique key makes a retry find its ticket."""

    __tablename__ = "escalation_keys"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Chat(Base):
    """A customer chat; its lines are the messages of its ticket."""

    __tablename__ = "chats"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), default="waiting")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    __table_args__ = (CheckConstraint(_in("status", CHAT_STATES), name="status"),)
