"""Call detail records: one row per call with its legs and events, the same for SIP and Twilio.

A :class:`CallLog` follows one live call. Each write is committed to the database first and
announced on the bus after (``cc/<tenant>/calls/<id>``); events carry a per-call sequence
number, so a retried write (a Twilio callback delivered twice) cannot duplicate one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callcenter.bus import CallUpdate, EventBus
from callcenter.calls.directory import Directory
from callcenter.store import Database
from callcenter.store.models import Call, CallEvent, CallLeg, Disposition

log = logging.getLogger(__name__)

Kind = Literal[
    "started",
    "ivr",
    "queued",
    "offered",
    "connected",
    "transferred",
    "held",
    "resumed",
    "abandoned",
    "ended",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class CallLog:
    """The record of one call as it happens; ``CdrWriter`` persists it."""

    call_id: str
    direction: Literal["inbound", "outbound", "internal"]
    voice_layer: Literal["sip", "twilio"]
    caller: str = ""
    dialed: str = ""
    flow: str | None = None
    external_id: str | None = None
    started_at: datetime = field(default_factory=utcnow)
    answered_at: datetime | None = None
    queue: str | None = None
    queued_at: datetime | None = None
    agent: str | None = None
    connected_at: datetime | None = None
    ended_at: datetime | None = None
    hangup_cause: str | None = None
    hangup_by: str | None = None
    disposition: str | None = None
    seq: int = 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


class CdrWriter:
    def __init__(self, db: Database, bus: EventBus, directory: Directory) -> None:
        self.db = db
        self.bus = bus
        self.directory = directory

    def _announce(self, rec: CallLog, kind: Kind, detail: dict[str, Any] | None = None) -> None:
        self.bus.publish_event(
            CallUpdate(
                call_id=rec.call_id,
                kind=kind,
                direction=rec.direction,
                voice_layer=rec.voice_layer,
                caller=rec.caller,
                dialed=rec.dialed,
                queue=rec.queue,
                agent_id=rec.agent,
                detail=detail or {},
            )
        )

    async def started(self, rec: CallLog) -> None:
        def write(s: Session) -> None:
            s.add(
                Call(
                    id=rec.call_id,
                    direction=rec.direction,
                    voice_layer=rec.voice_layer,
                    caller=rec.caller,
                    dialed=rec.dialed,
                    flow=rec.flow,
                    external_id=rec.external_id,
                    started_at=rec.started_at,
                    tenant=self.bus.tenant,
                )
            )

        await self.db.run(write)
        self._announce(rec, "started")

    async def event(
        self,
        rec: CallLog,
        kind: str,
        data: dict[str, Any] | None = None,
        announce: Kind | None = None,
    ) -> None:
        """Append one event (IVR step, queue enter, offer, ...) to the call's history."""
        seq = rec.next_seq()

        def write(s: Session) -> None:
            s.add(CallEvent(call_id=rec.call_id, seq=seq, kind=kind, data=data or {}))

        try:
            await self.db.run(write)
        except IntegrityError:
            log.info("call %s event %d already recorded", rec.call_id, seq)
            return
        if announce is not None:
            self._announce(rec, announce, {"event": kind, **(data or {})})

    async def leg(
        self,
        rec: CallLog,
        role: str,
        remote: str,
        *,
        agent: str | None = None,
        external_id: str | None = None,
        answered_at: datetime | None = None,
        ended_at: datetime | None = None,
        cause: str | None = None,
    ) -> None:
        def write(s: Session) -> None:
            s.add(
                CallLeg(
                    call_id=rec.call_id,
                    role=role,
                    remote=remote,
                    agent_id=self.directory.agent_id(agent),
                    external_id=external_id,
                    answered_at=answered_at,
                    ended_at=ended_at,
                    hangup_cause=cause,
                )
            )

        await self.db.run(write)

    async def ended(self, rec: CallLog) -> None:
        ended_at = rec.ended_at = rec.ended_at or utcnow()

        def write(s: Session) -> None:
            call = s.get(Call, rec.call_id)
            if call is None:
                return
            call.answered_at = rec.answered_at
            call.ended_at = rec.ended_at
            call.queue_id = self.directory.queue_id(rec.queue)
            call.agent_id = self.directory.agent_id(rec.agent)
            if rec.queued_at is not None:
                until = rec.connected_at or ended_at
                call.queue_wait_s = (until - rec.queued_at).total_seconds()
            if rec.connected_at is not None:
                call.talk_s = (ended_at - rec.connected_at).total_seconds()
            call.hangup_cause = rec.hangup_cause
            call.hangup_by = rec.hangup_by
            if rec.disposition:
                disp = s.query(Disposition).filter_by(code=rec.disposition).one_or_none()
                call.disposition_id = disp.id if disp else None

        await self.db.run(write)
        self._announce(rec, "ended", {"cause": rec.hangup_cause, "by": rec.hangup_by})
