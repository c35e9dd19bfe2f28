"""Fair virtual hold over SIP: the caller hangs up, keeps the place, and is called back.

Which place is kept, the record and the turns until the customer is reached or given up are
shared with Twilio (:mod:`callcenter.calls.kept_places`). Here, when the caller's call
ends, a :class:`QueueCallback` takes the task over. When the task's turn comes the ACD
offers it to an agent as any call (``OfferTask(callback=True)``): a nailed-up line hears the
tone, an on-demand agent's phone rings. Once the agent took it, the engine tells the agent
whom it calls back and dials the customer through ``sip.outbound_gateway`` showing the number
the customer had called; when the customer answers, the two talk as in any conversation
(recording, hold, transfers, wrap-up). A customer who does not answer within
:data:`~callcenter.calls.kept_places.RING_S` (or is busy) is not reached: the shared turns
call again later, keeping the place.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from typing import TYPE_CHECKING

from callcenter import acd, ivr
from callcenter.calls import kept_places
from callcenter.calls.kept_places import CallbackAsked, callback_prompt
from callcenter.voice.sip import events as ev
from callcenter.voice.sip.inbound import CallerGone, SipCall, now

if TYPE_CHECKING:
    from callcenter.voice.sip.layer import SipVoiceLayer

log = logging.getLogger(__name__)


class QueueCallback(SipCall):
    """One kept place: waits for the ACD, then connects an agent and the customer."""

    def __init__(self, layer: SipVoiceLayer, task_id: str, queue: str, number: str,
                 shown: str, enqueued_s: float) -> None:
        placeholder = ev.IncomingCall(-1, shown, "", number, "", "")
        super().__init__(layer, placeholder, flow=None)
        self.task_id = task_id
        self.queue = queue
        self.number = number
        self.enqueued_s = enqueued_s  # the task's first enqueue time, on the ACD's clock
        self.attempts = 0  # calls to the customer so far (restored: the earlier nodes' too)
        self.recorded = False  # its call record started (at the first offer)
        self.elsewhere = False  # another node took the place over (a new ACD leader)
        self.cause = ""  # why the last call to the customer did not reach them
        self.rec.direction = "outbound"
        self.rec.caller, self.rec.dialed = shown, number
        self.rec.external_id = None
        self.screen_pop = {"callback": number, "callback_for": task_id}

    # ---- the kept place's turn (kept_places.KeptPlaces.run) ------------------------------
    async def turn(self) -> bool:
        """Wait for the ACD to offer the task; True once the customer talked to the agent."""
        item = await self.next(None, lambda i: isinstance(i, acd.Action))
        while not isinstance(item, acd.OfferTask):
            item = await self.next(None, lambda i: isinstance(i, acd.Action))
        if not self.recorded:  # the record starts with the first offer to an agent
            self.recorded = True
            await self.layer.cdr.started(self.rec)
        self.deliver(item)  # the queue loop takes the offer from here
        self.gone = False
        result = await self.layer.serve_kept_place(self, self.queue)
        served = isinstance(result, ivr.QueueResult) and result.agent_id is not None
        if self.leg >= 0 and not self.gone:  # the agent ended it: the customer's leg too
            await self.stack.hangup(self.leg, 200)
        if self.leg >= 0:
            self.layer.release(self)
            self.leg = -1
        return served

    # ---- the agent took it: the customer's phone ------------------------------------------
    async def ready_to_talk(self, agent_id: str) -> bool:
        """Dial the customer for ``agent_id`` (who hears whom it calls back); True once the
        customer answered, with the customer's leg as this call's leg."""
        layer, stack = self.layer, self.stack
        if not await layer.places.claim(self):  # the place is another node's now
            return False
        if self.agent_leg is not None:
            with contextlib.suppress(LookupError):
                wav = await layer.prompts.render_async(
                    callback_prompt(self.number), layer.settings.sip.language, None)
                await stack.play(self.agent_leg, str(wav))
        try:
            target = self.number if self.number.startswith("sip:") else layer.outbound_uri(
                self.number)
        except Exception as exc:  # no gateway configured: say so, give up at once
            log.warning("call-back to %s cannot be dialed: %s", self.number, exc)
            self.attempts, self.cause = kept_places.ATTEMPTS, str(exc)[:128]
            return False
        self.leg = await stack.call(target, caller_id=self.rec.caller, present=True)
        layer.adopt(self)
        cause, media = "no answer", False
        deadline = time.monotonic() + kept_places.RING_S
        try:
            while True:
                item = await self.next(
                    max(0.0, deadline - time.monotonic()),
                    lambda i: isinstance(i, (ev.LegAnswered, ev.LegMediaReady))
                    and i.leg_id == self.leg)
                if item is None:
                    break
                if isinstance(item, ev.LegMediaReady):
                    media = True  # pjsua2 reports the 200's SDP before the call is confirmed
                    continue
                self.rec.answered_at = now()
                if not media:
                    await self.next(5.0, lambda i: isinstance(i, ev.LegMediaReady)
                                    and i.leg_id == self.leg)
                return True
            await stack.hangup(self.leg, 487)
        except CallerGone:
            cause = self.rec.hangup_cause or "ended"
        self.cause = cause
        await layer.cdr.event(self.rec, "callback_unanswered",
                              {"agent": agent_id, "cause": cause, "call": self.attempts})
        layer.release(self)
        self.gone, self.leg = True, -1
        return False


class KeptPlaces(kept_places.KeptPlaces[QueueCallback]):
    """The SIP layer's call-backs waiting their turn, kept on the record."""

    def __init__(self, layer: SipVoiceLayer) -> None:
        super().__init__(layer.acd, layer.cdr, layer.node, "sip", layer._spawn,
                         functools.partial(QueueCallback, layer))

    async def keep(self, call: SipCall) -> None:
        """The caller's call ended with a call-back asked for (the queue's key or overflow,
        or a flow's callback node): a :class:`QueueCallback` takes the task over, unless
        the ACD's leader on another node keeps the place."""
        if call.kept_elsewhere:
            return
        await self.keep_place(CallbackAsked(
            call.rec, call.task_id, call.rec.caller, call.shown_number, call.kept_queue,
            call.kept_priority, call.callback_request, call.waiting_since, call.lost_offer))
