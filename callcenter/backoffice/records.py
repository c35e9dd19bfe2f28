"""The back office's reads and writes inside one session: customers, ticket state, audit,
messages and attachments. The caller owns the transaction (``Database.session``/``run``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from callcenter.errors import NotFound
from callcenter.store.models import Agent, Call
from callcenter.store.tickets import (
    Customer,
    Ticket,
    TicketAttachment,
    TicketAudit,
    TicketMessage,
)
from callcenter.tickets import Priority, SlaClock, Status, TicketState


@dataclass(frozen=True)
class AttachmentData:
    filename: str
    content_type: str
    content: bytes


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes for UTC columns: make them aware again."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def customer_for(
    session: Session, number: str | None, email: str | None, name: str = ""
) -> Customer | None:
    """The customer known by ``number`` or ``email`` (filling in what was missing), or a new one."""
    number, email = (number or None), (email.lower() if email else None)
    if number is None and email is None:
        return None
    clauses = []
    if number is not None:
        clauses.append(Customer.number == number)
    if email is not None:
        clauses.append(Customer.email == email)
    found = session.scalars(select(Customer).where(or_(*clauses))).first()
    if found is None:
        found = Customer(number=number, email=email, name=name)
        session.add(found)
        session.flush()
        return found
    if found.number is None and number is not None:
        found.number = number
    if found.email is None and email is not None:
        found.email = email
    if name and not found.name:
        found.name = name
    return found


def ticket(session: Session, number: int, follow_merge: bool = False) -> Ticket:
    row = session.get(Ticket, number)
    if row is None:
        raise NotFound(f"no ticket T-{number}: see GET /api/tickets")
    seen = {number}
    while follow_merge and row.merged_into_id is not None and row.merged_into_id not in seen:
        seen.add(row.merged_into_id)
        row = session.get(Ticket, row.merged_into_id) or row
    return row


def state_of(row: Ticket) -> TicketState:
    return TicketState(
        number=row.id,
        status=Status(row.status),
        priority=Priority(row.priority),
        clock=SlaClock(
            started_at=aware(row.sla_started_at) or row.sla_started_at,
            used_s=row.sla_used_s,
            running_since=aware(row.sla_running_since),
        ),
        first_response_at=aware(row.first_response_at),
        handled_by=row.handled_by,
        merged_into=row.merged_into_id,
        priority_raised=row.priority_raised,
        sla_priority=Priority(row.sla_priority) if row.sla_priority else None,
        breached=frozenset(t for t in row.sla_breached.split(",") if t),
    )


def store_state(row: Ticket, state: TicketState, due_at: datetime | None, now: datetime) -> None:
    row.status = state.status.value
    row.priority = state.priority.value
    row.sla_priority = state.sla_priority.value if state.sla_priority else None
    row.sla_started_at = state.clock.started_at
    row.sla_used_s = state.clock.used_s
    row.sla_running_since = state.clock.running_since
    row.sla_due_at = due_at
    row.first_response_at = state.first_response_at
    row.handled_by = state.handled_by
    row.merged_into_id = state.merged_into
    row.priority_raised = state.priority_raised
    row.sla_breached = ",".join(sorted(state.breached))
    row.updated_at = now


def audit(
    session: Session, ticket_id: int, actor: str, action: str, now: datetime, **detail: Any
) -> None:
    session.add(TicketAudit(ticket_id=ticket_id, actor=actor, action=action, at=now, detail=detail))


def agent(session: Session, code: str) -> Agent:
    row = session.scalar(select(Agent).where(Agent.code == code))
    if row is None:
        raise NotFound(f"no agent {code!r}: see `callcenter agents list`")
    return row


def call_exists(session: Session, call_id: str | None) -> bool:
    return call_id is not None and session.get(Call, call_id) is not None


def add_message(
    session: Session,
    row: Ticket,
    *,
    direction: str,
    channel: str,
    author: str,
    body: str,
    now: datetime,
    subject: str = "",
    message_id: str | None = None,
    automatic: bool = False,
    delivery: str = "none",
    attachments: tuple[AttachmentData, ...] = (),
    attachments_dir: Path | None = None,
) -> TicketMessage:
    message = TicketMessage(
        ticket_id=row.id,
        direction=direction,
        channel=channel,
        author=author,
        body=body,
        subject=subject,
        message_id=message_id,
        automatic=automatic,
        delivery=delivery,
        created_at=now,
    )
    for item in attachments:
        if attachments_dir is None:
            raise ValueError("attachments need an attachments_dir")
        message.attachments.append(_keep(item, attachments_dir))
    session.add(message)
    session.flush()
    return message


def _keep(item: AttachmentData, folder: Path) -> TicketAttachment:
    """Write the bytes once under their hash: a retried mail writes the same file again."""
    digest = hashlib.sha256(item.content).hexdigest()
    path = folder / digest[:2] / digest
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(item.content)
        partial.replace(path)
    return TicketAttachment(
        filename=Path(item.filename or "attachment").name[:255],
        content_type=item.content_type[:128],
        size=len(item.content),
        sha256=digest,
        path=str(path),
    )
