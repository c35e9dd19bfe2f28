"""Outbound calls for the dialer over Twilio: ``calls.create`` with status callbacks and
asynchronous answering-machine detection (``DetectMessageEnd``).

The CDR is written when the call is placed, so unanswered attempts (busy, no answer, failed)
are on record too. When the person answers, the campaign's flow runs; if the flow needs an
agent from ``queue`` and none is free at that moment, the *drop* flow plays instead (who is
calling, a number to call back, opt-out). When Twilio's AMD reports a machine at the end of its
greeting, the machine flow (a message to leave) replaces whatever is running, or the engine
hangs up.

An :class:`AttemptListener` given to :func:`dial` hears the attempt's progress as Twilio reports
it (every status callback, the AMD verdict, the flow's notifications); the dialer's
:class:`~callcenter.voice.twilio.outbound_port.TwilioOutboundPort` is one.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from callcenter import acd, ivr
from callcenter.calls import CallLog
from callcenter.voice.twilio import twiml
from callcenter.voice.twilio.call import FINAL_STATUSES, TwilioCall, now

if TYPE_CHECKING:
    from callcenter.calls.acd_service import TaskRouting
    from callcenter.voice.twilio.layer import TwilioVoiceLayer

log = logging.getLogger(__name__)

MACHINE = ("machine_end_beep", "machine_end_silence", "machine_end_other", "fax")


class AttemptListener(Protocol):
    """Hears one outbound attempt's progress; called inside the webhook, under the call's lock,
    so what it writes is written before Twilio gets the reply."""

    async def call_status(self, call_status: str, answered_by: str | None) -> None:
        """Every status callback (``ringing``, ``in-progress``, then a final one, once)."""

    async def machine_verdict(self, answered_by: str) -> None:
        """The async AMD verdict (``human``, ``machine_end_beep``, ``unknown``...), once."""

    async def notified(self, action: ivr.Action) -> None:
        """A notification of the running flow (a survey answer, an opt-out...)."""


@dataclass
class OutboundAttempt:
    call: TwilioCall
    queue: str | None
    drop_flow: ivr.Flow | None
    machine_flow: ivr.Flow | None
    answered_by: str | None = None
    listener: AttemptListener | None = None
    dropped: bool = False  # answered with no agent free: the drop flow played


async def dial(
    layer: TwilioVoiceLayer,
    to: str,
    flow: ivr.Flow,
    *,
    caller_id: str,
    queue: str | None = None,
    drop_flow: ivr.Flow | None = None,
    machine_flow: ivr.Flow | None = None,
    variables: Mapping[str, object] | None = None,
    ring_timeout_s: int = 15,
    listener: AttemptListener | None = None,
    amd: bool = True,
    routing: TaskRouting | None = None,
) -> TwilioCall:
    """Place one call; returns it once Twilio accepted it (its CDR is in the database).
    ``routing``: who routes the call when its flow queues it (default the ACD; a preview
    call's :class:`~.preview.AgentRouting`)."""
    rec = CallLog(
        call_id=uuid.uuid4().hex,
        direction="outbound",
        voice_layer="twilio",
        caller=caller_id,
        dialed=to,
        flow=flow.name,
    )
    call = TwilioCall(layer, rec, flow)
    call.variables = dict(variables or {})
    if routing is not None:
        call.routing = routing
    attempt = OutboundAttempt(call, queue, drop_flow, machine_flow, listener=listener)
    if listener is not None:
        call.on_notification = listener.notified
    layer.attempts[rec.call_id] = attempt
    urls = layer.urls
    detection: dict[str, str] = {}
    if amd:  # Twilio's async AMD: the call goes on while it listens
        detection = {
            "machine_detection": "DetectMessageEnd",
            "async_amd": "true",
            "async_amd_status_callback": urls.make("outbound/amd", attempt=rec.call_id),
            "async_amd_status_callback_method": "POST",
        }
    async with call.lock:  # the answer webhook waits until the CDR exists
        try:
            sid = await layer.rest.create_call(
                to=to,
                from_=caller_id,
                method="POST",
                timeout=ring_timeout_s,
                url=urls.make("outbound/answer", attempt=rec.call_id),
                status_callback=urls.make("outbound/status", attempt=rec.call_id),
                status_callback_method="POST",
                status_callback_event=["initiated", "ringing", "answered", "completed"],
                **detection,
            )
        except Exception:
            layer.attempts.pop(rec.call_id, None)
            raise
        rec.external_id = call.call_sid = sid
        layer.calls[sid] = call
        await layer.cdr.started(rec)
    return call


async def answered(layer: TwilioVoiceLayer, attempt: OutboundAttempt) -> str:
    """The called person picked up: the campaign flow, or the drop message."""
    call = attempt.call
    cached = call.replay(0)
    if cached is not None:
        return cached
    call.rec.answered_at = now()
    if attempt.queue and attempt.drop_flow is not None and not layer.agent_free(attempt.queue):
        call.session = ivr.FlowSession(attempt.drop_flow)
        attempt.dropped = True
        await layer.cdr.event(
            call.rec, "drop", {"queue": attempt.queue, "flow": attempt.drop_flow.name}
        )
    return await call.advance(_started(call))


async def machine_detected(
    layer: TwilioVoiceLayer, attempt: OutboundAttempt, params: dict[str, str]
) -> None:
    """Twilio's async AMD verdict: recorded; a machine gets the machine flow or a hang-up."""
    call = attempt.call
    answered_by = params.get("AnsweredBy", "unknown")
    if attempt.answered_by is not None or call.ended:
        return  # a repeated callback
    attempt.answered_by = answered_by
    await layer.cdr.event(
        call.rec,
        "amd",
        {
            "answered_by": answered_by,
            "detection_ms": int(params.get("MachineDetectionDuration") or 0),
        },
    )
    if attempt.listener is not None:
        await attempt.listener.machine_verdict(answered_by)
    if answered_by not in MACHINE:
        return
    if call.queue_state in ("waiting", "bridging") and call.agent is None:
        call.queue_state = "decided"
        await call.routing.handle(acd.TaskAbandoned(call.task_id))
    if attempt.machine_flow is None:
        await layer.hang_up(call, f"answering machine ({answered_by})")
        return
    await _switch_flow(layer, call, attempt.machine_flow)


async def drop_waiting(call: TwilioCall, reason: str) -> None:
    """The agent a waiting person was kept for cannot take them (a preview call's agent did
    not answer): the drop message, and the attempt counts as abandoned."""
    layer = call.layer
    async with call.lock:
        attempt = layer.attempts.get(call.rec.call_id)
        if attempt is None or call.ended or call.queue_state != "waiting":
            return  # gone, or connected meanwhile
        call.queue_state = "decided"
        attempt.dropped = True
        flow = attempt.drop_flow
        await layer.cdr.event(
            call.rec, "drop", {"queue": call.rec.queue, "flow": flow.name if flow else None,
                               "reason": reason})  # fmt: skip
        if flow is None:
            await layer.hang_up(call, reason)
            return
        await _switch_flow(layer, call, flow)


async def _switch_flow(layer: TwilioVoiceLayer, call: TwilioCall, flow: ivr.Flow) -> None:
    """Start ``flow`` from the top in place of what runs; the redirect fetches the reply
    kept for the step."""
    call.session = ivr.FlowSession(flow)
    call.restart_path()
    step = call.step
    await call.advance(_started(call))
    await layer.rest.update_call(
        call.call_sid, url=layer.urls.step("continue", step), method="POST"
    )


async def status(
    layer: TwilioVoiceLayer,
    attempt: OutboundAttempt,
    call_status: str,
    answered_by: str | None = None,
) -> str:
    if call_status in FINAL_STATUSES:
        layer.attempts.pop(attempt.call.rec.call_id, None)
        await attempt.call.finish(call_status)
    if attempt.listener is not None:
        await attempt.listener.call_status(call_status, answered_by or attempt.answered_by)
    return twiml.empty()


def _started(call: TwilioCall) -> ivr.CallStarted:
    return ivr.CallStarted(
        now=now(),
        caller=call.rec.caller,
        dialed=call.rec.dialed,
        call_id=call.rec.call_id,
        variables=call.variables,
    )
