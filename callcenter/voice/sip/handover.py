"""Callers handed between engine nodes over SIP: one shared queue for the whole cluster.

With ``cluster.enabled`` one node leads the ACD (:mod:`callcenter.cluster.leadership`).
A caller's IVR runs where the call arrived; its ``Enqueue`` on any other node becomes a
handover (:mod:`callcenter.cluster.handover`): the node calls the leader's handover number
with the signed ``X-CC-Handover`` header, bridges the caller to that leg and waits. The
leader queues the caller with the original enqueue time, so callers of every node keep one
order and reach every agent; when its part is done (served, overflow, call-back) it ends the
leg with a BYE carrying ``X-CC-Result`` and the origin's flow goes on from there.

When the leader cannot take the caller (unreachable, not the leader any more, no answer) or
hands it back as ``moved`` (it is shutting down), or when another node takes the lead while
the caller waits (the leader died), the origin hands the caller to the leader of now with
the same enqueue time: the caller keeps the place. After :data:`MAX_TRIES` failures in a row,
or with no leader at all, the caller waits in this node's own queue rather than be lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from callcenter import ivr
from callcenter.cluster.handover import (
    HEADER,
    MOVED,
    RESULT_HEADER,
    Handover,
    HandoverError,
    parse_result,
    result_header,
    sign,
    verify,
)
from callcenter.cluster.leadership import AcdLeadership, Leader
from callcenter.ivr.events import QueueOutcome
from callcenter.voice.sip import events as ev
from callcenter.voice.sip.inbound import SipCall, now

if TYPE_CHECKING:
    from callcenter.voice.sip.layer import SipVoiceLayer

log = logging.getLogger(__name__)

#: Handovers in a row that may fail before the caller waits in this node's own queue.
MAX_TRIES = 6
#: Wait before trying again after the n-th failure: RETRY_FIRST_S doubled each time, at most
#: RETRY_MAX_S, +-25 % so that callers refused together do not all come back together
#: (the six tries span about 12 s: a new leader is known within a lease poll).
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 5.0
#: How long the leader may take to answer a handover.
ANSWER_S = 10.0
#: How often a caller waiting in this node's own queue looks whether a leader may take it.
RECHECK_S = 15.0


@dataclass(frozen=True)
class LeaderGone:
    """Delivered to the calls handed to ``node`` when another node took the lead from it."""

    node: str


@dataclass(frozen=True)
class LeaderFound:
    """Delivered to this node's callers waiting in its own queue (no leader took them) once
    another node leads the ACD and may take them: they go there, keeping their place."""

    node: str


class Relocated(Exception):  # noqa: N818 - what happened, like CallerGone
    """A caller left this node's own queue for the ACD's leader (:class:`LeaderFound`)."""


def retry_delay(failures: int, jitter: float | None = None) -> float:
    """Seconds to wait after ``failures`` failed handovers in a row (``jitter`` in [0, 1):
    random when not given)."""
    base = min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** max(0, failures - 1))
    return base * (0.75 + 0.5 * (random.random() if jitter is None else jitter))


def handover_uri(sip_uri: str, number: str) -> str:
    """``sip:10.0.0.5:5070;transport=tcp`` + ``cc-handover`` -> ``sip:cc-handover@10.0.0.5:5070;
    transport=tcp`` (a URI that names a user already keeps it)."""
    scheme, _, rest = sip_uri.partition(":")
    if "@" in rest.split(";", 1)[0]:
        return sip_uri
    return f"{scheme}:{number}@{rest}"


class Handovers:
    """Both sides of a handover for one SIP layer."""

    def __init__(self, layer: SipVoiceLayer, leadership: AcdLeadership, secret: bytes,
                 number: str) -> None:
        self.layer = layer
        self.leadership = leadership
        self.secret = secret
        self.number = number
        self.handed: dict[str, tuple[SipCall, str]] = {}  # call id -> (call, leader node)
        self.handed_in: dict[str, HandedOverCall] = {}  # this node's call id -> call
        #: Callers of this node waiting in its own queue because no leader took them.
        self.local: dict[str, SipCall] = {}
        self.refused = 0  # handover INVITEs refused (forged, stale, not the leader)
        self.handed_out = 0  # callers of this node the leader took (each handover)
        self.failed_out = 0  # handovers the leader did not take (tried again, or wait here)

    # ---- the origin's side ---------------------------------------------------------------
    def elsewhere(self) -> bool:
        """Whether callers queued here now go to another node (the leader)."""
        leader = self.leadership.leader
        return (not self.leadership.is_leader and leader is not None
                and leader.node != self.leadership.node and bool(leader.sip_uri))

    async def queue(self, call: SipCall, q: ivr.Enqueue) -> ivr.Event:
        """Wait in ``q.queue`` at the leader; in this node's own queue when no leader can take
        the caller, until one may (:class:`LeaderFound`). Returns the IVR's answer to the
        Enqueue."""
        since = call.waiting_since = call.waiting_since or time.time()
        call.rec.queue, call.rec.queued_at = q.queue, call.rec.queued_at or now()
        while True:
            result = await self._hand_until_taken(call, q, since)
            if result is not None:
                return result
            try:
                return await self._wait_here(call, q, since)
            except Relocated:
                log.info("call %s: the ACD leader may take the caller now: it goes there, in "
                         "the same place", call.rec.call_id)

    async def _hand_until_taken(self, call: SipCall, q: ivr.Enqueue,
                                since: float) -> ivr.QueueResult | None:
        """Hand the caller to the leader, again after a pause when that fails; ``None`` when
        no leader took it (:data:`MAX_TRIES` failures in a row, or no leader elsewhere)."""
        failures = 0
        while failures < MAX_TRIES and self.elsewhere():
            leader = self.leadership.leader
            assert leader is not None and leader.sip_uri
            result = await self._hand(call, q, leader, since)
            if isinstance(result, ivr.QueueResult):
                return result
            if result == MOVED:
                failures = 0
            else:
                failures += 1
                if failures < MAX_TRIES:
                    # The caller hears the hold music meanwhile; a hang-up ends the wait.
                    await call.next(retry_delay(failures), lambda _: False)
            await self.leadership.refresh()
        if failures:
            log.warning("call %s: no ACD leader took the caller after %d tries: it waits in "
                        "this node's own queue %s until one may", call.rec.call_id, failures,
                        q.queue)
        return None

    async def _wait_here(self, call: SipCall, q: ivr.Enqueue, since: float) -> ivr.Event:
        """Wait in this node's own queue; :class:`Relocated` when a leader elsewhere may take
        the caller (a change of leader, or every :data:`RECHECK_S` while one leads)."""
        await call.stop_prompt()  # the queue here plays its own music
        cid = call.rec.call_id
        self.local[cid] = call
        loop = asyncio.get_running_loop()
        timer: list[asyncio.TimerHandle] = []

        def recheck() -> None:
            leader = self.leadership.leader
            if self.elsewhere() and leader is not None:
                call.deliver(LeaderFound(leader.node))
            timer[:] = [loop.call_later(RECHECK_S, recheck)]

        timer.append(loop.call_later(RECHECK_S, recheck))
        try:
            return await self.layer.queueing(call, q, waited_s=time.time() - since)
        finally:
            timer[0].cancel()
            self.local.pop(cid, None)

    async def _hand(self, call: SipCall, q: ivr.Enqueue, leader: Leader,
                    since: float) -> ivr.QueueResult | str:
        """One handover to ``leader``: the result, :data:`MOVED`, or why it failed."""
        stack = self.layer.stack
        token = sign(Handover(call.rec.call_id, self.leadership.node, q, since, time.time(),
                              call.rec.caller,
                              {k: str(v) for k, v in call.screen_pop.items()},
                              call.rec.dialed), self.secret)
        assert leader.sip_uri
        if call._playing is None:  # still on from a try that failed: it plays on
            call._playing = await stack.play(call.leg, str(q.hold_music or self.layer.hold_music),
                                             loop=True)
        leg = await stack.call(handover_uri(leader.sip_uri, self.number),
                               caller_id=call.rec.caller, headers={HEADER: token})
        self.layer.adopt_leg(leg, call)
        call.agent_leg = leg  # hung up with the call, whatever ends it
        self.handed[call.rec.call_id] = (call, leader.node)
        try:
            item = await call.next(ANSWER_S, lambda i: (
                isinstance(i, (ev.LegAnswered, ev.LegEnded)) and i.leg_id == leg
            ) or isinstance(i, LeaderGone))
            if not isinstance(item, ev.LegAnswered):
                self.failed_out += 1
                await self.layer.release_agent(call)
                why = (f"{item.code} {item.reason}" if isinstance(item, ev.LegEnded)
                       else "the leader's node left" if isinstance(item, LeaderGone)
                       else f"no answer in {ANSWER_S:g} s")
                log.warning("call %s: the ACD leader %s did not take the caller: %s",
                            call.rec.call_id, leader.node, why)
                return why
            self.handed_out += 1
            with contextlib.suppress(LookupError):  # a leg ended: its LegEnded comes next
                await stack.bridge(call.leg, leg, stop_playback=call.take_prompt())
            self.layer.cdr.note(call.rec, "handed_over",
                                {"queue": q.queue, "leader": leader.node, "term": leader.term})
            item = await self._relay_keys(call, leg)
            if isinstance(item, LeaderGone):
                await self.layer.release_agent(call)
                self.layer.cdr.note(call.rec, "handover_result",
                                    {"leader": leader.node, "result": "leader gone"})
                log.warning("call %s: the ACD leader %s is gone; the caller queues again at "
                            "the new leader, in the same place", call.rec.call_id, leader.node)
                return MOVED
            assert isinstance(item, ev.LegEnded)
            call.agent_leg = None
            outcome, agent, connected_at = parse_result(item.result)
            self.layer.cdr.note(call.rec, "handover_result",
                                {"leader": leader.node, "result": item.result or "none"})
            if outcome is None:
                return MOVED
            if agent:
                call.rec.agent = agent
            if connected_at is not None:  # this record's queue wait ends there, its talk starts
                call.rec.connected_at = datetime.fromtimestamp(connected_at, UTC)
            # A call-back: the leader keeps the place and calls back (not this node).
            call.kept_elsewhere = outcome is QueueOutcome.CALLBACK
            return ivr.QueueResult(outcome, agent, now=now())
        finally:
            self.handed.pop(call.rec.call_id, None)

    async def _relay_keys(self, call: SipCall, leg: int) -> ev.LegEnded | LeaderGone:
        """Until the leader's leg ends: the caller's keys go on to the leader (the bridge
        carries audio only; a call-back key, say, must reach the queue there)."""
        while True:
            item = await call.next(None, lambda i: (
                isinstance(i, (ev.LegEnded, ev.DtmfReceived)) and i.leg_id in (leg, call.leg)
            ) or isinstance(i, LeaderGone))
            if isinstance(item, (ev.LegEnded, LeaderGone)):
                return item
            if isinstance(item, ev.DtmfReceived) and item.leg_id == call.leg:
                try:
                    await self.layer.stack.send_dtmf(leg, item.digit)
                except LookupError:
                    pass  # the leader's leg is ending: its LegEnded comes next
                except Exception as exc:  # pjsua refused (no telephone-event agreed)
                    log.warning("call %s: key %r not passed to the leader: %s",
                                call.rec.call_id, item.digit, exc)

    async def leader_changed(self, old: Leader | None, new: Leader | None) -> None:
        """Another node leads now: callers handed to the old leader queue again at the new,
        and callers waiting in this node's own queue go to it."""
        if new is not None and self.elsewhere():
            for waiting in list(self.local.values()):
                waiting.deliver(LeaderFound(new.node))
        if old is None or (new is not None and new.node == old.node):
            return
        for call, node in list(self.handed.values()):
            if node == old.node:
                call.deliver(LeaderGone(node))

    def relay_line(self, event: ev.IncomingCall) -> RelayedLine | None:
        """An agent's nailed-up line to relay to the leader, when another node leads."""
        if not self.elsewhere():
            return None
        leader = self.leadership.leader
        assert leader is not None
        return RelayedLine(self.layer, event, leader)

    # ---- the leader's side ---------------------------------------------------------------
    def vouch(self, value: str) -> bool:
        """Whether an ``X-CC-Handover`` value is a genuine, fresh handover (the pj thread's
        admission lets those through overload and rate limits: callers already answered)."""
        try:
            verify(value, self.secret, time.time())
        except HandoverError:
            return False
        return True

    def incoming(self, event: ev.IncomingCall) -> HandedOverCall | None:
        """A handover INVITE: the call that queues the caller here (the layer runs it), or
        ``None`` once it is refused (403 forged or stale, 503 when this node does not lead
        the ACD)."""
        layer = self.layer
        try:
            handover = verify(event.handover, self.secret, time.time())
        except HandoverError as exc:
            self.refused += 1
            log.warning("refused a handover from %s: %s", event.source, exc)
            layer._spawn(layer.stack.hangup(event.leg_id, 403))
            return None
        if not self.leadership.is_leader:
            self.refused += 1
            leader = self.leadership.leader
            log.info("refused the handover of call %s from %s: this node does not lead the "
                     "ACD (%s does)", handover.call_id, handover.origin,
                     leader.node if leader else "nobody")
            layer._spawn(layer.stack.hangup(event.leg_id, 503))
            return None
        call = HandedOverCall(self, event, handover)
        self.handed_in[call.rec.call_id] = call
        return call

    async def give_back(self) -> None:
        """This node stops leading (it is shutting down): every caller handed in and not
        talking to an agent goes back to its node, which queues it at the next leader."""
        for call in list(self.handed_in.values()):
            if call.rec.connected_at is None or call.agent_leg is None:
                await call.give_back()


