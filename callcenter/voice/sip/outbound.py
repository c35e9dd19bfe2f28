"""Outbound calls for the dialer over SIP: the :class:`~dialer.ports.OutboundPort` of the SIP
layer.

Each ``place`` dials ``request.number`` through ``sip.outbound_gateway``, rings at least
``ring_timeout_s`` (the runner never asks for less than 15 s), and reports progress. An answered
call then runs the campaign's flow (a survey: answers and the opt-out key are reported as they
come), or for telemarketing goes to the campaign's queue when an agent is free at once and
otherwise hears the drop message (``request.flow``) and counts as abandoned: the 2-second rule
is kept by never making a live person wait for an agent. The call gets a CDR like any other
(direction ``outbound``).

A preview call (``request.agent`` set: the agent chose the lead and waits for it) goes to that
agent, not to the queue's line: bridged at once onto their nailed-up line, or their SIP phone
rung (the person hears music meanwhile). The agent, paused with reason "preview" while
previewing, takes no queue call meanwhile; once connected, the ACD is given the call as a task
assigned to them (``TaskAssigned`` in the campaign's queue): they show busy, their talk time
counts, the queue's wrap-up follows, and a transfer to a queue works as for any queued call.
An agent who cannot be reached (no line and no phone, busy, no answer) leaves the person to the
campaign's drop message: abandoned, with the reason in the outcome's cause.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import TYPE_CHECKING

from callcenter import acd, ivr
from callcenter.calls.flows import FlowCache
from callcenter.voice.sip import events as ev
from callcenter.voice.sip.conversation import Requeued, talk
from callcenter.voice.sip.inbound import CallerGone, SipCall, now
from callcenter.voice.sip.machine_detection import detect_machine
from dialer.amd import Verdict
from dialer.ports import (
    Answered,
    AnswerGiven,
    CallOutcome,
    DialRequest,
    OptedOut,
    ProgressSink,
    Result,
    Ringing,
    result_from_sip,
)

if TYPE_CHECKING:
    from callcenter.voice.sip.layer import SipVoiceLayer

log = logging.getLogger(__name__)

AGENT_RING_S = 15.0  # how long a preview agent's phone rings without a queue's own timeout


class OutboundCall(SipCall):
    def __init__(
        self,
        layer: SipVoiceLayer,
        request: DialRequest,
        report: ProgressSink,
        flow: ivr.Flow | None,
    ) -> None:
        placeholder = ev.IncomingCall(-1, request.caller_id, "", request.number, "", "")
        super().__init__(layer, placeholder, flow)
        self.rec.direction = "outbound"
        self.rec.caller, self.rec.dialed = request.caller_id, request.number
        self.rec.external_id = None
        self.request, self.report = request, report
        self.screen_pop = request.screen_pop()
        self.answers: list[AnswerGiven] = []
        self.opted_out = False
        self.unreached = ""  # why the preview agent could not be reached

    async def on_notification(self, action: ivr.Action) -> None:
        await super().on_notification(action)
        if isinstance(action, ivr.SurveyAnswer):
            answer = AnswerGiven(action.question_id, str(action.value))
            self.answers.append(answer)
            await self.report(answer)
        elif isinstance(action, ivr.AddToDoNotCall):
            self.opted_out = True
            await self.report(OptedOut())

    async def place(self) -> CallOutcome:
        layer, r = self.layer, self.request
        await layer.cdr.started(self.rec)
        started = time.monotonic()
        target = r.number if r.number.startswith("sip:") else layer.outbound_uri(r.number)
        self.leg = await self.stack.call(target, caller_id=r.caller_id, present=True)
        layer.adopt(self)
        answered, media, code, cause = False, False, 0, ""
        progress = (ev.LegRinging, ev.LegAnswered, ev.LegMediaReady)
        try:
            deadline = started + r.ring_timeout_s
            while not answered:
                item = await self.next(
                    max(0.0, deadline - time.monotonic()),
                    lambda i: isinstance(i, progress) and i.leg_id == self.leg,
                )
                if item is None:  # rang long enough: give up
                    await self.stack.hangup(self.leg, 487)
                    code, cause = 480, "no answer"
                    break
                if isinstance(item, ev.LegRinging):
                    await self.report(Ringing())
                elif isinstance(item, ev.LegMediaReady):
                    media = True  # pjsua2 reports the 200's SDP before the call is confirmed
                else:
                    answered = True
            ring_s = time.monotonic() - started
            if not answered:
                await self._wait_gone()
                return self._outcome(result_from_sip(code, False), ring_s, cause)
            self.rec.answered_at = now()
            if not media:
                await self.next(
                    5.0, lambda i: isinstance(i, ev.LegMediaReady) and i.leg_id == self.leg)
            human = await self._screen() if r.amd else True
            await self.report(Answered(human=human))
            if not human:
                await self.stack.hangup(self.leg, 200)
                return self._outcome(Result.MACHINE, ring_s, "answering machine")
            result = await self._serve()
            cause = f"answered; {self.unreached}" if self.unreached else "answered"
            return self._outcome(result, ring_s, cause)
        except CallerGone:
            ended = self.gone_code
            if not answered:
                return self._outcome(
                    result_from_sip(ended, False),
                    time.monotonic() - started,
                    self.rec.hangup_cause or "",
                )
            return self._outcome(Result.HUMAN, time.monotonic() - started, "answered")
        finally:
            self.rec.hangup_by = "callee" if self.gone else "engine"
            await self._finish()
            layer.release(self)

    async def _screen(self) -> bool:
        """Answering-machine detection on the callee's first seconds; True for a person.

        NOTSURE goes to the person's side (as app_amd's users configure it): a live person
        dropped as a machine is worse than an agent hearing a greeting.
        """
        scratch = self.layer.recording_path(self.rec.call_id, "amd")
        found = await detect_machine(self.stack, self.leg, scratch)
        verdict = found.result
        await self.layer.cdr.event(self.rec, "amd", {
            "verdict": verdict.verdict.value, "reason": verdict.reason,
            "audio_s": round(verdict.decision_s, 3), "decision_ms": int(found.waited_s * 1000),
        })
        return verdict.verdict is not Verdict.MACHINE

    async def _serve(self) -> Result:
        """A person answered: the survey flow, or an agent if one is free right now."""
        r = self.request
        if r.agent is not None:
            if await self._to_agent(r.agent):
                return Result.HUMAN
            await self.run_flow()  # the drop message
            return Result.ABANDONED
        if r.kind == "telemarketing" and r.queue:
            if self.layer.free_agents(r.queue) > 0:
                await self.layer.queueing(self, ivr.Enqueue(r.queue))
                return Result.HUMAN
            await self.run_flow()  # the drop message
            return Result.ABANDONED
        await self.run_flow()
        return Result.HUMAN

    async def _to_agent(self, agent: str) -> bool:
        """Connect the person to the preview agent; False (and why, in ``unreached``) when
        the agent cannot be reached."""
        layer = self.layer
        line = layer.lines.get(agent)
        if line is not None and line.customer is None:
            self.agent_id, self.agent_leg, self.nailed = agent, line.leg, True
            line.customer = self
            layer.cdr.note(self.rec, "offered", {"agent": agent, "nailed": True,
                                                 "preview": True}, announce="offered")
            await line.connect_tone()
        elif not await self._ring_agent(agent):
            return False
        await self._assign(agent)
        # The task ends with the talk (or with the call, in ``_finish``): wrap-up follows.
        result = await talk(layer, self, agent)
        if isinstance(result, Requeued):  # the agent sent the person to a queue's line
            await layer.queueing(self, ivr.Enqueue(result.queue), transferred=True)
        return True

    async def _ring_agent(self, agent: str) -> bool:
        layer = self.layer
        if agent in layer.lines:
            self.unreached = f"agent {agent}'s nailed-up line is on another call"
            return False
        entry = layer.directory.agents.get(agent)
        if entry is None or not entry.sip_uri:
            self.unreached = (f"agent {agent} has no nailed-up line and no SIP URI: log in "
                              "on a line or set the agent's SIP URI")
            return False
        queue = layer.directory.queues.get(self.request.queue or "")
        ring_s = queue.config.no_answer_timeout_s if queue is not None else AGENT_RING_S
        self._playing = await self.stack.play(self.leg, str(layer.hold_music), loop=True)
        leg = await self.stack.call(entry.sip_uri, caller_id=self.rec.caller)
        self.agent_id, self.agent_leg = agent, leg
        layer.adopt_leg(leg, self)
        await layer.cdr.event(self.rec, "offered", {"agent": agent, "ring_s": ring_s,
                                                    "preview": True}, announce="offered")
        item = await self.next(ring_s, lambda i: isinstance(i, (ev.LegAnswered, ev.LegEnded))
                               and i.leg_id == leg)
        if isinstance(item, ev.LegAnswered):
            return True
        if item is None:
            await self.stack.hangup(leg, 487)
        self.agent_id = self.agent_leg = None
        why = f"{item.code} {item.reason}" if isinstance(item, ev.LegEnded) else "no answer"
        self.unreached = f"agent {agent} did not answer the preview call ({why})"
        await self.stop_prompt()
        return False

    async def _assign(self, agent: str) -> None:
        """The ACD did not route this call: give it to the agent as their task."""
        layer, task_id, queue = self.layer, self.rec.call_id, self.request.queue or ""
        layer.acd.register(task_id, self)  # offers come here after a transfer
        try:
            await layer.acd.handle(acd.TaskAssigned(task_id, queue, agent))
        except acd.ACDError as exc:
            # The call goes on: the agent answered. Only the ACD's view of them is off, and
            # its phone reports repair that (an agent unknown to it, logged out meanwhile).
            log.warning("preview call %s: the ACD refused to assign it to agent %s (%s); "
                        "the call goes on outside the ACD", task_id, agent, exc)

    async def run_flow(self) -> None:
        if self.session is None:
            return
        actions = self.session.handle(
            ivr.CallStarted(
                now=now(),
                caller=self.request.caller_id,
                dialed=self.request.number,
                call_id=self.rec.call_id,
                variables=dict(self.request.lead_fields),
            )
        )
        await self.drive(actions)

    async def _wait_gone(self) -> None:
        with contextlib.suppress(CallerGone):
            await self.next(5.0, lambda i: False)

    def _outcome(self, result: Result, ring_s: float, cause: str) -> CallOutcome:
        talk = None
        if self.rec.answered_at is not None:
            talk = (now() - self.rec.answered_at).total_seconds()
        return CallOutcome(
            result,
            self.rec.call_id,
            ring_s,
            talk,
            None,
            cause or self.rec.hangup_cause or "",
            self.opted_out,
            tuple(self.answers),
        )


class SipOutboundPort:
    """The dialer's way out over SIP."""

    def __init__(self, layer: SipVoiceLayer) -> None:
        self.layer = layer
        self.flows = FlowCache()

    async def place(self, request: DialRequest, report: ProgressSink) -> CallOutcome:
        call = OutboundCall(self.layer, request, report, self.flows.get(request.flow))
        return await call.place()
