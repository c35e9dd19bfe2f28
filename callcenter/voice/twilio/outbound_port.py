"""Outbound calls for the dialer over Twilio: the :class:`~dialer.ports.OutboundPort` of the
Twilio layer.

Each ``place`` dials ``request.number`` with :meth:`TwilioVoiceLayer.dial` (``Timeout`` = the
ring timeout, async AMD) and listens to the attempt (:class:`~.outbound.AttemptListener`): the
``ringing`` status callback is reported as :class:`~dialer.ports.Ringing`, the AMD verdict as
:class:`~dialer.ports.Answered` (``human`` from ``AnsweredBy``), the flow's survey answers and
opt-out as they come; the final status callback resolves the call through
:func:`~dialer.ports.result_from_twilio`. A survey runs the campaign's flow. Telemarketing
enqueues the person to the campaign's queue when an agent is free the moment they answer, and
otherwise plays the campaign's flow as the drop message and counts the call as abandoned, as
the SIP port does. The layer writes the CDR (direction ``outbound``).

A preview call (``request.agent``: the agent chose the lead) goes to that agent, never to the
queue: the person waits in ``<Enqueue>`` while the agent is rung, routed by a
:class:`~.preview.AgentRouting` rather than the ACD; when the agent cannot be reached the
campaign's flow plays as the drop message and the call counts as abandoned, as over SIP.
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING

from callcenter import ivr
from callcenter.calls.flows import FlowCache
from callcenter.ivr.model import FlowSpec
from callcenter.ivr.source import Flow, SourceMap
from callcenter.voice.twilio.call import FINAL_STATUSES, TwilioCall
from callcenter.voice.twilio.outbound import drop_waiting
from callcenter.voice.twilio.preview import AgentRouting
from dialer.ports import (
    Answered,
    AnswerGiven,
    CallOutcome,
    DialRequest,
    OptedOut,
    ProgressSink,
    Result,
    Ringing,
    result_from_twilio,
)

if TYPE_CHECKING:
    from callcenter.voice.twilio.layer import TwilioVoiceLayer


def _is_human(answered_by: str | None) -> bool:
    # One reading of AnsweredBy for both the progress report and the result.
    return result_from_twilio("completed", answered_by) is not Result.MACHINE


class _Listener:
    """One attempt's progress, from the layer's webhooks to the runner's ``report``."""

    def __init__(self, report: ProgressSink) -> None:
        self.report = report
        self.final: asyncio.Future[tuple[str, str | None]] = (
            asyncio.get_running_loop().create_future()
        )
        self.rang = False
        self.answered = False
        self.answers: list[AnswerGiven] = []
        self.opted_out = False

    async def call_status(self, call_status: str, answered_by: str | None) -> None:
        if call_status == "ringing" and not self.rang:
            self.rang = True
            await self.report(Ringing())
        elif call_status in FINAL_STATUSES and not self.final.done():
            self.final.set_result((call_status, answered_by))

    async def machine_verdict(self, answered_by: str) -> None:
        await self.report_answered(answered_by)

    async def report_answered(self, answered_by: str | None) -> None:
        if not self.answered:
            self.answered = True
            await self.report(Answered(human=_is_human(answered_by)))

    async def notified(self, action: ivr.Action) -> None:
        if isinstance(action, ivr.SurveyAnswer):
            answer = AnswerGiven(action.question_id, str(action.value))
            self.answers.append(answer)
            await self.report(answer)
        elif isinstance(action, ivr.AddToDoNotCall) and not self.opted_out:
            self.opted_out = True
            await self.report(OptedOut())


class TwilioOutboundPort:
    """The dialer's way out over Twilio."""

    def __init__(self, layer: TwilioVoiceLayer) -> None:
        self.layer = layer
        self.flows = FlowCache()
        self._built: dict[str, ivr.Flow] = {}  # flows made in code (queue only, hang up)

    def _agent_flow(self, queue: str) -> ivr.Flow:
        """Telemarketing: straight to the queue (the drop check happened on answer)."""
        key = f"queue:{queue}"
        if key not in self._built:
            self._built[key] = _built_flow(
                f"dialer_{queue}",
                {
                    "agent": {
                        "type": "queue",
                        "queue": queue,
                        "announce_position": False,
                        "announce_wait_time": False,
                        "next": "done",
                        "on_overflow": "done",
                    },
                    "done": {"type": "hangup", "reason": "campaign call finished"},
                },
            )
        return self._built[key]

    def _hang_up_flow(self) -> ivr.Flow:
        """The drop of a campaign without a drop message: never keep a person waiting."""
        if "hangup" not in self._built:
            self._built["hangup"] = _built_flow(
                "dialer_drop", {"drop": {"type": "hangup", "reason": "no agent free"}}
            )
        return self._built["hangup"]

    async def place(self, request: DialRequest, report: ProgressSink) -> CallOutcome:
        layer = self.layer
        flow = self.flows.get(request.flow)
        queue: str | None = None
        drop: ivr.Flow | None = None
        routing: AgentRouting | None = None
        if request.agent is not None:  # no drop check at answer: the agent waits for it
            drop, flow = flow or self._hang_up_flow(), self._agent_flow(request.queue or "preview")
            routing = AgentRouting(layer.acd, request.agent, drop_waiting)
        elif request.kind == "telemarketing" and request.queue:
            queue, drop = request.queue, flow or self._hang_up_flow()
            flow = self._agent_flow(request.queue)
        if flow is None:
            raise ValueError(
                f"campaign {request.campaign}: a {request.kind} call needs a flow (--flow)"
            )
        listener = _Listener(report)
        call = await layer.dial(
            request.number,
            flow,
            caller_id=request.caller_id,
            queue=queue,
            drop_flow=drop,
            variables=dict(request.lead_fields),
            ring_timeout_s=math.ceil(request.ring_timeout_s),
            listener=listener,
            amd=request.amd,
            routing=routing,
        )
        # Set before anyone answers (the agent is connected after the person's answer).
        call.screen_pop = request.screen_pop()
        attempt = layer.attempts.get(call.rec.call_id)
        try:
            call_status, answered_by = await listener.final
        finally:
            if attempt is not None:  # a cancelled place() must not report any more
                attempt.listener = None
                call.on_notification = None
        result = result_from_twilio(call_status, answered_by)
        if call.rec.answered_at is not None or call_status == "completed":
            await listener.report_answered(answered_by)  # no AMD verdict came
        if result is Result.HUMAN and attempt is not None and attempt.dropped:
            result = Result.ABANDONED
        return _outcome(call, result, call_status, listener)


def _outcome(call: TwilioCall, result: Result, cause: str, listener: _Listener) -> CallOutcome:
    rec = call.rec
    ended = rec.ended_at or rec.started_at
    ring_s = ((rec.answered_at or ended) - rec.started_at).total_seconds()
    talk = (ended - rec.answered_at).total_seconds() if rec.answered_at is not None else None
    return CallOutcome(
        result,
        rec.call_id,
        max(0.0, ring_s),
        talk,
        None,
        cause,
        listener.opted_out,
        tuple(listener.answers),
    )


def _built_flow(name: str, nodes: dict[str, object]) -> ivr.Flow:
    """A flow the port writes itself (no file behind it)."""
    spec = FlowSpec.model_validate({"name": name, "nodes": nodes})
    return Flow(spec, f"<{name}>", SourceMap(None))
