"""A Twilio caller in an ACD queue, and the agents the ACD offers it to.

The caller waits in ``<Enqueue>`` on a Twilio queue of its own (named by its CallSid), so the
engine's ACD, not Twilio's first-in-first-out, decides who gets whom. The wait URL plays the
ACD's position / wait announcements and music. When the ACD offers the call, the agent is rung
through the REST API (``calls.create`` to ``client:NAME``, a SIP URI or a number); when the
agent answers, the engine tells the ACD, and the agent's leg gets ``<Dial><Queue>CallSid``,
which bridges exactly this caller. An overflow or a call-back key leaves the queue and the
flow goes on (``on_overflow`` / ``on_callback``), as over SIP; the call-back key and an
overflow to ``callback`` keep the caller's place for a call-back (:mod:`.callbacks`).

The connected agent may transfer the caller elsewhere (the agent desktop's transfer): that
is :mod:`.transfers`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from twilio.twiml.voice_response import VoiceResponse

from callcenter import acd, ivr
from callcenter.calls.announcements import queue_announcement
from callcenter.ivr.events import QueueOutcome
from callcenter.voice.twilio import twiml
from callcenter.voice.twilio.rest import TwilioRestError

if TYPE_CHECKING:
    from callcenter.calls.acd_service import TaskRouting
    from callcenter.calls.cdr import CallLog
    from callcenter.voice.twilio.call import TwilioCall
    from callcenter.voice.twilio.layer import TwilioVoiceLayer
    from callcenter.voice.twilio.recordings import RecordedCall

log = logging.getLogger(__name__)


@dataclass
class AgentOffer:
    """One agent being rung for a call (a ring-all queue may ring several)."""

    agent_id: str
    address: str
    call_sid: str
    answered: bool = False
    reply: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def queue_result(outcome: QueueOutcome, agent: str | None = None) -> ivr.QueueResult:
    return ivr.QueueResult(outcome, agent, now=_now())


def wait_in(call: TwilioCall, q: ivr.Enqueue) -> None:
    """The call waits in ``q`` from now on, for the pending step (``call.step``)."""
    call.rec.queue, call.rec.queued_at = q.queue, _now()
    if call.waiting_since is None:  # the first wait: the place a call-back keeps
        call.waiting_since = time.time()
    call.queue, call.queue_state, call.queue_step = q, "waiting", call.step
    call.announcement, call.announced_at = "", None
    call.agent, call.agent_done = None, False
    call.routing.register(call.task_id, call)


def add_enqueue(call: TwilioCall, resp: VoiceResponse) -> None:
    """``<Enqueue>`` on the call's own Twilio queue; its action answers the pending step."""
    urls = call.layer.urls
    twiml.add_enqueue(
        resp,
        call.call_sid,
        urls.make("queue/wait", call=call.call_sid),
        urls.step("queue/done", call.step),
    )


async def enter_queue(call: TwilioCall, q: ivr.Enqueue, waited_s: float = 0.0) -> ivr.Event | None:
    """Put the caller in the ACD; the queue result when the ACD overflows it at once.
    ``waited_s``: how long the caller waited in line before (it keeps their place)."""
    wait_in(call, q)
    await call.layer.cdr.event(call.rec, "queued", {"queue": q.queue}, announce="queued")
    since = call.layer.acd.clock() - waited_s if waited_s > 0 else None
    actions = await call.routing.handle(
        acd.TaskArrived(
            call.task_id,
            q.queue,
            priority=q.priority,
            skills={s: 1 for s in q.skills},
            enqueued_at=since,
        )
    )
    for action in actions:
        if isinstance(action, acd.OverflowTask) and action.task_id == call.task_id:
            return await _overflowed(call, action)
    return None


