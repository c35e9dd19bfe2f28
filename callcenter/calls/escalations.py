"""From calls to back-office tickets: the voice layers report what happened, the escalation
rules (``callcenter.tickets``) decide whether it becomes a ticket, and the back office files it
exactly once (an idempotency key per call and rule).

Both voice layers call the same two methods: :meth:`CallEscalations.on_notification` for the
IVR's ``CreateTicket`` (an ``escalate`` node: "not resolved? press 2", a low survey score, a
voicemail) and :meth:`CallEscalations.on_abandon` for a caller who gave up after waiting.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from callcenter import ivr
from callcenter.calls.cdr import CallLog
from callcenter.tickets import escalation as rules
from callcenter.tickets.model import Priority

if TYPE_CHECKING:
    from callcenter.backoffice import BackOffice

log = logging.getLogger(__name__)


class CallEscalations:
    def __init__(self, office: BackOffice | None) -> None:
        self.office = office

    async def file(self, event: rules.EscalationEvent) -> None:
        """File what the rules make of ``event`` (nothing, or one ticket, exactly once)."""
        if self.office is None:
            log.warning("no back office running: escalation of call %s not filed", event.call_id)
            return
        esc = rules.escalate(event, self.office.rules, datetime.now(UTC))
        if esc is not None:
            filed = await self.office.service.file_escalation(esc)
            log.info("call %s escalated (%s): %s", event.call_id, esc.source, filed)

    async def on_notification(self, rec: CallLog, action: ivr.Action) -> None:
        if not isinstance(action, ivr.CreateTicket):
            return
        try:
            priority = Priority(action.priority)
        except ValueError:
            priority = Priority.NORMAL
        await self.file(
            rules.IvrEscalated(
                call_id=rec.call_id,
                caller=rec.caller or action.caller,
                category=action.category,
                priority=priority,
                summary=action.summary,
                waiting_since=rec.queued_at or rec.started_at,
                recording=action.recording or None,
            )
        )

    async def on_abandon(self, rec: CallLog, queue: str) -> None:
        since = rec.queued_at or rec.started_at
        waited = (datetime.now(UTC) - since).total_seconds()
        await self.file(
            rules.CallAbandoned(
                call_id=rec.call_id,
                caller=rec.caller,
                queue=queue,
                waited_s=waited,
                waiting_since=since,
            )
        )
