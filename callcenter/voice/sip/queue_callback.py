"""Fair virtual hold over SIP: the caller hangs up, keeps the place, and is called back.

A caller who presses a queue's ``callback_key`` (or whose queue overflows to ``callback``)
leaves the line; the ACD keeps the task with its first enqueue time (``CallbackRequested``).
A flow's ``callback`` node names the number to call (``RequestCallback``; the caller's own
number when the flow names none) and may also ask for a call-back without any queue wait:
then a new call-back task joins the queue at that moment.

When the caller's call ends, a :class:`QueueCallback` takes the task over. When the task's
turn comes the ACD offers it to an agent as any call (``OfferTask(callback=True)``): a
nailed-up line hears the tone, an on-demand agent's phone rings. Once the agent took it, the
engine tells the agent whom it calls back and dials the customer through
``sip.outbound_gateway`` showing the number the customer had called; when the customer
answers, the two talk as in any conversation (recording, hold, transfers, wrap-up). A
customer who does not answer (or is busy) is tried again :data:`RETRY_S` later, keeping the
place, up to :data:`ATTEMPTS` calls; then the call-back is given up, on the record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from callcenter import acd, ivr
from callcenter.ids import new_id
from callcenter.logs import call_context
from callcenter.store import queue_callbacks as places
from callcenter.store.models import utcnow
from callcenter.store.queue_callbacks import DONE, GIVEN_UP, WAITING
from callcenter.voice.sip import events as ev
from callcenter.voice.sip.inbound import CallerGone, SipCall, now

if TYPE_CHECKING:
    from callcenter.voice.sip.layer import SipVoiceLayer

log = logging.getLogger(__name__)

#: Calls to the customer before the call-back is given up.
ATTEMPTS = 3
#: Seconds between two calls to a customer who did not answer.
RETRY_S = 120.0
#: How long the customer's phone rings.
RING_S = 30.0


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

    # ---- the kept place -----------------------------------------------------------------
    async def run(self) -> None:
        with call_context(f"callback-{self.task_id}"):
            try:
                while True:
                    served = await self._turn()
                    if served or self.attempts >= ATTEMPTS or self.elsewhere:
                        break
                    await self._settle(WAITING, self.cause)
                    await asyncio.sleep(RETRY_S)
                    await self.layer.acd.handle(acd.TaskArrived(
                        self.task_id, self.queue, enqueued_at=self.enqueued_s, callback=True))
                if served:
                    await self._settle(DONE, "served")
                elif self.elsewhere:
                    log.info("call-back to %s: another node holds the place now", self.number)
                else:
                    log.warning("call-back to %s given up after %d calls", self.number,
                                self.attempts)
                    await self._settle(GIVEN_UP, self.cause)
                    await self.layer.cdr.event(self.rec, "callback_given_up",
                                               {"number": self.number, "calls": self.attempts})
            except Exception:
                log.exception("call-back to %s failed", self.number)
            finally:
                self.layer.acd.forget(self.task_id)
                self.layer.places.kept.pop(self.task_id, None)
                if self.recorded:
                    await self.layer.cdr.ended(self.rec)

    async def _settle(self, status: str, cause: str) -> None:
        layer, node = self.layer, self.layer.node
        await layer.cdr.db.run(lambda s: places.settle(s, self.task_id, node, status, cause,
                                                       utcnow()))

    async def _turn(self) -> bool:
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
        layer, stack, node = self.layer, self.stack, self.layer.node
        if not await layer.cdr.db.run(
                lambda s: places.claim_call(s, self.task_id, node, utcnow())):
            self.elsewhere = True  # the place is another node's now: it calls back
            return False
        self.attempts += 1
        if self.agent_leg is not None:
            with contextlib.suppress(LookupError):
                wav = await layer.prompts.render_async(
                    f"Call back {' '.join(self.number.lstrip('+'))}.",
                    layer.settings.sip.language, None)
                await stack.play(self.agent_leg, str(wav))
        try:
            target = self.number if self.number.startswith("sip:") else layer.outbound_uri(
                self.number)
        except Exception as exc:  # no gateway configured: say so, give up at once
            log.warning("call-back to %s cannot be dialed: %s", self.number, exc)
            self.attempts, self.cause = ATTEMPTS, str(exc)[:128]
            return False
        self.leg = await stack.call(target, caller_id=self.rec.caller, present=True)
        layer.adopt(self)
        cause, media = "no answer", False
        deadline = time.monotonic() + RING_S
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


class KeptPlaces:
    """The SIP layer's call-backs waiting their turn, kept on the record."""

    def __init__(self, layer: SipVoiceLayer) -> None:
        self.layer = layer
        self.kept: dict[str, QueueCallback] = {}  # task id -> call-back waiting its turn

    async def keep(self, call: SipCall) -> None:
        """The caller's call ended with a call-back asked for (the queue's key or overflow,
        or a flow's callback node): a :class:`QueueCallback` takes the task over."""
        layer, acd_service = self.layer, self.layer.acd
        req, kept = call.callback_request, call.kept_queue
        if call.kept_elsewhere or (kept is None and req is None):
            return
        number = (req.number if req is not None and req.number else "") or call.rec.caller
        if not number:
            log.warning("call %s asked for a call-back with no number to call", call.task_id)
            return
        since = time.time() if call.waiting_since is None else call.waiting_since
        enqueued = acd_service.clock() - max(0.0, time.time() - since)
        status = acd_service.router.task_status(call.task_id) if kept is not None else None
        if kept is not None and status in ("waiting", "offered"):
            cb = QueueCallback(layer, call.task_id, kept, number, call.shown_number, enqueued)
            priority = call.kept_priority
        elif req is not None:  # a flow's callback node without a queue wait: joins now
            since, priority = time.time(), req.priority
            cb = QueueCallback(layer, new_id(), req.queue, number, call.shown_number,
                               acd_service.clock())
        else:
            return
        place = places.KeptPlace(cb.task_id, cb.queue, number, call.shown_number, priority,
                                 datetime.fromtimestamp(since, UTC), 0)
        node, call_id = layer.node, call.rec.call_id

        def write(s: Session) -> None:
            places.keep(s, place, call_id, node)

        # On the record first: a restarted engine (or the next ACD leader) calls back.
        await layer.cdr.db.run(write)
        self.kept[cb.task_id] = cb
        acd_service.register(cb.task_id, cb)
        if kept is None:
            await acd_service.handle(acd.TaskArrived(cb.task_id, cb.queue, priority=priority,
                                                     callback=True))
        elif call.lost_offer is not None and status == "offered":
            cb.deliver(call.lost_offer)  # offered while the flow said goodbye
        await layer.cdr.event(call.rec, "callback_kept", {"queue": cb.queue, "number": number,
                                                          "task": cb.task_id})
        layer._spawn(cb.run())

    async def restore(self) -> list[str]:
        """Put back in line the kept places on the record (the engine started, or this node
        took the ACD's lead): each where it was, with the calls already made; their ids."""
        layer, acd_service, node = self.layer, self.layer.acd, self.layer.node
        found = await layer.cdr.db.run(lambda s: places.take_over(s, node, utcnow()))
        restored = []
        for place in found:
            if place.task_id in self.kept:
                continue  # this node runs it already
            waited = max(0.0, (utcnow() - place.waiting_since).total_seconds())
            enqueued = acd_service.clock() - waited
            cb = QueueCallback(layer, place.task_id, place.queue, place.number, place.shown,
                               enqueued)
            cb.attempts = place.calls
            acd_service.register(cb.task_id, cb)
            try:
                await acd_service.handle(acd.TaskArrived(
                    cb.task_id, place.queue, priority=place.priority, enqueued_at=enqueued,
                    callback=True))
            except acd.ACDError as exc:
                acd_service.forget(cb.task_id)
                log.warning("kept place %s (call back %s) cannot queue again: %s",
                            place.task_id, place.number, exc)
                await self._give_up(place.task_id, str(exc))
                continue
            self.kept[cb.task_id] = cb
            layer._spawn(cb.run())
            restored.append(cb.task_id)
        if restored:
            log.info("%d kept place(s) back in line to be called back", len(restored))
        return restored

    async def _give_up(self, task_id: str, cause: str) -> None:
        node = self.layer.node

        def write(s: Session) -> None:
            places.settle(s, task_id, node, GIVEN_UP, cause, utcnow())

        await self.layer.cdr.db.run(write)