async def _overflowed(call: TwilioCall, action: acd.OverflowTask) -> ivr.QueueResult:
    call.queue_state = "decided"
    await call.layer.cdr.event(
        call.rec, "overflow", {"target": action.target.kind.value, "reason": action.reason}
    )
    if action.target.kind is acd.OverflowKind.CALLBACK and call.queue is not None:
        call.kept_queue, call.kept_priority = call.queue.queue, call.queue.priority  # kept
        return queue_result(QueueOutcome.CALLBACK)
    return queue_result(QueueOutcome.OVERFLOW)


def wait_twiml(call: TwilioCall, queue_sid: str | None) -> str:
    """The wait URL's answer: the latest ACD announcement, the flow's own announcements every
    ``announce_every_s``, then one round of music (Twilio asks again when it ends)."""
    q = call.queue
    if call.queue_state == "decided" or q is None:
        resp = twiml.VoiceResponse()
        resp.leave()  # the outcome is decided; the action URL replays its TwiML
        return str(resp)
    call.queue_sid = queue_sid or call.queue_sid
    settings = call.layer.settings.twilio
    prompts: list[ivr.Say | ivr.Play] = []
    if call.queue_state == "waiting":
        if call.announcement:
            prompts.append(ivr.Say(call.announcement, settings.language))
            call.announcement = ""
        clock = time.monotonic()
        if call.announced_at is None or clock - call.announced_at >= q.announce_every_s:
            prompts.extend(q.announcements)
            call.announced_at = clock
    music = q.hold_music if q.hold_music and "://" in q.hold_music else settings.hold_music_url
    key_url = (
        call.layer.urls.step("queue/key", call.queue_step)
        if q.callback_key and call.queue_state == "waiting"
        else None
    )
    return str(twiml.queue_wait(music, prompts, call.layer.media_url, key_url))


async def queue_key(call: TwilioCall, digits: str) -> str:
    """A key pressed while waiting: the call-back key leaves the queue for ``on_callback``."""
    q = call.queue
    if (
        q is None
        or call.queue_state != "waiting"
        or not q.callback_key
        or digits[:1] != q.callback_key
    ):
        return twiml.empty()  # back to the wait URL
    call.queue_state = "decided"
    await call.routing.handle(acd.CallbackRequested(call.task_id))
    call.kept_queue, call.kept_priority = q.queue, q.priority  # the ACD keeps the place
    await call.advance(queue_result(QueueOutcome.CALLBACK))
    resp = twiml.VoiceResponse()
    resp.leave()
    return str(resp)


async def queue_left(call: TwilioCall, twilio_result: str, queue_sid: str | None) -> str:
    """``<Enqueue>``'s action URL when no reply is kept for the step yet."""
    if queue_sid:
        call.layer.spawn(call.layer.delete_queue(queue_sid))
    if twilio_result == "bridged":  # the agent hung up; the caller goes back to the flow
        agent = call.agent.agent_id if call.agent else None
        await agent_finished(call)
        call.queue_state = "none"
        return await call.advance(queue_result(QueueOutcome.SERVED, agent))
    if twilio_result in ("hangup", "") or call.ended:
        return twiml.empty()  # the status callback ends the call
    # queue-full, error, system-error: Twilio could not keep the caller waiting
    log.warning("call %s left the Twilio queue: %s", call.call_sid, twilio_result)
    if call.queue_state in ("waiting", "bridging"):
        await call.routing.handle(acd.TaskAbandoned(call.task_id))
    call.queue_state = "decided"
    await call.layer.cdr.event(
        call.rec, "overflow", {"target": "flow", "reason": f"twilio {twilio_result}"}
    )
    return await call.advance(queue_result(QueueOutcome.OVERFLOW))


