"""The conversation between a caller and an agent, and what the agent can do with it.

:func:`talk` bridges the two legs, records them, and serves control requests delivered to the
call (from the agent desktop's API) until the agent or the caller ends it:

- :class:`Hold` / :class:`Resume`: the caller hears music and the agent silence, then back;
- :class:`Transfer` to ``queue:NAME`` (the caller waits again, keeping the original enqueue
  time, so the transfer does not send them to the back of the line), or to a number or SIP URI
  (blind: the engine calls the target and bridges the caller to it when it answers);
- :class:`Transfer` with ``attended``: the caller is held while the agent talks to the target;
  :class:`CompleteTransfer` joins caller and target, :class:`CancelTransfer` goes back.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from callcenter import acd, ivr
from callcenter.ivr.events import QueueOutcome
from callcenter.voice.sip import events as ev
from callcenter.voice.sip.agents import AgentReleased
from callcenter.voice.sip.inbound import SipCall, now, queue_result
from callcenter.voice.sip.recording import ConversationRecording

if TYPE_CHECKING:
    from callcenter.voice.sip.layer import SipVoiceLayer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hold:
    pass


@dataclass(frozen=True)
class Resume:
    pass


@dataclass(frozen=True)
class Transfer:
    to: str  # "queue:NAME", a number or a SIP URI
    attended: bool = False


@dataclass(frozen=True)
class CompleteTransfer:
    pass


@dataclass(frozen=True)
class PauseRecording:
    """Stop recording for a while (a card number is being read out); audited."""

    by: str
    reason: str


@dataclass(frozen=True)
class ResumeRecording:
    by: str


@dataclass(frozen=True)
class CancelTransfer:
    pass


Control = (
    Hold | Resume | Transfer | CompleteTransfer | CancelTransfer | PauseRecording | ResumeRecording
)
CONTROLS = (
    Hold,
    Resume,
    Transfer,
    CompleteTransfer,
    CancelTransfer,
    PauseRecording,
    ResumeRecording,
)


@dataclass(frozen=True)
class Requeued:
    """The conversation ended by a transfer to a queue: the caller waits there again."""

    queue: str


class _State:
    def __init__(self) -> None:
        self.music: int | None = None
        self.consult: int | None = None  # the target leg of an attended transfer
        self.recording: ConversationRecording | None = None


async def talk(layer: SipVoiceLayer, call: SipCall, agent_id: str) -> ivr.Event | Requeued:
    assert call.agent_leg is not None
    stack, agent_leg, nailed = layer.stack, call.agent_leg, call.nailed
    # Connected from here on for the ACD and the record, even if the bridge fails (the caller
    # hung up that instant): the call's end then completes the task and frees the agent.
    call.rec.agent, call.rec.connected_at = agent_id, now()
    try:
        await stack.bridge(call.leg, agent_leg, stop_playback=call.take_prompt())
        bridged = True
    except LookupError:  # a leg ended this instant: its LegEnded (next) ends the conversation
        bridged = False
    # On the bus (cc/<tenant>/calls/<id>, kind "connected") with the campaign's lead: the
    # agent desktop's screen pop.
    layer.cdr.note(call.rec, "connected", {"agent": agent_id, **call.screen_pop},
                   announce="connected")
    started, state = time.monotonic(), _State()
    if layer.settings.sip.record_calls and bridged:
        state.recording = await ConversationRecording.start(
            layer, call.rec.call_id, call.leg, agent_leg
        )
        call._recording = state.recording.recorder
        await layer.cdr.event(
            call.rec,
            "recording",
            {"path": str(state.recording.path), "channels": 2 if state.recording.stereo else 1},
        )
    outcome: ivr.Event | Requeued | None = None
    try:
        while outcome is None:
            item = await call.next(
                None,
                lambda i: (
                    (
                        isinstance(i, (ev.LegEnded, ev.LegAnswered))
                        and i.leg_id in (agent_leg, state.consult)
                    )
                    or isinstance(i, (AgentReleased, *CONTROLS))
                ),
            )
            outcome = await _handle(layer, call, agent_id, agent_leg, state, item)
    finally:
        if state.recording is not None:
            call._recording = None
            await state.recording.stop()
        if state.music is not None:
            await stack.stop_playback(state.music)
        if state.consult is not None:  # an attended transfer left half-way
            await stack.hangup(state.consult, 200)
        await layer.cdr.leg(
            call.rec,
            "agent",
            "nailed-up line" if nailed else layer.directory.agents[agent_id].sip_uri or "",
            agent=agent_id,
            answered_at=call.rec.connected_at,
            ended_at=now(),
        )
    call.digits = ""  # keys pressed while talking to the agent were for the agent
    log.info("conversation with agent %s ended after %.1f s", agent_id, time.monotonic() - started)
    return outcome


async def _handle(
    layer: SipVoiceLayer, call: SipCall, agent_id: str, agent_leg: int, state: _State, item: object
) -> ivr.Event | Requeued | None:
    stack = layer.stack
    match item:
        case ev.LegEnded(leg_id=leg) if leg == state.consult:
            state.consult = None
            await _resume(layer, call, agent_leg, state)  # the target hung up: back to the caller
            return None
        case ev.LegEnded(leg_id=leg) if leg == agent_leg:
            await _agent_done(layer, call, released=False)
            return queue_result(QueueOutcome.SERVED, agent_id)
        case AgentReleased():
            await _agent_done(layer, call, released=isinstance(item, AgentReleased))
            return queue_result(QueueOutcome.SERVED, agent_id)
        case Hold() if state.music is None:
            await _hold(layer, call, agent_leg, state)
            await layer.cdr.event(call.rec, "held", {"agent": agent_id}, announce="held")
        case Resume() if state.music is not None and state.consult is None:
            await _resume(layer, call, agent_leg, state)
            await layer.cdr.event(call.rec, "resumed", {"agent": agent_id}, announce="resumed")
        case Transfer(to=to) if to.startswith("queue:"):
            queue = to.removeprefix("queue:")
            await layer.cdr.event(
                call.rec, "transferred", {"to": to, "by": agent_id}, announce="transferred"
            )
            await layer.release_agent(call)
            call.agent_id = None
            await layer.acd.handle(acd.TaskTransferred(call.task_id, queue))
            return Requeued(queue)
        case Transfer(to=to, attended=False):
            await layer.cdr.event(
                call.rec, "transferred", {"to": to, "by": agent_id}, announce="transferred"
            )
            await _agent_done(layer, call, released=True)
            await layer.transfer(call, ivr.Transfer(to))
            # The flow waits for its queue node's result: served (by this agent, then the target).
            return queue_result(QueueOutcome.SERVED, agent_id)
        case Transfer(to=to, attended=True) if state.consult is None:
            await _hold(layer, call, agent_leg, state)
            state.consult = await stack.call(layer.target_uri(to), caller_id=call.rec.caller)
            layer.adopt_leg(state.consult, call)
            await layer.cdr.event(call.rec, "consulting", {"to": to, "by": agent_id})
        case ev.LegAnswered(leg_id=leg) if leg == state.consult:
            await stack.bridge(agent_leg, leg)
        case CompleteTransfer() if state.consult is not None:
            target, state.consult = state.consult, None
            with contextlib.suppress(LookupError):
                await stack.disconnect(agent_leg, target)
                await stack.disconnect(target, agent_leg)
            if state.music is not None:
                await stack.stop_playback(state.music)
                state.music = None
            await stack.bridge(call.leg, target)
            if state.recording is not None:
                await state.recording.agent_replaced(agent_leg, target)
            await layer.cdr.event(
                call.rec,
                "transferred",
                {"to": "consulted party", "by": agent_id, "attended": True},
                announce="transferred",
            )
            await _agent_done(layer, call, released=True)
            call.agent_leg = target  # the caller now talks to the target until one hangs up
            await call.next(None, lambda i: isinstance(i, ev.LegEnded) and i.leg_id == target)
            call.agent_leg = None
            return queue_result(QueueOutcome.SERVED, agent_id)
        case PauseRecording(by=by, reason=reason) if (
            state.recording is not None and not state.recording.paused
        ):
            await state.recording.pause(by, reason)
        case ResumeRecording(by=by) if state.recording is not None and state.recording.paused:
            await state.recording.resume(by)
        case CancelTransfer() if state.consult is not None:
            consult, state.consult = state.consult, None
            await stack.hangup(consult, 200)
            await _resume(layer, call, agent_leg, state)
        case _:
            log.info("ignored %s in the conversation's current state", type(item).__name__)
    return None


async def _hold(layer: SipVoiceLayer, call: SipCall, agent_leg: int, state: _State) -> None:
    with contextlib.suppress(LookupError):
        await layer.stack.disconnect(call.leg, agent_leg)
        await layer.stack.disconnect(agent_leg, call.leg)
    state.music = await layer.stack.play(call.leg, str(layer.hold_music), loop=True)


async def _resume(layer: SipVoiceLayer, call: SipCall, agent_leg: int, state: _State) -> None:
    if state.music is not None:
        await layer.stack.stop_playback(state.music)
        state.music = None
    await layer.stack.bridge(call.leg, agent_leg)


async def _agent_done(layer: SipVoiceLayer, call: SipCall, released: bool) -> None:
    """The agent's part is over: free their leg or line; wrap-up starts in the ACD."""
    if released:
        await layer.release_agent(call)
    call.agent_leg = None
    await layer.acd.handle(acd.TaskCompleted(call.task_id))
    call.agent_id = None
