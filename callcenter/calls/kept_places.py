"""Fair virtual hold for every voice layer: the place a caller keeps, on the record, called back.

A caller who presses a queue's ``callback_key`` (or whose queue overflows to ``callback``)
leaves the line; the ACD keeps the task with its first enqueue time (``CallbackRequested``).
A flow's ``callback`` node names the number to call (``RequestCallback``; the caller's own
number when the flow names none) and may also ask for a call-back without any queue wait:
then a new call-back task joins the queue at that moment.

What SIP (:mod:`callcenter.voice.sip.queue_callback`) and Twilio
(:mod:`callcenter.voice.twilio.callbacks`) share lives here: when the caller's call ends,
:meth:`KeptPlaces.keep_place` decides whether a place is kept and whom to call, writes it on the
record (``queue_callbacks``) and hands the ACD's task to the layer's call-back
(:class:`CallBack`); :meth:`KeptPlaces.run` lets the ACD offer it until the customer talked
to an agent, calling again :data:`RETRY_S` later in the same place after a call the customer
did not answer, up to :data:`ATTEMPTS` calls, then gives it up; :meth:`KeptPlaces.restore`
puts the layer's places on the record back in line (an engine starting, a new ACD leader).
How the agent is rung and the customer dialed is each layer's own (``CallBack.turn``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.orm import Session

from callcenter import acd, ivr
from callcenter.calls.acd_service import AcdService
from callcenter.calls.cdr import CallLog, CdrWriter
from callcenter.ids import new_id
from callcenter.logs import call_context
from callcenter.store import queue_callbacks as places
from callcenter.store.models import utcnow
from callcenter.store.queue_callbacks import DONE, GIVEN_UP, WAITING

log = logging.getLogger(__name__)

#: Calls to the customer before the call-back is given up.
ATTEMPTS = 3
#: Seconds between two calls to a customer who did not answer.
RETRY_S = 120.0
#: How long the customer's phone rings.
RING_S = 30.0


def callback_prompt(number: str) -> str:
    """What the agent hears before the customer's phone rings: whom it calls back."""
    return f"Call back {' '.join(number.lstrip('+'))}."


@dataclass(frozen=True)
class CallbackAsked:
    """What a call that ended asked for, in a voice layer's own terms."""

    rec: CallLog  # the caller's call (its record gets ``callback_kept``)
    task_id: str  # the call's ACD task
    customer: str  # the caller's own number: called back when the flow names none
    shown: str  # the number the customer had phoned: the caller ID a call-back shows
    kept_queue: str | None  # the queue whose place the ACD keeps (key or overflow)
    kept_priority: int = 0
    request: ivr.RequestCallback | None = None  # the flow's callback node
    waiting_since: float | None = None  # when the caller started waiting (epoch s)
    lost_offer: acd.OfferTask | None = None  # the place's turn came before the call ended


class CallBack(Protocol):
    """One kept place as a voice layer calls it back (the ACD's owner of its task)."""

    task_id: str
    queue: str
    number: str
    enqueued_s: float  # the task's first enqueue time, on the ACD's clock
    rec: CallLog  # the call-back's own record (started at the first offer)
    attempts: int  # calls to the customer so far (restored: the earlier nodes' too)
    recorded: bool  # its record started
    elsewhere: bool  # another node took the place over (a new ACD leader)
    cause: str  # why the last call to the customer did not reach them

    async def on_acd_action(self, action: acd.Action) -> None: ...

    async def turn(self) -> bool:
        """Wait for the ACD's offer, connect an agent and the customer; True once they
        talked, False when the customer was not reached (or the place is not ours)."""
        ...


C = TypeVar("C", bound=CallBack)


