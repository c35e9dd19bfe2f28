"""One Twilio call (inbound, or an answered outbound attempt) and its IVR flow as TwiML.

Twilio drives the call by webhooks: each answer to a waiting action (digits, a queue result, a
recording, a transfer result) is one *step*. :meth:`TwilioCall.advance` feeds the step's event
to the :class:`~callcenter.ivr.FlowSession`, performs the server-side actions (CRM look-ups,
notifications, entering the ACD) and renders the rest as one TwiML document whose callback
URLs carry the next step's number. The reply of every step is kept, so a webhook Twilio
retries gets the same TwiML and never advances the flow twice.

Waiting in a queue and connecting agents is :mod:`.queueing`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from twilio.twiml.voice_response import VoiceResponse

from callcenter import acd, ivr
from callcenter.calls import CallLog
from callcenter.calls.crm import perform_http
from callcenter.calls.notifications import notification_event
from callcenter.calls.transfer_targets import is_e164
from callcenter.logs import call_context
from callcenter.voice.twilio import queueing, twiml
from callcenter.voice.twilio.queueing import AgentOffer

if TYPE_CHECKING:
    from callcenter.calls.acd_service import TaskRouting
    from callcenter.voice.twilio.layer import TwilioVoiceLayer

log = logging.getLogger(__name__)

QueueState = Literal["none", "waiting", "bridging", "decided"]
FINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


def now() -> datetime:
    return datetime.now(UTC)


class TwilioCall:
    def __init__(self, layer: TwilioVoiceLayer, rec: CallLog, flow: ivr.Flow) -> None:
        self.layer = layer
        self.rec = rec
        self.flow = flow
        self.call_sid = rec.external_id or ""
        self.session = ivr.FlowSession(flow)
        self.lock = asyncio.Lock()
        self.step = 0  # the step whose answer the call waits for
        self.replies: dict[int, str] = {}
        self.ended = False
        self.variables: dict[str, object] = {}
        # who else hears the flow's notifications (the dialer: survey answers, opt-outs)
        self.on_notification: Callable[[ivr.Action], Awaitable[None]] | None = None
        self._path_len = 0
        # what the pending step waits for
        self.gather: ivr.Gather | None = None
        self.transfer_target = ""
        self.record_file: Path | None = None
        # queue and agent (see queueing.py)
        self.queue: ivr.Enqueue | None = None
        self.queue_state: QueueState = "none"
        self.queue_step = 0
        self.queue_sid: str | None = None
        self.announcement = ""
        self.announced_at: float | None = None
        self.offers: dict[str, AgentOffer] = {}
        self.agent: AgentOffer | None = None  # the one connected
        self.agent_done = False
        self.recordings: set[str] = set()  # RecordingSids stored
        self.recording_files: set[Path] = set()  # files promised to Twilio's callbacks
        self.routing: TaskRouting = layer.acd  # who routes the call's queue task
        # What the agent's desktop shows when the call is connected (a campaign's lead).
        self.screen_pop: dict[str, object] = {}
        # Fair virtual hold (callbacks.py): when the caller first waited in a queue (epoch
        # s), the queue whose place the ACD keeps for a call-back (key or overflow), the
        # flow's request (the number to call), an offer of the place that came meanwhile.
        self.waiting_since: float | None = None
        self.kept_queue: str | None = None
        self.kept_priority = 0
        self.callback_request: ivr.RequestCallback | None = None
        self.lost_offer: acd.OfferTask | None = None

    @property
    def task_id(self) -> str:
        return self.rec.call_id

    # ---- steps ------------------------------------------------------------------------
    async def start(self) -> str:
        """The first TwiML of the call (step 0 is the incoming-call webhook itself)."""
        with call_context(self.rec.call_id):
            await self.layer.cdr.started(self.rec)
            self.rec.answered_at = now()
            return await self.advance(
                ivr.CallStarted(
                    now=now(),
                    caller=self.rec.caller,
                    dialed=self.rec.dialed,
                    call_id=self.rec.call_id,
                    variables=self.variables,
                )
            )

    def restart_path(self) -> None:
        """A new session replaced the old one (an answering machine's flow)."""
        self._path_len = 0

    def replay(self, step: int) -> str | None:
        """The reply already given to ``step`` (a retried webhook), or None if it is new."""
        if step in self.replies:
            return self.replies[step]
        if step != self.step:
            log.warning(
                "call %s: webhook for step %d while at step %d", self.call_sid, step, self.step
            )
            return self.replies.get(self.step - 1, twiml.empty())
        return None

    async def advance(self, event: ivr.Event) -> str:
        """Answer the pending step with ``event``; returns (and keeps) the TwiML reply."""
        answered = self.next_step()
        resp = VoiceResponse()
        next_event: ivr.Event | None = event
        while next_event is not None:
            actions = self.session.handle(next_event)
            await self.record_path()
            next_event = await self._render(actions, resp)
        return self.keep(answered, str(resp))

    def next_step(self) -> int:
        """The pending step, about to be answered; from now on the call waits for the next
        one (the number the callback URLs of the answer carry)."""
        answered, self.step = self.step, self.step + 1
        return answered

    def keep(self, step: int, reply: str) -> str:
        """``reply`` answers ``step``: a retried webhook (or a redirect) gets it again."""
        self.replies[step] = reply
        self.replies.pop(step - 8, None)  # retries come within seconds; keep a few
        return reply

    async def record_path(self) -> None:
        """The IVR path (sensitive input already masked by the session) into the CDR."""
        for step in list(self.session.path)[self._path_len :]:
            await self.layer.cdr.event(self.rec, "ivr", {"node": step.node, "detail": step.detail})
        self._path_len = len(self.session.path)

    async def _render(self, actions: list[ivr.Action], resp: VoiceResponse) -> ivr.Event | None:
        """Append TwiML for ``actions``; return the next event when the step can be answered
        here (a CRM reply, an immediate queue overflow), None when Twilio must answer it."""
        urls = self.layer.urls
        media = self.layer.media_url
        for action in actions:
            match action:
                case ivr.Say() | ivr.Play():
                    twiml.add_prompt(resp, action, media)
                case ivr.Gather():
                    self.gather = action
                    twiml.add_gather(resp, action, urls.step("gather", self.step), media)
                    return None
                case ivr.Enqueue():
                    immediate = await queueing.enter_queue(self, action)
                    if immediate is not None:
                        return immediate
                    queueing.add_enqueue(self, resp)
                    return None
                case ivr.Transfer(target=target):
                    self.transfer_target = target
                    twiml.add_transfer(
                        resp, action, urls.step("transfer", self.step), self.transfer_caller_id()
                    )
                    return None
                case ivr.Record():
                    kind = "voicemail" if action.voicemail else "rec"
                    self.record_file = self.layer.recording_file(self, kind)
                    twiml.add_record(
                        resp,
                        action,
                        urls.step("record", self.step),
                        self.layer.recording_status_url(self, kind, self.record_file),
                    )
                    return None
                case ivr.HttpRequest():
                    return await perform_http(action, self.layer.crm_transport)
                case ivr.HangUp(reason=reason):
                    self.rec.hangup_by = "engine"
                    self.rec.hangup_cause = reason
                    resp.hangup()
                case ivr.FlowEnded():
                    if not self.rec.hangup_by:
                        self.rec.hangup_by = "engine"
                        resp.hangup()
                    return None
                case _:
                    if isinstance(action, ivr.RequestCallback):
                        self.callback_request = action  # who to call back, once it ended
                    await self.layer.cdr.event(self.rec, *notification_event(action))
                    await self.layer.escalations.on_notification(self.rec, action)
                    if self.on_notification is not None:
                        await self.on_notification(action)
        return None

    # ---- caller IDs ---------------------------------------------------------------------
    def own_number(self) -> str:
        """The number the engine calls from for this call: ``twilio.caller_id``, else the
        number the caller dialed."""
        return self.layer.settings.twilio.caller_id or self.rec.dialed

    def transfer_caller_id(self) -> str:
        """Who a transfer's target sees calling: the caller's own number, passed through as
        the SIP layer does (an inbound caller's; a dialer call's is the campaign's caller ID),
        or :meth:`own_number` when that is no E.164 number (withheld, ``client:NAME``)."""
        return self.rec.caller if is_e164(self.rec.caller) else self.own_number()

    # ---- answers to waiting actions ----------------------------------------------------
    def gathered(self, digits: str) -> ivr.Event:
        g = self.gather
        if not digits:
            return ivr.GatherTimeout(now=now())
        if g is not None:
            digits = digits[: g.max_digits]
        return ivr.DigitsReceived(digits, now=now(), sensitive=bool(g and g.sensitive))

    async def transferred(self, dial_status: str) -> ivr.Event:
        if dial_status in ("completed", "answered"):
            await self.layer.cdr.event(
                self.rec, "transferred", {"to": self.transfer_target}, announce="transferred"
            )
            return ivr.TransferResult(True, now=now())
        return ivr.TransferResult(False, dial_status or "no answer", now=now())

    def recorded(self, duration: str) -> ivr.Event:
        return ivr.RecordingFinished(str(self.record_file or ""), _float(duration), now=now())

    # ---- the end ----------------------------------------------------------------------
    async def finish(self, status: str) -> None:
        """The caller's leg reached a final status: settle the ACD and close the CDR, once."""
        if self.ended:
            return
        self.ended = True
        with call_context(self.rec.call_id):
            self.rec.hangup_cause = self.rec.hangup_cause or status
            self.rec.hangup_by = self.rec.hangup_by or (
                "caller" if self.rec.direction == "inbound" else "callee"
            )
            await queueing.leave_on_hangup(self)
            self.routing.forget(self.task_id)
            if not self.session.ended and self.session.started:
                self.session.handle(ivr.CallerHungUp(now=now()))
                await self.record_path()
            await self.layer.places.keep(self)  # a call-back asked for: the place is kept
            await self.layer.cdr.ended(self.rec)
        self.layer.retire(self)

    async def on_acd_action(self, action: acd.Action) -> None:
        with call_context(self.rec.call_id):
            await queueing.on_acd_action(self, action)


def _float(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return 0.0