class RelayedLine(SipCall):
    """An agent's nailed-up line dialed into this node while another leads the ACD: relayed
    to the leader's login number (a B2BUA: audio bridged, keys passed on), where the agent
    logs in, so that the agent's calls come from the one queue."""

    def __init__(self, layer: SipVoiceLayer, incoming: ev.IncomingCall, leader: Leader) -> None:
        super().__init__(layer, incoming, flow=None)
        self.leader = leader
        self.rec.direction = "internal"

    async def _run(self) -> None:
        layer, number = self.layer, self.layer.settings.sip.agent_login_number
        assert self.leader.sip_uri
        layer.cdr.note_started(self.rec)
        leg = await self.stack.call(handover_uri(self.leader.sip_uri, number),
                                    caller_id=self.rec.caller)
        layer.adopt_leg(leg, self)
        self.agent_leg = leg  # hung up with the line
        item = await self.next(ANSWER_S, lambda i: isinstance(i, (ev.LegAnswered, ev.LegEnded))
                               and i.leg_id == leg)
        if not isinstance(item, ev.LegAnswered):
            log.warning("agent line from %s: the ACD leader %s did not answer its login "
                        "number", self.incoming.source, self.leader.node)
            self.rec.hangup_by, self.rec.hangup_cause = "engine", "ACD leader unreachable"
            await layer.release_agent(self)
            await self.stack.hangup(self.leg, 503)
            self.gone = True
            return
        if not await self.answer_with_audio():
            await layer.release_agent(self)
            return
        with contextlib.suppress(LookupError):  # a leg ended: its LegEnded comes next
            await self.stack.bridge(self.leg, leg)
        layer.cdr.note(self.rec, "relayed_to_leader", {"leader": self.leader.node})
        while True:
            key = await self.next(None, lambda i: isinstance(i, (ev.DtmfReceived, ev.LegEnded))
                                  and i.leg_id in (leg, self.leg))
            if isinstance(key, ev.LegEnded):
                self.agent_leg = None
                self.rec.hangup_by = "agent"
                return
            if isinstance(key, ev.DtmfReceived) and key.leg_id == self.leg:
                with contextlib.suppress(LookupError):
                    await self.stack.send_dtmf(leg, key.digit)