# ---- the ACD's actions for this call ------------------------------------------------------
async def on_acd_action(call: TwilioCall, action: acd.Action) -> None:
    async with call.lock:
        match action:
            case acd.OfferTask() if call.kept_queue is not None:
                call.lost_offer = action  # the kept place's turn: its call-back takes it
            case acd.OfferTask(agent_id=agent_id, timeout_s=timeout_s):
                await _offer(call, agent_id, timeout_s)
            case acd.CancelOffer(agent_id=agent_id):
                await cancel_offers(call.layer, call.offers, agent_id)
            case acd.AnnouncePosition(position=position, estimated_wait_s=ewt) if (
                call.queue is not None and call.queue_state == "waiting"
            ):
                call.announcement = queue_announcement(call.queue, position, ewt)
            case acd.OverflowTask() if call.queue_state == "waiting" and not call.ended:
                await call.advance(await _overflowed(call, action))
                # Out of <Enqueue>: the redirect fetches the reply just kept for the step.
                await call.layer.rest.update_call(
                    call.call_sid,
                    url=call.layer.urls.step("queue/done", call.queue_step),
                    method="POST",
                )
            case acd.ConnectTask():
                pass  # done by agent_answered, which asked for it


async def _offer(call: TwilioCall, agent_id: str, timeout_s: float) -> None:
    if call.ended or call.queue_state != "waiting":
        await call.routing.handle(acd.OfferRejected(call.task_id, agent_id))
        return
    layer = call.layer
    await ring_agent(
        layer, call.routing, call.rec, call.task_id, agent_id, timeout_s, call.offers,
        customer=call.rec.caller, own_number=call.own_number(),
        answer_url=layer.urls.make("agent/answer", call=call.call_sid),
        status_url=layer.urls.make("agent/status", call=call.call_sid),
    )


async def ring_agent(
    layer: TwilioVoiceLayer, routing: TaskRouting, rec: CallLog, task_id: str, agent_id: str,
    timeout_s: float, offers: dict[str, AgentOffer], *, customer: str, own_number: str,
    answer_url: str, status_url: str,
) -> None:
    """Ring the agent the ACD offers ``task_id`` to (``calls.create`` to its address; a
    Twilio Client sees the customer's number, a phone or SIP URI ``own_number``): the
    offer joins ``offers``, ``offered`` goes on the record. An agent Twilio cannot reach
    refuses the offer (the ACD goes on to the next)."""
    address = layer.agent_address(agent_id)
    if address is None:
        log.warning(
            "agent %s has no Twilio address (client:NAME, SIP URI or number): "
            "refusing the offer",
            agent_id,
        )
        await routing.handle(acd.OfferRejected(task_id, agent_id))
        return
    caller_id = customer if address.startswith("client:") else own_number
    try:
        sid = await layer.rest.create_call(
            to=address,
            from_=caller_id,
            method="POST",
            url=answer_url,
            status_callback=status_url,
            status_callback_method="POST",
            timeout=max(5, round(timeout_s or layer.settings.twilio.agent_answer_timeout_s)),
        )
    except TwilioRestError as exc:
        log.warning("ringing agent %s failed: %s", agent_id, exc)
        await routing.handle(acd.OfferRejected(task_id, agent_id))
        return
    offers[sid] = AgentOffer(agent_id, address, sid)
    await layer.cdr.event(rec, "offered", {"agent": agent_id}, announce="offered")


async def cancel_offers(layer: TwilioVoiceLayer, offers: dict[str, AgentOffer],
                        agent_id: str) -> None:
    """The ACD withdrew the offer to ``agent_id``: stop ringing it."""
    for offer in [o for o in offers.values() if o.agent_id == agent_id]:
        del offers[offer.call_sid]
        await end_leg(layer, offer)


async def end_leg(layer: TwilioVoiceLayer, offer: AgentOffer) -> None:
    try:
        await layer.rest.end_call(offer.call_sid, answered=offer.answered)
    except TwilioRestError as exc:  # it may have ended by itself meanwhile
        log.info("ending agent leg %s: %s", offer.call_sid, exc)


def offer_not_taken(task_id: str, offer: AgentOffer, status: str) -> acd.Event:
    """An agent's leg that ended before the answer, for the ACD: ``no-answer`` times the
    offer out (the ACD counts missed offers), anything else is a refusal."""
    return (acd.OfferTimedOut if status == "no-answer" else acd.OfferRejected)(
        task_id, offer.agent_id
    )


