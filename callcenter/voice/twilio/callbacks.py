"""Fair virtual hold over Twilio: the caller hangs up, keeps the place, and is called back.

Which place is kept, the record (``queue_callbacks``, ``voice_layer = twilio``) and the
turns until the customer is reached or given up are shared with SIP
(:mod:`callcenter.calls.kept_places`). Here, when the caller's call ends (its status
callback), a :class:`TwilioCallback` takes the ACD's task over. When its turn comes the ACD
offers it to an agent as any call (``OfferTask(callback=True)``): the agent is rung as for a
queued caller (``calls.create`` to its address; answer ``/twilio/callback/answer``, status
``/twilio/callback/agent``); no answer or a refusal goes on to the next agent. Once the agent
answered, the engine claims the call on the record and answers the agent's leg with
``<Say>`` whom it calls back and ``<Dial callerId=the number the customer had phoned>`` to
the customer (recorded as agent calls are). The customer's answer
(``/twilio/callback/customer``) is the ``connected`` moment; the dial's action
(``/twilio/callback/dialed``) says how it ended: talked (``completed``): done; ``busy``,
``no-answer``, ``failed``, ``canceled``: not reached, tried again later in the same place.
Either way the ACD's task ends for the agent (wrap-up) with the dial. An agent who hangs up
before the dial's action arrives ends the call to the customer as well.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from callcenter import acd, ivr
from callcenter.calls import CallLog, kept_places
from callcenter.calls.kept_places import CallbackAsked, callback_prompt
from callcenter.logs import call_context
from callcenter.voice.twilio import queueing, twiml
from callcenter.voice.twilio.call import FINAL_STATUSES
from callcenter.voice.twilio.queueing import AgentOffer

if TYPE_CHECKING:
    from callcenter.voice.twilio.call import TwilioCall
    from callcenter.voice.twilio.layer import TwilioVoiceLayer

log = logging.getLogger(__name__)

#: ``DialCallStatus`` of a customer who talked to the agent.
TALKED = frozenset({"completed", "answered"})
KEEP_LEGS = 1_000  # agent legs of call-backs remembered for late recording callbacks


def _now() -> datetime:
    return datetime.now(UTC)


class TwilioCallback:
    """One kept place: rings the agents the ACD offers it to, then dials the customer from
    the agent's leg. Webhooks come in under ``lock``; each call to the customer ends one
    turn of :meth:`~callcenter.calls.kept_places.KeptPlaces.run`."""

    def __init__(self, layer: TwilioVoiceLayer, task_id: str, queue: str, number: str,
                 shown: str, enqueued_s: float) -> None:
        self.layer = layer
        self.task_id, self.queue, self.number, self.shown = task_id, queue, number, shown
        self.enqueued_s = enqueued_s
        self.attempts = 0
        self.recorded = False
        self.elsewhere = False
        self.cause = ""
        self.rec = CallLog(call_id=uuid.uuid4().hex, direction="outbound", voice_layer="twilio",
                           caller=shown, dialed=number)
        self.screen_pop: dict[str, object] = {"callback": number, "callback_for": task_id}
        self.lock = asyncio.Lock()
        self.offers: dict[str, AgentOffer] = {}  # agent legs ringing, by CallSid
        self.agent: AgentOffer | None = None  # the agent of the call to the customer
        self.agent_at: datetime | None = None  # when that agent answered
        self.agent_done = True  # that call is over (or there is none)
        self.customer_at: datetime | None = None  # when the customer answered it
        # The agent's leg that runs the <Dial> is the one Twilio records: its CallSid names
        # the recording's call (layer.recording_status_url), as a caller's CallSid does.
        self.call_sid = ""
        self.recordings: set[str] = set()
        self.recording_files: set[Path] = set()
        self._turns: asyncio.Queue[bool] = asyncio.Queue()

    # ---- the ACD ------------------------------------------------------------------------
    async def turn(self) -> bool:
        return await self._turns.get()

    async def on_acd_action(self, action: acd.Action) -> None:
        layer = self.layer
        async with self.lock:
            with call_context(self.rec.call_id):
                match action:
                    case acd.OfferTask(agent_id=agent_id, timeout_s=timeout_s):
                        if not self.recorded:  # the record starts with the first offer
                            self.recorded = True
                            await layer.cdr.started(self.rec)
                        await queueing.ring_agent(
                            layer, layer.acd, self.rec, self.task_id, agent_id, timeout_s,
                            self.offers, customer=self.number, own_number=self.own_number(),
                            answer_url=layer.urls.make("callback/answer", task=self.task_id),
                            status_url=layer.urls.make("callback/agent", task=self.task_id),
                        )
                    case acd.CancelOffer(agent_id=agent_id):
                        await queueing.cancel_offers(layer, self.offers, agent_id)

    def own_number(self) -> str:
        """Who an agent's phone sees calling: ``twilio.caller_id``, else the number shown."""
        return self.layer.settings.twilio.caller_id or self.shown

    # ---- the agent's leg ----------------------------------------------------------------
    async def agent_answered(self, agent_sid: str) -> str:
        """The agent picked up: claim the call on the record, then whom it calls back and
        ``<Dial>`` to the customer."""
        layer = self.layer
        if self.agent is not None and self.agent.call_sid == agent_sid and self.agent.reply:
            return self.agent.reply  # Twilio repeated the webhook
        offer = self.offers.pop(agent_sid, None)
        if offer is None:
            return twiml.hangup()
        offer.answered = True
        actions = await layer.acd.handle(acd.OfferAccepted(self.task_id, offer.agent_id))
        if not any(isinstance(a, acd.ConnectTask) and a.task_id == self.task_id
                   for a in actions):
            return twiml.hangup()
        if not await layer.places.claim(self):  # another node holds the place now
            await layer.acd.handle(acd.TaskCompleted(self.task_id))
            self._turns.put_nowait(False)
            return twiml.hangup()
        self.agent, self.agent_at, self.agent_done = offer, _now(), False
        self.customer_at, self.call_sid = None, agent_sid
        self.rec.agent = offer.agent_id
        layer.places.legs[agent_sid] = self
        while len(layer.places.legs) > KEEP_LEGS:
            layer.places.legs.popitem(last=False)
        settings = layer.settings.twilio
        attempt: dict[str, str | int] = {"task": self.task_id, "attempt": self.attempts}
        offer.reply = str(twiml.call_back(
            ivr.Say(callback_prompt(self.number), settings.language),
            self.number,
            self.shown,
            kept_places.RING_S,
            layer.urls.make("callback/dialed", **attempt),
            layer.urls.make("callback/customer", **attempt),
            queueing.recording_url(layer, self),
        ))
        return offer.reply

    async def agent_status(self, agent_sid: str, status: str) -> None:
        """An agent's leg reached a final status: an offer not taken, or the agent hung up
        before the dial's action came (the call to the customer ends with it)."""
        if status not in FINAL_STATUSES:
            return
        if self.agent is not None and self.agent.call_sid == agent_sid:
            if not self.agent_done:
                await self._call_over(self.customer_at is not None, "agent hung up", "", "")
            return
        offer = self.offers.pop(agent_sid, None)
        if offer is not None and not offer.answered:
            await self.layer.acd.handle(queueing.offer_not_taken(self.task_id, offer, status))

    # ---- the customer's leg -------------------------------------------------------------
    async def customer_answered(self, attempt: int, status: str) -> None:
        """The customer picked up (``in-progress``): the conversation starts (the agent's
        screen pop)."""
        this_call = attempt == self.attempts and not self.agent_done
        if status != "in-progress" or not this_call or self.customer_at is not None:
            return
        await self._connected(_now())

    async def _connected(self, at: datetime) -> None:
        assert self.agent is not None
        self.customer_at = at
        self.rec.queue = self.queue
        self.rec.answered_at = self.rec.answered_at or at
        self.rec.connected_at = self.rec.connected_at or at
        await self.layer.cdr.event(
            self.rec, "connected", {"agent": self.agent.agent_id, **self.screen_pop},
            announce="connected")

    async def dial_ended(self, attempt: int, status: str, dial_sid: str,
                         duration: str) -> str:
        """The ``<Dial>``'s action: how the call to the customer ended; the agent's leg
        hangs up."""
        if attempt == self.attempts and not self.agent_done:
            await self._call_over(status in TALKED, status or "failed", dial_sid, duration)
        return twiml.hangup()

    async def _call_over(self, talked: bool, cause: str, dial_sid: str,
                         duration: str) -> None:
        """One call to the customer is over: legs on the record, the agent into wrap-up,
        and the turn's outcome to the shared loop."""
        agent, ended = self.agent, _now()
        assert agent is not None
        self.agent_done = True
        cdr = self.layer.cdr
        if talked:
            if self.customer_at is None:  # no answered callback came: from the duration
                await self._connected(ended - timedelta(seconds=_seconds(duration)))
        else:
            self.cause = cause
            await cdr.event(self.rec, "callback_unanswered",
                            {"agent": agent.agent_id, "cause": cause, "call": self.attempts})
        self.rec.hangup_cause = cause
        await cdr.leg(self.rec, "callee", self.number, external_id=dial_sid or None,
                      answered_at=self.customer_at if talked else None, ended_at=ended,
                      cause=cause)
        await cdr.leg(self.rec, "agent", agent.address, agent=agent.agent_id,
                      external_id=agent.call_sid, answered_at=self.agent_at, ended_at=ended)
        await self.layer.acd.handle(acd.TaskCompleted(self.task_id))
        self._turns.put_nowait(talked)


class TwilioKeptPlaces(kept_places.KeptPlaces[TwilioCallback]):
    """The Twilio layer's call-backs waiting their turn, kept on the record."""

    def __init__(self, layer: TwilioVoiceLayer) -> None:
        super().__init__(layer.acd, layer.cdr, layer.node, "twilio", layer.spawn,
                         functools.partial(TwilioCallback, layer))
        #: Agent legs that dialed a customer, by CallSid (their recordings come later).
        self.legs: OrderedDict[str, TwilioCallback] = OrderedDict()

    async def keep(self, call: TwilioCall) -> None:
        """The caller's call ended with a call-back asked for (the queue's key or overflow,
        or a flow's callback node): a :class:`TwilioCallback` takes the task over."""
        rec = call.rec
        customer, shown = (rec.caller, rec.dialed) if rec.direction == "inbound" else (
            rec.dialed, rec.caller)
        await self.keep_place(CallbackAsked(
            rec, call.task_id, customer, shown, call.kept_queue, call.kept_priority,
            call.callback_request, call.waiting_since, call.lost_offer))


def _seconds(value: str) -> float:
    try:
        return max(0.0, float(value))
    except ValueError:
        return 0.0
