"""What back-office staff do to tickets, and what they look up: the REST API's engine room.

Each operation is one transaction through :class:`TicketService` (committed, then
announced); an operation the life cycle forbids raises
:class:`~callcenter.tickets.InvalidTransition`, a missing ticket or agent
:class:`~callcenter.errors.NotFound`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from callcenter.store.models import Agent, CallEvent
from callcenter.store.tickets import Chat, Customer, Ticket, TicketAudit, TicketLink
from callcenter.tickets import (
    AgentReplied,
    InvalidTransition,
    MergedInto,
    Priority,
    PriorityRequested,
    Status,
    StatusRequested,
)

from . import records
from .email_out import queue_mail
from .service import Batch, TicketService


@dataclass(frozen=True)
class TicketFilter:
    status: Sequence[str] = ()
    priority: Sequence[str] = ()
    category: str | None = None
    channel: str | None = None
    agent: str | None = None
    customer: str | None = None
    text: str | None = None
    limit: int = 50
    offset: int = 0


class TicketDesk:
    def __init__(self, service: TicketService) -> None:
        self.service = service

    # --- changes -------------------------------------------------------------------------

    async def reply(
        self, number: int, agent: str, body: str, *, awaiting_customer: bool = False
    ) -> int:
        """An agent's answer: mailed to the customer (outbox) or sent to their live chat."""

        def work(session: Session, batch: Batch) -> int:
            row = records.ticket(session, number)
            self.service.drive(session, batch, row, AgentReplied(agent, awaiting_customer), agent)
            live_chat = session.scalar(
                select(Chat.id).where(Chat.ticket_id == row.id, Chat.status == "active")
            )
            message = None
            if live_chat is None and row.channel != "chat":
                message = queue_mail(
                    session, batch, row, body, author=agent, from_address=self.service.from_address
                )
            if message is None:
                message = records.add_message(
                    session,
                    row,
                    direction="out",
                    channel="chat" if live_chat else "web",
                    author=agent,
                    body=body,
                    now=batch.now,
                )
            records.audit(session, row.id, agent, "replied", batch.now, message=message.id)
            batch.updates.append(self.service.update(row, "message", author=agent))
            return message.id

        return await self.service.transact(work)

    async def note(self, number: int, actor: str, body: str) -> int:
        def work(session: Session, batch: Batch) -> int:
            row = records.ticket(session, number)
            message = records.add_message(
                session,
                row,
                direction="note",
                channel="web",
                author=actor,
                body=body,
                now=batch.now,
            )
            records.audit(session, row.id, actor, "note", batch.now, message=message.id)
            return message.id

        return await self.service.transact(work)

    async def update(
        self,
        number: int,
        actor: str,
        *,
        status: str | None = None,
        priority: str | None = None,
        category: str | None = None,
        subject: str | None = None,
    ) -> None:
        def work(session: Session, batch: Batch) -> None:
            row = records.ticket(session, number)
            if priority is not None:
                self.service.drive(
                    session, batch, row, PriorityRequested(Priority(priority), actor), actor
                )
            if status is not None:
                self.service.drive(
                    session, batch, row, StatusRequested(Status(status), actor), actor
                )
            changed: dict[str, Any] = {}
            if category is not None and category != row.category:
                changed["category"], row.category = [row.category, category], category
            if subject is not None and subject != row.subject:
                changed["subject"], row.subject = [row.subject, subject], subject
            if changed:
                records.audit(session, row.id, actor, "updated", batch.now, **changed)
                batch.updates.append(self.service.update(row, "updated", fields=list(changed)))

        await self.service.transact(work)

    async def assign(self, number: int, agent: str, actor: str) -> None:
        await self.service.assign(number, agent, actor)

    async def merge(self, number: int, into: int, actor: str) -> None:
        """Close ``number`` as a duplicate of ``into``: its calls move over, its messages stay."""

        def work(session: Session, batch: Batch) -> None:
            row = records.ticket(session, number)
            target = records.ticket(session, into, follow_merge=True)
            if target.id == row.id:
                raise InvalidTransition(
                    number,
                    row.status,
                    f"merge into T-{into}",
                    "it is the same ticket (or already merged into it)",
                )
            self.service.drive(session, batch, row, MergedInto(target.id, actor), actor)
            for link in list(row.links):
                if session.get(TicketLink, (target.id, link.call_id)) is None:
                    session.add(
                        TicketLink(
                            ticket_id=target.id,
                            call_id=link.call_id,
                            source=link.source,
                            data=link.data,
                            created_at=link.created_at,
                        )
                    )
            records.add_message(
                session,
                target,
                direction="note",
                channel="web",
                author=actor,
                body=f"T-{row.id} was merged into this ticket.",
                now=batch.now,
            )
            records.audit(session, target.id, actor, "merged_from", batch.now, source=f"T-{row.id}")
            batch.updates.append(self.service.update(target, "updated", merged_from=row.ref))

        await self.service.transact(work)

    # --- reads ---------------------------------------------------------------------------

    async def list(self, flt: TicketFilter) -> tuple[int, list[dict[str, Any]]]:
        def work(session: Session) -> tuple[int, list[dict[str, Any]]]:
            query = select(Ticket).outerjoin(Customer, Ticket.customer_id == Customer.id)
            if flt.status:
                query = query.where(Ticket.status.in_(flt.status))
            if flt.priority:
                query = query.where(Ticket.priority.in_(flt.priority))
            if flt.category:
                query = query.where(Ticket.category == flt.category)
            if flt.channel:
                query = query.where(Ticket.channel == flt.channel)
            if flt.agent:
                query = query.join(Agent, Ticket.assigned_agent_id == Agent.id).where(
                    Agent.code == flt.agent
                )
            if flt.customer:
                query = query.where(
                    or_(Customer.number == flt.customer, Customer.email == flt.customer.lower())
                )
            if flt.text:
                query = query.where(Ticket.subject.ilike(f"%{flt.text}%"))
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = (
                session.scalars(
                    query.order_by(Ticket.id.desc()).limit(flt.limit).offset(flt.offset)
                )
                .unique()
                .all()
            )
            return total, [summary(session, row) for row in rows]

        return await self.service.db.run(work)

    async def read(self, number: int) -> dict[str, Any]:
        def work(session: Session) -> dict[str, Any]:
            row = records.ticket(session, number)
            out = summary(session, row)
            out["messages"] = [
                {
                    "id": m.id,
                    "direction": m.direction,
                    "channel": m.channel,
                    "author": m.author,
                    "subject": m.subject,
                    "body": m.body,
                    "automatic": m.automatic,
                    "delivery": m.delivery,
                    "at": records.aware(m.created_at),
                    "attachments": [
                        {
                            "id": a.id,
                            "filename": a.filename,
                            "size": a.size,
                            "content_type": a.content_type,
                            "sha256": a.sha256,
                        }
                        for a in m.attachments
                    ],
                }
                for m in row.messages
            ]
            out["calls"] = [
                {
                    "call_id": link.call_id,
                    "source": link.source,
                    **link.data,
                    "ivr_path": [
                        e.data
                        for e in session.scalars(
                            select(CallEvent)
                            .where(CallEvent.call_id == link.call_id, CallEvent.kind == "ivr")
                            .order_by(CallEvent.seq)
                        )
                    ],
                }
                for link in row.links
            ]
            out["audit"] = [
                {
                    "at": records.aware(a.at),
                    "actor": a.actor,
                    "action": a.action,
                    "detail": a.detail,
                }
                for a in session.scalars(
                    select(TicketAudit)
                    .where(TicketAudit.ticket_id == row.id)
                    .order_by(TicketAudit.id)
                )
            ]
            return out

        return await self.service.db.run(work)


def summary(session: Session, row: Ticket) -> dict[str, Any]:
    agent = session.get(Agent, row.assigned_agent_id) if row.assigned_agent_id else None
    customer = row.customer
    return {
        "id": row.ref,
        "number": row.id,
        "status": row.status,
        "priority": row.priority,
        "category": row.category,
        "subject": row.subject,
        "channel": row.channel,
        "source": row.source,
        "customer": {"number": customer.number, "email": customer.email, "name": customer.name}
        if customer
        else None,
        "assigned_agent": agent.code if agent else None,
        "handled_by": row.handled_by,
        "merged_into": f"T-{row.merged_into_id}" if row.merged_into_id else None,
        "sla_due_at": records.aware(row.sla_due_at),
        "sla_breached": row.sla_breached,
        "first_response_at": records.aware(row.first_response_at),
        "created_at": records.aware(row.created_at),
        "updated_at": records.aware(row.updated_at),
    }
