"""An agent's disposition on a call: stored on the CDR, and escalated when it is one of the
unresolved codes (``backoffice.escalation.unresolved_dispositions``).

Dispositions usually come after the conversation (in wrap-up), so this works on the stored
call record; on a campaign's call the dialer's attempt takes it too, and the lead moves by it
(``dnc`` puts the number on the do-not-call list, retry rules by disposition apply).
Setting the same disposition again changes nothing and files no second ticket.

``callback`` with a time (``callback_at``) books a scheduled callback for the lead
(:mod:`dialer.callbacks`): the lead is called then, by anyone or by its owner only
(``callback_owner``: ``me``, an agent's code, or ``none``), instead of after the callback
rule's fixed delay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.bus import CallUpdate
from callcenter.calls.escalations import CallEscalations
from callcenter.errors import NotFound
from callcenter.store import Database
from callcenter.store.models import Agent, Call, CallEvent, Disposition
from callcenter.tickets import escalation as rules
from dialer import attempts, callbacks
from dialer.callback_times import CallbackTimeError


class UnknownDisposition(ValueError):
    pass


@dataclass(frozen=True)
class Dispositioned:
    call_id: str
    code: str
    resolved: bool
    event: rules.CallDispositioned
    callback: callbacks.Booked | None = None
    #: The news for the bus once committed (``dispositioned``): the agent's desk clears the call.
    update: CallUpdate | None = None


async def set_disposition(
    db: Database,
    escalations: CallEscalations,
    call_id: str,
    code: str,
    notes: str = "",
    callback_at: str | None = None,
    callback_owner: str | None = None,
    now: datetime | None = None,
) -> Dispositioned:
    """Raises :class:`NotFound`, :class:`UnknownDisposition`, and for a callback time
    :class:`~dialer.callback_times.CallbackTimeError` or :class:`~dialer.callbacks.
    CallbackError` (each saying what to send)."""
    at = now or datetime.now(UTC)
    if callback_at is None and callback_owner is not None:
        raise callbacks.CallbackRequestError(
            "callback_owner goes with callback_at: send the time of the callback too")
    if callback_at is not None and code != attempts.CALLBACK:
        raise CallbackTimeError(f"callback_at goes with the disposition {attempts.CALLBACK!r}, "
                                f"not {code!r}: send code callback, or leave callback_at out")

    def write(s: Session) -> Dispositioned:
        call = s.get(Call, call_id)
        if call is None:
            raise NotFound(f"no call {call_id!r}: see the call records (GET /api/calls)")
        disp = s.scalar(select(Disposition).where(Disposition.code == code, Disposition.active))
        if disp is None:
            known = ", ".join(s.scalars(select(Disposition.code).where(Disposition.active)))
            raise UnknownDisposition(f"disposition {code!r} is unknown: use one of {known}")
        if call.disposition_id != disp.id or notes:
            call.disposition_id = disp.id
            # A campaign call: the attempt keeps it and the lead follows it (DNC, retries).
            attempts.apply_disposition(s, call_id, code, at)
            seq = (
                s.scalar(select(func.max(CallEvent.seq)).where(CallEvent.call_id == call_id)) or 0
            ) + 1
            s.add(
                CallEvent(
                    call_id=call_id,
                    seq=seq,
                    kind="disposition",
                    data={"code": code, "notes": notes},
                )
            )
        queued = s.scalar(
            select(CallEvent.at)
            .where(CallEvent.call_id == call_id, CallEvent.kind == "queued")
            .order_by(CallEvent.seq)
            .limit(1)
        )
        recording = s.scalar(
            select(CallEvent.data)
            .where(CallEvent.call_id == call_id, CallEvent.kind == "recording")
            .order_by(CallEvent.seq)
            .limit(1)
        )
        agent = s.get(Agent, call.agent_id) if call.agent_id is not None else None
        booked = None
        if callback_at is not None:
            me = agent.code if agent is not None else None
            owner = callbacks.owner_code(s, callback_owner, me)
            booked = callbacks.book(s, call_id, callback_at, owner, notes, me or "api", at)
        since = queued or call.started_at
        event = rules.CallDispositioned(
            call_id=call_id,
            caller=call.caller,
            disposition=code,
            agent=agent.code if agent is not None else "",
            waiting_since=since if since.tzinfo else since.replace(tzinfo=UTC),
            notes=notes,
            recording=(recording or {}).get("path"),
        )
        update = CallUpdate.model_validate({
            "call_id": call_id, "kind": "dispositioned", "direction": call.direction,
            "voice_layer": call.voice_layer, "caller": call.caller, "dialed": call.dialed,
            "agent_id": event.agent or None, "detail": {"code": code}})
        return Dispositioned(call_id, code, disp.resolved, event, booked, update)

    done = await db.run(write)
    if not done.resolved:
        await escalations.file(done.event)
    return done


async def active(db: Database) -> list[dict[str, object]]:
    """The active disposition codes, in their order: what a desktop offers."""

    def read(s: Session) -> list[dict[str, object]]:
        rows = s.scalars(select(Disposition).where(Disposition.active).order_by(Disposition.id))
        return [{"code": d.code, "label": d.label, "resolved": d.resolved} for d in rows]

    return await db.run(read)
