"""What each agent's desktop shows, kept from the events of the bus: the agent's state (with
the pause reason and since when), the call they are on (the screen pop), and their last call
until they set its disposition.

Pure, as the ACD's router is: :meth:`Desks.apply` takes one bus message and returns the code
of the agent whose desk it changed (or ``None``); no I/O, no clock (the time of a view comes in
as ``now``). It reads only what the bus carries, so it works the same on one engine and on
several nodes sharing an MQTT broker:

- ``agent.state`` (``cc/<tenant>/agents/<code>/state``): the agent's state, reason and since;
- ``call.update`` (``cc/<tenant>/calls/<id>``): ``connected`` with the agent and the screen pop
  (``campaign``, ``number``, ``lead``) makes the agent's current call; ``held`` / ``resumed``
  mark it on hold or not; ``transferred`` by the agent or ``ended`` makes it their last call,
  awaiting a disposition; ``dispositioned`` clears it.

Messages are delivered at least once (QoS 1): a message whose ``event_id`` was seen lately
is ignored. A message that is not JSON, not of a known schema or not valid is ignored too: a
desk must not fall over on another node's newer or broken event.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from callcenter.bus.events import AgentState, CallUpdate, Envelope, Message

#: How many recent event ids are remembered to drop a redelivered message.
SEEN_IDS = 4096


@dataclass(frozen=True)
class DeskCall:
    """One call as the agent's screen pop shows it."""

    call_id: str
    direction: str  # inbound, outbound (a campaign's call) or internal
    number: str  # who called in, or who was called
    queue: str | None
    campaign: str | None
    lead: Mapping[str, Any]  # first_name, last_name, external_id and the CSV's own columns
    connected_at: datetime
    on_hold: bool = False
    ended_at: datetime | None = None
    script: str = ""  # the campaign's agent script with the lead's fields in

    def as_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "direction": self.direction,
            "number": self.number,
            "queue": self.queue,
            "campaign": self.campaign,
            "lead": dict(self.lead),
            "connected_at": self.connected_at.isoformat(),
            "on_hold": self.on_hold,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "script": self.script,
        }


@dataclass(frozen=True)
class Desk:
    """One agent's desk: ``current`` is the call they are on, ``last`` the one that awaits
    their disposition (ended, or passed on by a transfer)."""

    agent: str
    state: str = "logged_out"
    reason: str = ""
    since: datetime | None = None
    current: DeskCall | None = None
    last: DeskCall | None = None
    revision: int = 0  # how many changes this desk has seen

    def as_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "state": self.state,
            "reason": self.reason,
            "since": self.since.isoformat() if self.since else None,
            "in_state_s": round(max(0.0, (now - self.since).total_seconds()), 1)
            if self.since
            else None,
            "current": self.current.as_dict() if self.current else None,
            "last": self.last.as_dict() if self.last else None,
            "revision": self.revision,
        }


@dataclass
class Desks:
    """Every agent's desk, as the events seen so far make it."""

    _desks: dict[str, Desk] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)
    _seen_order: deque[str] = field(default_factory=deque)

    def get(self, agent: str) -> Desk:
        return self._desks.get(agent) or Desk(agent)

    def revision(self, agent: str) -> int:
        return self.get(agent).revision

    def apply(self, message: Message) -> str | None:
        """Take one bus message; the code of the agent whose desk changed, if any."""
        try:
            envelope = Envelope.model_validate_json(message.body)
            if envelope.schema_name == CallUpdate.schema_name:
                payload: CallUpdate | AgentState = CallUpdate.model_validate(envelope.data)
            elif envelope.schema_name == AgentState.schema_name:
                payload = AgentState.model_validate(envelope.data)
            else:
                return None
        except (ValidationError, ValueError):
            return None
        if not self._first_time(envelope.event_id):
            return None
        if isinstance(payload, AgentState):
            return self._state(payload)
        return self._call(payload, envelope.ts)

    def _first_time(self, event_id: str) -> bool:
        if event_id in self._seen:
            return False
        self._seen.add(event_id)
        self._seen_order.append(event_id)
        if len(self._seen_order) > SEEN_IDS:
            self._seen.discard(self._seen_order.popleft())
        return True

    def _state(self, p: AgentState) -> str:
        return self._put(self.get(p.agent_id), state=p.state, reason=p.reason, since=p.since)

    def _call(self, p: CallUpdate, at: datetime) -> str | None:
        match p.kind:
            case "connected" if p.agent_id:
                return self._connected(p, at)
            case "held" | "resumed":
                desk = self._on(p.call_id, p.agent_id)
                if desk is None or desk.current is None:
                    return None
                held = dataclasses.replace(desk.current, on_hold=p.kind == "held")
                return self._put(desk, current=held)
            case "transferred":
                by = p.detail.get("by")
                return self._finish(p.call_id, by if isinstance(by, str) else p.agent_id, None)
            case "ended":
                return self._finish(p.call_id, None, at)
            case "dispositioned":
                for desk in list(self._desks.values()):
                    if desk.last is not None and desk.last.call_id == p.call_id:
                        return self._put(desk, last=None)
        return None

    def _connected(self, p: CallUpdate, at: datetime) -> str:
        agent = p.agent_id
        assert agent is not None
        d = p.detail
        campaign, number, lead = d.get("campaign"), d.get("number"), d.get("lead")
        call = DeskCall(
            call_id=p.call_id,
            direction=p.direction,
            number=str(number or (p.dialed if p.direction == "outbound" else p.caller)),
            queue=p.queue,
            campaign=str(campaign) if campaign else None,
            lead=dict(lead) if isinstance(lead, Mapping) else {},
            connected_at=at,
            script=str(d.get("script") or ""),
        )
        for other in list(self._desks.values()):  # the call left them (a transfer not seen)
            if other.agent != agent and other.current and other.current.call_id == p.call_id:
                self._put(other, current=None, last=other.current)
        desk = self.get(agent)
        if desk.current is not None and desk.current.call_id == p.call_id:
            return self._put(desk, current=call)  # the same call again: no new "last"
        last = desk.current or desk.last  # a call still open there is over for them now
        return self._put(desk, current=call, last=last)

    def _on(self, call_id: str, agent: str | None) -> Desk | None:
        """The desk whose current call is ``call_id`` (the agent's, when the event names one)."""
        for desk in self._desks.values():
            if desk.current and desk.current.call_id == call_id and agent in (None, desk.agent):
                return desk
        return None

    def _finish(self, call_id: str, agent: str | None, at: datetime | None) -> str | None:
        desk = self._on(call_id, agent)
        if desk is None or desk.current is None:
            return None
        ended = dataclasses.replace(desk.current, on_hold=False, ended_at=at)
        return self._put(desk, current=None, last=ended)

    def _put(self, desk: Desk, **changes: Any) -> str:
        self._desks[desk.agent] = dataclasses.replace(
            desk, **changes, revision=desk.revision + 1
        )
        return desk.agent