class HandedOverCall(SipCall):
    """A caller another node handed to this one, the ACD leader: no flow here, only the
    queue (music, announcements, agents), then the leg ends with the result."""

    def __init__(self, handovers: Handovers, incoming: ev.IncomingCall,
                 handover: Handover) -> None:
        super().__init__(handovers.layer, incoming, flow=None)
        self.handovers = handovers
        self.handover = handover
        self.rec.caller = handover.caller or incoming.caller
        self.screen_pop: dict[str, object] = dict(handover.screen_pop)
        self.waiting_since = handover.enqueued_at
        self.shown_number = handover.dialed or incoming.dialed

    async def _run(self) -> None:
        h, layer = self.handover, self.layer
        layer.cdr.note_started(self.rec)
        if not await self.answer_with_audio():  # the origin gave up already, or no audio
            return
        self.listen_for_keys()
        layer.cdr.note(self.rec, "handed_in", {"origin": h.origin, "call": h.call_id})
        result = await layer.queueing(self, h.enqueue, waited_s=time.time() - h.enqueued_at)
        connected = self.rec.connected_at
        back = result_header(_as_result(result),
                             connected.timestamp() if connected is not None else None)
        self.rec.hangup_by, self.rec.hangup_cause = "engine", f"handed back: {back}"
        await self.stack.hangup(self.leg, 200, {RESULT_HEADER: back})
        self.gone = True  # ended with its result: nothing more to hang up

    async def give_back(self) -> None:
        """Hand the caller back as ``moved`` (the origin queues it at the next leader)."""
        self.moving = True
        self.rec.hangup_by, self.rec.hangup_cause = "engine", "handed back: moved"
        await self.stack.hangup(self.leg, 200, {RESULT_HEADER: MOVED})  # its queue wait ends

    async def _finish(self) -> None:
        self.handovers.handed_in.pop(self.rec.call_id, None)
        await super()._finish()


def _as_result(event: Any) -> ivr.QueueResult | None:
    return event if isinstance(event, ivr.QueueResult) else None