def recording_url(layer: TwilioVoiceLayer, call: RecordedCall) -> str | None:
    """The recording status URL of a new conversation recording of ``call`` (a TwilioCall
    or a call-back), None when the layer does not record agent calls."""
    if not layer.settings.twilio.record_calls:
        return None
    path = layer.recording_file(call, "call")
    return layer.recording_status_url(call, "call", path)


# ---- the agent's leg ----------------------------------------------------------------------
async def agent_answered(call: TwilioCall, agent_call_sid: str) -> str:
    """The agent picked up: the ACD connects (bridge with ``<Dial><Queue>``) or withdraws."""
    if call.agent is not None and call.agent.call_sid == agent_call_sid and call.agent.reply:
        return call.agent.reply  # Twilio repeated the webhook
    offer = call.offers.get(agent_call_sid)
    if offer is None or call.ended or call.queue_state != "waiting":
        return twiml.hangup()
    offer.answered = True
    actions = await call.routing.handle(acd.OfferAccepted(call.task_id, offer.agent_id))
    if not any(isinstance(a, acd.ConnectTask) and a.task_id == call.task_id for a in actions):
        del call.offers[agent_call_sid]
        return twiml.hangup()
    del call.offers[agent_call_sid]
    call.queue_state, call.agent = "bridging", offer
    call.rec.agent, call.rec.connected_at = offer.agent_id, _now()
    status_url = recording_url(call.layer, call)
    offer.reply = str(twiml.bridge_to_queue(call.call_sid, status_url))
    # On the bus (cc/<tenant>/calls/<id>, kind "connected") with the campaign's lead: the
    # agent desktop's screen pop.
    await call.layer.cdr.event(
        call.rec, "connected", {"agent": offer.agent_id, **call.screen_pop}, announce="connected"
    )
    return offer.reply


async def agent_status(call: TwilioCall, agent_call_sid: str, status: str) -> None:
    """The agent's leg reached a final status."""
    if call.agent is not None and call.agent.call_sid == agent_call_sid:
        await agent_finished(call)
        return
    offer = call.offers.pop(agent_call_sid, None)
    if offer is None or offer.answered:
        return  # cancelled by the ACD, withdrawn, or a repeated callback
    await call.routing.handle(offer_not_taken(call.task_id, offer, status))


async def agent_finished(call: TwilioCall) -> None:
    """The conversation is over (either side hung up): agent leg into the CDR, ACD told; once."""
    if await close_agent_leg(call):
        await call.routing.handle(acd.TaskCompleted(call.task_id))


async def close_agent_leg(call: TwilioCall) -> bool:
    """The connected agent's leg into the CDR, once; False when there is none (any more)."""
    agent = call.agent
    if agent is None or call.agent_done:
        return False
    call.agent_done = True
    await call.layer.cdr.leg(
        call.rec,
        "agent",
        agent.address,
        agent=agent.agent_id,
        external_id=agent.call_sid,
        answered_at=call.rec.connected_at,
        ended_at=_now(),
    )
    return True


async def leave_on_hangup(call: TwilioCall) -> None:
    """The caller hung up: abandon the wait or end the conversation, stop ringing agents."""
    if call.agent is not None:
        await agent_finished(call)
    elif call.queue_state in ("waiting", "bridging"):
        await call.routing.handle(acd.TaskAbandoned(call.task_id))  # cancels offers
        assert call.queue is not None
        await call.layer.cdr.event(
            call.rec, "abandoned", {"queue": call.queue.queue}, announce="abandoned"
        )
        await call.layer.escalations.on_abandon(call.rec, call.queue.queue)
    call.queue_state = "none"
    if call.queue_sid:
        call.layer.spawn(call.layer.delete_queue(call.queue_sid))
