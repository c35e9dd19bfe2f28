"""The agent desktop's transfer of a connected Twilio call (``POST /api/calls/{id}/transfer``).

Both kinds are blind: the engine records ``transferred`` (``{"to": target, "by": agent}``) and
the agent's leg, prepares the caller's next TwiML as the reply of the step the caller's
``<Enqueue>`` waits on, redirects the caller's leg there over the REST API
(``calls(sid).update(url=/twilio/continue?step=N)``) and ends the agent's leg. Twilio may
still post the old ``<Enqueue>``'s action after the redirect: it gets the same reply, and
nothing changes. A preview call's task, routed to one agent by its own
:class:`~.preview.AgentRouting` until then, is the ACD's from that moment.

- :func:`transfer_to_queue`, ``queue:NAME``: the caller waits in that queue's line again, as
  over SIP: the ACD moves the task (``TaskTransferred``; the agent goes into wrap-up, the task
  keeps its first enqueue time) and offers it to that queue's agents; the flow still waits for
  its queue node's result, which the next conversation gives.
- :func:`transfer_out`, an E.164 number or a SIP URI
  (:func:`~callcenter.calls.transfer_targets.parse_transfer_target`): the conversation ends
  for the ACD as when either side hangs up (``TaskCompleted``: the agent goes into wrap-up)
  and the caller's leg gets ``<Dial>`` to the target (``<Number>`` or ``<Sip>``, the caller
  ID of :meth:`.TwilioCall.transfer_caller_id`, ``transfer_timeout_s``). Its action
  (``/twilio/transfer/out``, :func:`dial_ended`) records the outcome (``transfer_result``
  with ``answered``, ``busy``, ``no-answer``, ``failed`` or ``canceled``, and a ``transfer``
  leg with the target's CallSid). Answered: when the target hangs up, the flow goes on from
  its queue node as served (by the agent), as over SIP. Not answered: the caller hears
  :data:`SORRY` and goes back into the queue they were served from, keeping their place
  (their earlier wait counts); the flow's queue node then waits for that queue's result. A
  caller who hung up meanwhile is only recorded.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from twilio.twiml.voice_response import VoiceResponse

from callcenter import acd, ivr
from callcenter.calls.acd_service import AcdService
from callcenter.calls.transfer_targets import TransferTarget
from callcenter.errors import CallCenterError
from callcenter.ivr.events import QueueOutcome
from callcenter.voice.twilio import queueing, twiml
from callcenter.voice.twilio.call import TwilioCall, now
from callcenter.voice.twilio.queueing import AgentOffer, queue_result
from callcenter.voice.twilio.rest import TwilioRestError

log = logging.getLogger(__name__)


class NotConnected(LookupError):
    """The call is not connected to an agent now (not yet, or not any more)."""


class TransferNotSupported(CallCenterError):
    """A transfer the Twilio layer does not make; the message says what it can do."""


#: What a caller hears when the number or SIP URI they were transferred to did not answer.
SORRY = "Sorry, we could not connect your call. Please hold: we are putting you back in line."

#: Twilio's ``DialCallStatus`` -> the transfer's outcome in the CDR.
OUTCOMES = {
    "completed": "answered",
    "answered": "answered",
    "busy": "busy",
    "no-answer": "no-answer",
    "failed": "failed",
    "canceled": "canceled",
}


async def transfer_to_queue(call: TwilioCall, queue: str) -> None:
    """The connected agent sends the caller to ``queue``'s line (under the call's lock).

    A task the ACD never held (it refused the preview call's assignment) arrives anew.
    """
    agent = await _transferring(call, f"queue:{queue}")
    await queueing.close_agent_leg(call)
    service = _routed_by_acd(call)
    held = service.router.task_status(call.task_id) is not None
    redirect_step = call.next_step()
    queueing.wait_in(call, ivr.Enqueue(queue))
    await call.layer.cdr.event(call.rec, "queued", {"queue": queue}, announce="queued")
    resp = VoiceResponse()
    queueing.add_enqueue(call, resp)
    call.keep(redirect_step, str(resp))
    # The ACD's offers for the task wait for the call's lock: they come after the redirect.
    await service.handle(
        acd.TaskTransferred(call.task_id, queue) if held else acd.TaskArrived(call.task_id, queue)
    )
    await _redirect(call, redirect_step, f"into queue {queue}")
    await queueing.end_leg(call.layer, agent)


async def transfer_out(call: TwilioCall, target: TransferTarget) -> None:
    """The connected agent sends the caller to a number or SIP URI (under the call's lock)."""
    agent = await _transferring(call, target.address)
    await queueing.agent_finished(call)  # wrap-up, as at the end of any conversation
    _routed_by_acd(call)
    call.queue_state = "decided"  # the conversation was the queue's outcome
    call.transfer_target = target.address
    redirect_step = call.next_step()
    resp = VoiceResponse()
    twiml.add_transfer(
        resp,
        ivr.Transfer(target.address, call.layer.settings.twilio.transfer_timeout_s),
        call.layer.urls.step("transfer/out", call.step),
        call.transfer_caller_id(),
    )
    call.keep(redirect_step, str(resp))
    await _redirect(call, redirect_step, f"to {target.address}")
    await queueing.end_leg(call.layer, agent)


async def dial_ended(
    call: TwilioCall, dial_status: str, dial_sid: str, dial_duration: str, caller_gone: bool
) -> str:
    """The action of :func:`transfer_out`'s ``<Dial>``: the outcome into the CDR, then the
    caller's next TwiML (see the module's docstring)."""
    outcome = OUTCOMES.get(dial_status, "failed")
    target = call.transfer_target
    ended = now()
    await call.layer.cdr.event(
        call.rec, "transfer_result", {"to": target, "outcome": outcome, "status": dial_status}
    )
    talked = _seconds(dial_duration) if outcome == "answered" else None
    await call.layer.cdr.leg(
        call.rec,
        "transfer",
        target,
        external_id=dial_sid or None,
        answered_at=ended - timedelta(seconds=talked) if talked is not None else None,
        ended_at=ended,
        cause=outcome,
    )
    if caller_gone:  # Twilio asks anyway; the status callback ends the call
        return call.keep(call.next_step(), twiml.empty())
    if outcome == "answered":  # the target hung up first: the flow goes on, as over SIP
        agent = call.agent.agent_id if call.agent is not None else None
        call.queue_state = "none"
        return await call.advance(queue_result(QueueOutcome.SERVED, agent))
    return await _back_in_line(call)


async def _back_in_line(call: TwilioCall) -> str:
    """The caller back into the queue they were served from, keeping their place."""
    q, rec = call.queue, call.rec
    assert q is not None  # a connected caller came through a queue
    waited = 0.0  # in line before the agent answered; not the talk, nor the transfer's ring
    if rec.queued_at is not None and rec.connected_at is not None:
        waited = (rec.connected_at - rec.queued_at).total_seconds()
    answered = call.next_step()
    immediate = await queueing.enter_queue(call, q, waited_s=waited)
    if immediate is not None:  # the queue overflows at once: the flow's own branch instead
        call.step = answered
        return await call.advance(immediate)
    resp = VoiceResponse()
    resp.say(SORRY, language=call.layer.settings.twilio.language)
    queueing.add_enqueue(call, resp)
    return call.keep(answered, str(resp))


async def _transferring(call: TwilioCall, to: str) -> AgentOffer:
    """The connected agent, once ``transferred`` is recorded; :class:`NotConnected` if none."""
    agent = call.agent
    if call.ended or agent is None or call.agent_done or call.queue_state != "bridging":
        raise NotConnected(f"call {call.rec.call_id} is not connected to an agent now")
    await call.layer.cdr.event(
        call.rec, "transferred", {"to": to, "by": agent.agent_id}, announce="transferred"
    )
    return agent


def _routed_by_acd(call: TwilioCall) -> AcdService:
    """The ACD routes the call's task from now on (a preview call leaves its AgentRouting)."""
    service = call.layer.acd
    if call.routing is not service:
        call.routing.forget(call.task_id)
        call.routing = service
    return service


async def _redirect(call: TwilioCall, step: int, where: str) -> None:
    """The caller's leg to the reply kept for ``step`` (REST ``calls(sid).update``)."""
    try:
        await call.layer.rest.update_call(
            call.call_sid, url=call.layer.urls.step("continue", step), method="POST"
        )
    except TwilioRestError as exc:  # gone meanwhile: its status callback ends the call
        log.warning("redirecting call %s %s: %s", call.call_sid, where, exc)


def _seconds(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None
