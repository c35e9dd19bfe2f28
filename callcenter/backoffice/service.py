"""The ticket service: applies the pure core's decisions to the store, then tells the bus.

Every change runs in one database transaction (:meth:`TicketService.transact`); what it has
to announce, route or mail is collected on a :class:`Batch` and done only after the commit,
so nothing is announced that the record does not hold. An escalation is filed exactly once:
its idempotency key is a primary key in ``escalation_keys``, inserted in the same
transaction as the ticket, so a retry after a crash finds the ticket instead of making one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callcenter.bus.base import EventBus
from callcenter.bus.events import TicketUpdate
from callcenter.store.database import Database
from callcenter.store.tickets import Customer, EscalationKey, Ticket, TicketLink
from callcenter.tickets import (
    Action,
    Assigned,
    Assignment,
    BackofficeTask,
    CallbackOffered,
    Escalated,
    Escalation,
    Event,
    LeastLoadedAssigner,
    Merged,
    Priority,
    PriorityChanged,
    SlaBreached,
    SlaPlans,
    Status,
    StatusChanged,
    TaskAssigner,
    Tick,
    TicketLifecycle,
    TicketState,
    ticket_to_join,
)

from . import records
from .email_out import acknowledgement, queue_mail

log = logging.getLogger(__name__)
T = TypeVar("T")
Checkpoint = Callable[[str], None]
"""Called with "flushed" (rows written, not committed) and "committed": a test hook to kill
the process in between; production passes nothing."""
AssignmentListener = Callable[[Assignment], Awaitable[None]]


@dataclass
class Batch:
    """What one transaction will announce, route and mail once it has committed."""

    now: datetime
    updates: list[TicketUpdate] = field(default_factory=list)
    submit: list[BackofficeTask] = field(default_factory=list)
    finish: list[str] = field(default_factory=list)
    send_mail: bool = False


@dataclass(frozen=True)
class Filed:
    number: int
    created: bool
    """False: the escalation joined the customer's open ticket, or was filed before."""
    replayed: bool = False


def ticket_task(row: Ticket, queued_at: datetime, preferred: str | None = None) -> BackofficeTask:
    return BackofficeTask(
        f"ticket:{row.id}", "ticket", Priority(row.priority), queued_at, preferred
    )


