"""The back office as one object the engine starts and stops: ticket service, desk, mail in
and out, chat, and the SLA clock that ticks every ``sla_check_s``.

Built from :class:`~callcenter.config.BackofficeSettings` by :meth:`BackOffice.from_settings`.
It owns its tasks and servers: ``start`` creates them, ``stop`` cancels and closes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.bus.base import EventBus
from callcenter.config import BackofficeSettings
from callcenter.ivr.business_hours import BusinessHours, parse_time_range
from callcenter.store.database import Database
from callcenter.store.tickets import Ticket
from callcenter.tickets import (
    BackofficeTask,
    EscalationRules,
    Priority,
    SlaPlan,
    SlaPlans,
    TaskAssigner,
)

from .acd_assigner import AcdAssigner
from .chat import ChatDesk
from .desk import TicketDesk
from .email_in import InboundMailServer
from .email_out import Outbox, SmtpRelay
from .service import Checkpoint, TicketService, ticket_task

log = logging.getLogger(__name__)


def sla_plans(settings: BackofficeSettings) -> SlaPlans:
    weekly: dict[str, tuple[tuple[time, time], ...]] = {
        day: tuple(parse_time_range(r) for r in ranges)
        for day, ranges in settings.business_hours.items()
    }
    hours = BusinessHours(ZoneInfo(settings.timezone), weekly)
    return {
        Priority(name): SlaPlan(
            Priority(name),
            t.first_response_min * 60.0,
            t.resolution_min * 60.0,
            None if t.calendar == "24x7" else hours,
        )
        for name, t in settings.sla.items()
    }


def escalation_rules(settings: BackofficeSettings) -> EscalationRules:
    e = settings.escalation
    return EscalationRules(
        unresolved_dispositions=frozenset(e.unresolved_dispositions),
        abandon_after_s=e.abandon_after_s,
        survey_threshold=e.survey_threshold,
        repeat_caller_s=e.repeat_caller_h * 3600 if e.repeat_caller_h else None,
        voicemail=e.voicemail,
    )


class BackOffice:
    def __init__(
        self,
        settings: BackofficeSettings,
        db: Database,
        bus: EventBus,
        *,
        assigner: TaskAssigner | None = None,
        checkpoint: Checkpoint | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.rules = escalation_rules(settings)
        self.service = TicketService(
            db,
            bus,
            sla_plans(settings),
            assigner=assigner or AcdAssigner(),
            attachments_dir=settings.attachments_dir,
            checkpoint=checkpoint,
            from_address=settings.from_address,
            clock=clock,
        )
        relay = None
        if settings.relay_host:
            relay = SmtpRelay(
                settings.relay_host,
                settings.relay_port,
                settings.relay_username,
                settings.relay_password.get_secret_value() if settings.relay_password else None,
                settings.relay_starttls,
            )
        self.outbox = Outbox(db, relay, settings.from_address)
        self.service.mail_out = self._send_mail
        self.desk = TicketDesk(self.service)
        self.chats = ChatDesk(self.service, settings.chat_wait_s)
        self.mail_in = InboundMailServer(
            self.service, settings.smtp_host, settings.smtp_port, settings.max_message_bytes
        )
        self._sla_task: asyncio.Task[None] | None = None

    async def _send_mail(self) -> None:
        await self.outbox.flush()

    async def start(self) -> None:
        """Listen for mail, send what a previous run left pending, queue unassigned tickets,
        and start the SLA clock."""
        if not self.settings.enabled:
            return
        await self.mail_in.start()
        await self.outbox.flush()
        for task in await self.service.db.run(_unassigned):
            self.service.assigner.submit(task)
        self._sla_task = asyncio.create_task(self._tick(), name="sla clock")

    async def stop(self) -> None:
        if self._sla_task is not None:
            self._sla_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sla_task
            self._sla_task = None
        await self.mail_in.stop()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sla_check_s)
            try:
                await self.service.check_sla()
                await self.outbox.flush()
            except Exception:  # one bad round must not stop the clock for good
                log.exception("SLA check failed; trying again in %.0f s", self.settings.sla_check_s)


def _unassigned(session: Session) -> list[BackofficeTask]:
    rows = session.scalars(
        select(Ticket).where(
            Ticket.status.in_(("new", "open")),
            Ticket.assigned_agent_id.is_(None),
            Ticket.merged_into_id.is_(None),
        )
    ).all()
    return [ticket_task(row, row.created_at) for row in rows]