class KeptPlaces(Generic[C]):
    """A voice layer's call-backs waiting their turn, kept on the record (``queue_callbacks``
    rows of its ``voice_layer``, held by ``node``)."""

    def __init__(self, acd_service: AcdService, cdr: CdrWriter, node: str, voice_layer: str,
                 spawn: Callable[[Awaitable[Any]], None],
                 callback: Callable[[str, str, str, str, float], C]) -> None:
        self.acd, self.cdr, self.node, self.voice_layer = acd_service, cdr, node, voice_layer
        self._spawn = spawn
        #: ``callback(task_id, queue, number, shown, enqueued_s)``: the layer's call-back.
        self._callback = callback
        self.kept: dict[str, C] = {}  # task id -> call-back waiting its turn

    async def keep_place(self, asked: CallbackAsked) -> None:
        """The caller's call ended with a call-back asked for (the queue's key or overflow,
        or a flow's callback node): the layer's call-back takes the task over."""
        acd_service = self.acd
        req, kept = asked.request, asked.kept_queue
        if kept is None and req is None:
            return
        number = (req.number if req is not None and req.number else "") or asked.customer
        if not number:
            log.warning("call %s asked for a call-back with no number to call", asked.task_id)
            return
        since = time.time() if asked.waiting_since is None else asked.waiting_since
        enqueued = acd_service.clock() - max(0.0, time.time() - since)
        status = acd_service.router.task_status(asked.task_id) if kept is not None else None
        if kept is not None and status in ("waiting", "offered"):
            cb = self._callback(asked.task_id, kept, number, asked.shown, enqueued)
            priority = asked.kept_priority
        elif req is not None:  # a flow's callback node without a queue wait: joins now
            since, priority = time.time(), req.priority
            cb = self._callback(new_id(), req.queue, number, asked.shown, acd_service.clock())
        else:
            return
        place = places.KeptPlace(cb.task_id, cb.queue, number, asked.shown, priority,
                                 datetime.fromtimestamp(since, UTC), 0)
        node, call_id, layer = self.node, asked.rec.call_id, self.voice_layer

        def write(s: Session) -> None:
            places.keep(s, place, call_id, node, layer)

        # On the record first: a restarted engine (or the next ACD leader) calls back.
        await self.cdr.db.run(write)
        self.kept[cb.task_id] = cb
        acd_service.register(cb.task_id, cb)
        if kept is None:
            await acd_service.handle(acd.TaskArrived(cb.task_id, cb.queue, priority=priority,
                                                     callback=True))
        elif asked.lost_offer is not None and status == "offered":
            await cb.on_acd_action(asked.lost_offer)  # offered while the flow said goodbye
        await self.cdr.event(asked.rec, "callback_kept", {"queue": cb.queue, "number": number,
                                                          "task": cb.task_id})
        self._spawn(self.run(cb))

    async def restore(self) -> list[str]:
        """Put back in line the layer's kept places on the record (the engine started, or
        this node took the ACD's lead): each where it was, with the calls already made;
        their ids."""
        acd_service, node, layer = self.acd, self.node, self.voice_layer
        found = await self.cdr.db.run(lambda s: places.take_over(s, node, utcnow(), layer))
        restored = []
        for place in found:
            if place.task_id in self.kept:
                continue  # this node runs it already
            waited = max(0.0, (utcnow() - place.waiting_since).total_seconds())
            enqueued = acd_service.clock() - waited
            cb = self._callback(place.task_id, place.queue, place.number, place.shown, enqueued)
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
                await self.settle(place.task_id, GIVEN_UP, str(exc))
                continue
            self.kept[cb.task_id] = cb
            self._spawn(self.run(cb))
            restored.append(cb.task_id)
        if restored:
            log.info("%d kept %s place(s) back in line to be called back", len(restored), layer)
        return restored

    async def run(self, cb: C) -> None:
        """The place's turns until the customer talked to an agent, or was called
        :data:`ATTEMPTS` times (given up), or another node took the place over."""
        with call_context(f"callback-{cb.task_id}"):
            try:
                while True:
                    served = await cb.turn()
                    if served or cb.attempts >= ATTEMPTS or cb.elsewhere:
                        break
                    await self.settle(cb.task_id, WAITING, cb.cause)
                    await asyncio.sleep(RETRY_S)
                    await self.acd.handle(acd.TaskArrived(
                        cb.task_id, cb.queue, enqueued_at=cb.enqueued_s, callback=True))
                if served:
                    await self.settle(cb.task_id, DONE, "served")
                elif cb.elsewhere:
                    log.info("call-back to %s: another node holds the place now", cb.number)
                else:
                    log.warning("call-back to %s given up after %d calls", cb.number,
                                cb.attempts)
                    await self.settle(cb.task_id, GIVEN_UP, cb.cause)
                    await self.cdr.event(cb.rec, "callback_given_up",
                                         {"number": cb.number, "calls": cb.attempts})
            except Exception:
                log.exception("call-back to %s failed", cb.number)
            finally:
                self.acd.forget(cb.task_id)
                self.kept.pop(cb.task_id, None)
                if cb.recorded:
                    await self.cdr.ended(cb.rec)

    async def claim(self, cb: C) -> bool:
        """Claim the place on the record for one call to the customer (counted); False,
        and ``cb.elsewhere``, when another node holds it now: that node calls back."""
        task_id, node = cb.task_id, self.node
        if not await self.cdr.db.run(lambda s: places.claim_call(s, task_id, node, utcnow())):
            cb.elsewhere = True
            return False
        cb.attempts += 1
        return True

    async def settle(self, task_id: str, status: str, cause: str) -> None:
        node = self.node

        def write(s: Session) -> None:
            places.settle(s, task_id, node, status, cause, utcnow())

        await self.cdr.db.run(write)