class TicketService:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        plans: SlaPlans,
        *,
        assigner: TaskAssigner | None = None,
        attachments_dir: Path = Path("var/attachments"),
        clock: Callable[[], datetime] | None = None,
        checkpoint: Checkpoint | None = None,
        from_address: str = "support@localhost",
    ) -> None:
        self.db, self.bus, self.plans = db, bus, plans
        self.assigner: TaskAssigner = assigner or LeastLoadedAssigner()
        self.attachments_dir = attachments_dir
        self.from_address = from_address
        self._clock = clock or (lambda: datetime.now(UTC))
        self._checkpoint = checkpoint or (lambda _stage: None)
        self.listeners: dict[str, AssignmentListener] = {}
        self.mail_out: Callable[[], Awaitable[None]] | None = None

    def now(self) -> datetime:
        return self._clock()

    # --- transactions --------------------------------------------------------------------

    async def transact(self, work: Callable[[Session, Batch], T]) -> T:
        """Run ``work`` in one transaction; after the commit publish, route and mail."""
        batch = Batch(self.now())

        def run(session: Session) -> T:
            result = work(session, batch)
            session.flush()
            self._checkpoint("flushed")
            return result

        result = await self.db.run(run)
        self._checkpoint("committed")
        for update in batch.updates:
            self.bus.publish_event(update, batch.now)
        assignments: list[Assignment] = []
        for task_id in batch.finish:
            assignments += self.assigner.finish(task_id)
        for task in batch.submit:
            assignments += self.assigner.submit(task)
        await self.deliver(assignments)
        if batch.send_mail and self.mail_out is not None:
            await self.mail_out()
        return result

    async def deliver(self, assignments: list[Assignment]) -> None:
        """Carry out what the assigner decided: tickets are written to their agent, chats and
        call-back offers go to whoever listens for that kind of task."""
        for assignment in assignments:
            kind, _, ident = assignment.task.id.partition(":")
            if kind == "ticket":
                await self.assign(int(ident), assignment.agent, "router")
                if "ticket" in self.listeners:
                    await self.listeners["ticket"](assignment)
            elif kind in self.listeners:
                await self.listeners[kind](assignment)
            else:
                self.assigner.finish(assignment.task.id)

    # --- shared steps inside a transaction -----------------------------------------------

    def drive(
        self, session: Session, batch: Batch, row: Ticket, event: Event, actor: str
    ) -> list[Action]:
        """Feed ``event`` to the ticket's life cycle, store its new state, record its actions."""
        machine = TicketLifecycle(records.state_of(row), self.plans)
        actions = machine.handle(event, batch.now)
        records.store_state(row, machine.state, machine.due_at(), batch.now)
        for action in actions:
            self._record(session, batch, row, action, actor)
        return actions

    def open_ticket(
        self,
        session: Session,
        batch: Batch,
        customer: Customer | None,
        *,
        subject: str,
        category: str,
        priority: Priority,
        channel: str,
        source: str,
        waiting_since: datetime,
        route: bool = True,
    ) -> Ticket:
        row = Ticket(
            customer=customer,
            subject=subject[:255],
            category=category[:64],
            priority=priority.value,
            channel=channel,
            source=source,
            tenant=self.bus.tenant,
            created_at=batch.now,
        )
        session.add(row)
        session.flush()
        machine = TicketLifecycle(TicketState.new(row.id, priority, waiting_since), self.plans)
        records.store_state(row, machine.state, machine.due_at(), batch.now)
        records.audit(
            session,
            row.id,
            "system",
            "created",
            batch.now,
            source=source,
            channel=channel,
            priority=priority.value,
        )
        batch.updates.append(self.update(row, "created", source=source))
        self.drive(session, batch, row, Tick(), "sla")  # the customer may have waited long
        if route:  # a chat routes itself as a chat; its ticket is routed only if nobody takes it
            batch.submit.append(ticket_task(row, batch.now))
        return row

    def update(self, row: Ticket, kind: str, **detail: Any) -> TicketUpdate:
        customer = row.customer
        who = (customer.email or customer.number or "") if customer else ""
        return TicketUpdate(
            ticket_id=row.ref,
            kind=kind,
            status=row.status,
            priority=row.priority,
            category=row.category,
            channel=row.channel,
            customer=who,
            agent_id=row.handled_by,
            sla_due_at=records.aware(row.sla_due_at),
            detail=detail,
        )

    def _record(
        self, session: Session, batch: Batch, row: Ticket, action: Action, actor: str
    ) -> None:
        now = batch.now
        match action:
            case StatusChanged(from_status=old, to_status=new, reason=reason):
                records.audit(
                    session,
                    row.id,
                    actor,
                    "status",
                    now,
                    old=old.value,
                    new=new.value,
                    reason=reason,
                )
                batch.updates.append(self.update(row, "status", old=old.value, reason=reason))
                if new in (Status.RESOLVED, Status.CLOSED):
                    batch.finish.append(f"ticket:{row.id}")
                elif old in (Status.RESOLVED, Status.CLOSED):
                    batch.submit.append(ticket_task(row, now, row.handled_by))
            case PriorityChanged(from_priority=old, to_priority=new, reason=reason):
                records.audit(
                    session,
                    row.id,
                    actor,
                    "priority",
                    now,
                    old=old.value,
                    new=new.value,
                    reason=reason,
                )
                kind = "priority_raised" if new.rank > old.rank else "updated"
                batch.updates.append(self.update(row, kind, old=old.value, reason=reason))
            case SlaBreached(target=target, elapsed_s=elapsed, target_s=target_s):
                records.audit(
                    session,
                    row.id,
                    "sla",
                    "sla_breached",
                    now,
                    target=target,
                    elapsed_s=round(elapsed),
                    target_s=target_s,
                )
                batch.updates.append(
                    self.update(
                        row,
                        "sla_breached",
                        target=target,
                        elapsed_s=round(elapsed),
                        target_s=target_s,
                    )
                )
            case CallbackOffered(agent=agent):
                records.audit(session, row.id, actor, "callback_wanted", now, agent=agent)
                batch.submit.append(
                    BackofficeTask(
                        f"callback:{row.id}", "ticket", Priority(row.priority), now, agent
                    )
                )
            case Merged(into=into):
                records.audit(session, row.id, actor, "merged", now, into=f"T-{into}")
                batch.updates.append(self.update(row, "merged", into=f"T-{into}"))

    async def assign(self, number: int, agent_code: str, actor: str) -> None:
        await self.transact(lambda s, b: self._assign(s, b, number, agent_code, actor))

    def _assign(
        self, session: Session, batch: Batch, number: int, agent_code: str, actor: str
    ) -> None:
        row = records.ticket(session, number)
        who = records.agent(session, agent_code)
        if row.assigned_agent_id == who.id:
            return
        row.assigned_agent_id = who.id
        records.audit(session, row.id, actor, "assigned", batch.now, agent=agent_code)
        self.drive(session, batch, row, Assigned(agent_code), actor)
        batch.updates.append(self.update(row, "assigned", agent=agent_code))

    # --- escalations ---------------------------------------------------------------------

    async def file_escalation(self, esc: Escalation) -> Filed:
        """File ``esc`` exactly once: a new ticket, the customer's open one, or the ticket an
        earlier attempt with the same key made."""
        try:
            return await self.transact(lambda s, b: self._file(s, b, esc))
        except IntegrityError:  # a concurrent attempt with the same key won the race
            return await self.transact(lambda s, b: self._file(s, b, esc))

    def _file(self, session: Session, batch: Batch, esc: Escalation) -> Filed:
        earlier = session.get(EscalationKey, esc.key)
        if earlier is not None:
            row = records.ticket(session, earlier.ticket_id)
            # Re-announce: the first attempt may have died between commit and publish.
            batch.updates.append(self.update(row, "updated", replayed_escalation=esc.key))
            return Filed(row.id, created=False, replayed=True)
        customer = records.customer_for(
            session, esc.customer.number, esc.customer.email, esc.customer.name
        )
        join = None
        if customer is not None:
            mine = session.execute(
                select(Ticket.id, Ticket.status).where(
                    Ticket.customer_id == customer.id, Ticket.merged_into_id.is_(None)
                )
            ).all()
            join = ticket_to_join([(n, Status(s)) for n, s in mine])
        if join is not None:
            row = records.ticket(session, join)
            self.drive(session, batch, row, Escalated(esc.priority), f"escalation:{esc.source}")
            batch.updates.append(self.update(row, "message", escalation=esc.source))
        else:
            row = self.open_ticket(
                session,
                batch,
                customer,
                subject=esc.summary,
                category=esc.category,
                priority=esc.priority,
                channel=esc.channel.value,
                source=esc.source,
                waiting_since=esc.waiting_since,
            )
            if customer is not None and customer.email:
                queue_mail(
                    session,
                    batch,
                    row,
                    acknowledgement(row),
                    automatic=True,
                    from_address=self.from_address,
                )
        records.add_message(
            session,
            row,
            direction="note",
            channel="phone",
            author=f"escalation:{esc.source}",
            body=_describe(esc),
            now=batch.now,
            subject=esc.summary,
        )
        if (
            records.call_exists(session, esc.call_id)
            and session.get(TicketLink, (row.id, esc.call_id)) is None
        ):
            session.add(
                TicketLink(
                    ticket_id=row.id,
                    call_id=esc.call_id,
                    source=esc.source,
                    created_at=batch.now,
                    data=_link_data(esc),
                )
            )
        elif esc.call_id is not None:
            records.audit(
                session,
                row.id,
                "system",
                "call_not_linked",
                batch.now,
                call_id=esc.call_id,
                reason="no CDR with that id yet",
            )
        session.add(EscalationKey(key=esc.key, ticket_id=row.id, created_at=batch.now))
        return Filed(row.id, created=join is None)

    # --- SLA -----------------------------------------------------------------------------

    async def check_sla(self) -> int:
        """Tick every ticket whose clock runs; return how many actions that caused."""

        def work(session: Session, batch: Batch) -> int:
            rows = session.scalars(
                select(Ticket).where(
                    Ticket.status.in_(("new", "open")), Ticket.merged_into_id.is_(None)
                )
            ).all()
            return sum(len(self.drive(session, batch, row, Tick(), "sla")) for row in rows)

        return await self.transact(work)


def _describe(esc: Escalation) -> str:
    lines = [esc.summary]
    if esc.agent:
        lines.append(f"Agent: {esc.agent}")
    if esc.notes:
        lines.append(f"Notes: {esc.notes}")
    if esc.recording:
        lines.append(f"Recording: {esc.recording}")
    lines += [f"Survey {q}: {v}" for q, v in esc.survey_answers]
    return "\n".join(lines)


def _link_data(esc: Escalation) -> dict[str, Any]:
    return {
        "recording": esc.recording,
        "agent": esc.agent,
        "notes": esc.notes,
        "survey_answers": [list(a) for a in esc.survey_answers],
        "waiting_since": esc.waiting_since.isoformat(),
    }
