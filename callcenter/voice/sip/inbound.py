"""One inbound SIP call: runs its IVR flow, waits in an ACD queue, talks to an agent.

:class:`SipCall` is the adapter between a :class:`~callcenter.ivr.FlowSession` (pure) and the
SIP stack: it performs each IVR action (prompts, digit collection, queueing, transfer,
recording, CRM look-ups) and feeds the result back as the next IVR event. Everything that
happens to its legs arrives in one inbox, so the call is a single sequential coroutine.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from callcenter import acd, ivr
from callcenter.calls import CallLog
from callcenter.calls.crm import perform_http
from callcenter.ivr.events import QueueOutcome
from callcenter.logs import call_context
from callcenter.voice.sip import events as ev
from callcenter.voice.sip.keys_in_audio import hear_keys
from callcenter.voice.sip.sounds import wav_seconds
from callcenter.voice.sip.stack import AnswerError

if TYPE_CHECKING:
    from callcenter.voice.sip.layer import SipVoiceLayer

log = logging.getLogger(__name__)
PROMPT_GRACE_S = 3.0  # past a prompt's length, its end-of-file event is overdue
MEDIA_WAIT_S = 5.0  # an answered call with no audio by then has none: it is hung up


class CallerGone(Exception):
    """The caller hung up: unwinds whatever the call was doing."""


def now() -> datetime:
    return datetime.now(UTC)


class SipCall:
    def __init__(
        self, layer: SipVoiceLayer, incoming: ev.IncomingCall, flow: ivr.Flow | None
    ) -> None:
        self.layer = layer
        self.stack = layer.stack
        self.leg = incoming.leg_id
        self.incoming = incoming
        self.session = ivr.FlowSession(flow) if flow is not None else None
        self.inbox: asyncio.Queue[Any] = asyncio.Queue()
        self.rec = CallLog(
            call_id=layer.new_call_id(),
            direction="inbound",
            voice_layer="sip",
            caller=incoming.caller,
            dialed=incoming.dialed,
            flow=flow.name if flow else None,
            external_id=incoming.sip_call_id,
        )
        self.task_id = self.rec.call_id  # the call's task in the ACD
        self.digits = ""  # keys pressed while nothing was collecting them (type-ahead)
        self.gone = False
        self.gone_code = 0  # the SIP status the caller's leg ended with
        self.agent_leg: int | None = None
        self.agent_id: str | None = None
        self.nailed = False  # the agent leg is a nailed-up line: never hang it up
        # When the caller started waiting in a queue (epoch s), kept through handovers between
        # nodes (callcenter/voice/sip/handover.py); moving: leaving this node's queue for
        # another node's, no abandon.
        self.waiting_since: float | None = None
        self.moving = False
        # Fair virtual hold (queue_callback.py): the queue whose place the ACD keeps for a
        # call-back, the flow's request (the number to call), an offer that came meanwhile;
        # kept_elsewhere: the ACD's leader on another node keeps it.
        self.kept_queue: str | None = None
        self.kept_priority = 0
        self.callback_request: ivr.RequestCallback | None = None
        self.lost_offer: acd.OfferTask | None = None
        self.kept_elsewhere = False
        self.shown_number = incoming.dialed  # the caller ID a call-back shows
        # What the agent's desktop shows when the call is connected (a campaign's lead).
        self.screen_pop: dict[str, object] = {}
        self._playing: int | None = None
        self._recording: int | None = None
        self._path_len = 0
        self._keys_heard: asyncio.Task[None] | None = None  # tones in the audio (no RFC 4733)

    # ---- plumbing ---------------------------------------------------------------------
    def deliver(self, item: Any) -> None:
        self.inbox.put_nowait(item)

    async def on_acd_action(self, action: acd.Action) -> None:
        """The ACD's actions for this call's task (the call owns its task)."""
        self.deliver(action)

    async def next(
        self, timeout: float | None = None, accept: Callable[[Any], bool] = lambda _: True
    ) -> Any | None:
        """The next inbox item ``accept`` wants, or None after ``timeout`` seconds. Digits
        that arrive meanwhile are kept as type-ahead; a caller hang-up raises CallerGone."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            try:  # asyncio.timeout, not wait_for: no task per item
                async with asyncio.timeout(remaining):
                    item = await self.inbox.get()
            except TimeoutError:
                return None
            if isinstance(item, ev.LegEnded) and item.leg_id == self.leg:
                self.gone, self.gone_code = True, item.code
                self.rec.hangup_cause = f"{item.code} {item.reason}".strip()
                self.rec.hangup_by = self.rec.hangup_by or "caller"
                raise CallerGone
            if accept(item):
                return item
            if isinstance(item, ev.DtmfReceived) and item.leg_id == self.leg:
                self.digits += item.digit
            elif not isinstance(item, ev.PlaybackFinished):
                await self.on_side_event(item)

    async def on_side_event(self, item: Any) -> None:
        """Events that matter whatever the call is doing (an agent leg ending, say)."""
        if isinstance(item, ev.LegEnded) and item.leg_id == self.agent_leg:
            self.agent_leg = None
        elif isinstance(item, acd.OfferTask) and self.kept_queue is not None:
            self.lost_offer = item  # the kept place's turn came before the goodbye ended

    async def ready_to_talk(self, agent_id: str) -> bool:
        """Whether the agent the ACD connects may be bridged now (a call-back first dials
        the customer: queue_callback.py)."""
        return True

    # ---- the call ---------------------------------------------------------------------
    async def run(self) -> None:
        with call_context(self.rec.call_id):
            try:
                await self._run()
            except CallerGone:
                log.info("caller hung up")
            except Exception:
                log.exception("call failed")
                self.rec.hangup_cause = self.rec.hangup_cause or "engine error"
                await self.stack.hangup(self.leg, 500)
            finally:
                await self._finish()

    async def _run(self) -> None:
        assert self.session is not None
        self.layer.cdr.note_started(self.rec)  # the answer does not wait for the commit
        if not await self.answer_with_audio():
            return
        self.listen_for_keys()
        actions = self.session.handle(
            ivr.CallStarted(
                now=now(),
                caller=self.rec.caller,
                dialed=self.rec.dialed,
                call_id=self.rec.call_id,
            )
        )
        await self.drive(actions)

    async def answer_with_audio(self) -> bool:
        """Answer the caller's leg and wait for its audio; False when the call is over
        (offer not acceptable: 488; hung up before the answer; no audio), the record saying
        why."""
        source = self.incoming.source
        try:
            await self.stack.answer(self.leg)
        except AnswerError as exc:
            log.warning("call from %s not answered: %s", source, exc)
            self.rec.hangup_by, self.rec.hangup_cause = "engine", "488 offer not acceptable"
            await self.stack.hangup(self.leg, 488)
            self.gone = True  # the leg is over: nothing to hang up at the end
            return False
        except LookupError:  # its LegEnded is on the way
            self.gone, self.rec.hangup_by = True, "caller"
            self.rec.hangup_cause = "hung up before the answer"
            return False
        self.rec.answered_at = now()
        media = lambda i: isinstance(i, ev.LegMediaReady) and i.leg_id == self.leg  # noqa: E731
        if await self.next(MEDIA_WAIT_S, media) is None:
            log.warning("call from %s hung up: no audio %g s after the answer (its offer had "
                        "no audio stream pjsua could take)", source, MEDIA_WAIT_S)
            self.rec.hangup_by, self.rec.hangup_cause = "engine", "no audio"
            return False
        return True

    async def drive(self, actions: list[ivr.Action]) -> None:
        """Carry out the flow's actions and feed back their results until the flow ends."""
        assert self.session is not None
        while True:
            self._record_path()
            event = await self.perform(actions)
            if event is None:
                break
            actions = self.session.handle(event)
        self._record_path()

    def _record_path(self) -> None:
        """The IVR path (sensitive input already masked by the session) into the CDR.

        Not awaited: the caller does not wait for the commit (up to a CDR batch interval)
        before hearing the next prompt; the writes keep their order with the call's others."""
        assert self.session is not None
        for step in list(self.session.path)[self._path_len :]:
            self.layer.cdr.note(self.rec, "ivr", {"node": step.node, "detail": step.detail})
        self._path_len = len(self.session.path)

    def listen_for_keys(self) -> None:
        """The phone offered no RFC 4733 events: listen for DTMF tones in its audio, and
        deliver them as keys, as pjsua delivers the others."""
        if self.incoming.keys_in_audio and self._keys_heard is None:
            scratch = self.layer.recording_path(self.rec.call_id, "keys")
            self._keys_heard = asyncio.create_task(
                hear_keys(self.stack, self.leg, scratch, self.deliver), name="keys-in-audio")

    async def stop_listening(self) -> None:
        if self._keys_heard is not None:
            self._keys_heard.cancel()
            await asyncio.gather(self._keys_heard, return_exceptions=True)
            self._keys_heard = None

    async def _finish(self) -> None:
        await self.stop_listening()
        if self._recording is not None:
            await self.stack.stop_recording(self._recording)
        if self.agent_leg is not None:
            await self.layer.release_agent(self)
        if not self.gone:
            self.rec.hangup_by = self.rec.hangup_by or "engine"
            await self.stack.hangup(self.leg, 200)
        if self.agent_id is not None and self.rec.connected_at is not None:
            await self.layer.acd.handle(acd.TaskCompleted(self.task_id))
        self.layer.acd.forget(self.task_id)
        if self.session is not None and self.session.started and not self.session.ended:
            self.session.handle(ivr.CallerHungUp(now=now()))
            self._record_path()
        await self.layer.places.keep(self)
        await self.layer.cdr.ended(self.rec)

    async def perform(self, actions: list[ivr.Action]) -> ivr.Event | None:
        """Carry out one list of IVR actions; return the event the last one waits for."""
        for action in actions:
            match action:
                case ivr.Say() | ivr.Play():
                    await self.play_prompts([action], interruptible=False)
                case ivr.Gather():
                    return await self.gather(action)
                case ivr.Enqueue():
                    return await self.layer.enqueue(self, action)
                case ivr.Transfer():
                    return await self.layer.transfer(self, action)
                case ivr.Record():
                    return await self.record(action)
                case ivr.HttpRequest():
                    return await self.http(action)
                case ivr.HangUp(reason=reason):
                    self.rec.hangup_by = "engine"
                    self.rec.hangup_cause = reason
                case ivr.FlowEnded():
                    return None
                case _:
                    await self.on_notification(action)
        return None

    async def on_notification(self, action: ivr.Action) -> None:
        """An IVR notification (survey answer, ticket, DNC, ...): recorded, maybe escalated."""
        if isinstance(action, ivr.RequestCallback):
            self.callback_request = action  # who to call back, once the call ended
        await self.layer.notify(self, action)

    # ---- prompts and keys -------------------------------------------------------------
    async def prompt_file(self, prompt: ivr.Say | ivr.Play) -> str:
        if isinstance(prompt, ivr.Say):
            path = await self.layer.prompts.render_async(prompt.text, prompt.language, prompt.voice)
            return str(path)
        return prompt.file

    async def play_prompts(self, prompts: list[ivr.Say | ivr.Play], interruptible: bool) -> None:
        """Play prompts in order; with ``interruptible`` the first key stops them (barge-in)."""
        for prompt in prompts:
            if interruptible and self.digits:
                return
            wav = await self.prompt_file(prompt)
            pid = await self.stack.play(self.leg, wav)
            self._playing = pid

            def ends_prompt(item: Any, pid: int = pid) -> bool:
                if isinstance(item, ev.PlaybackFinished):
                    return item.playback_id == pid
                return (
                    interruptible
                    and isinstance(item, ev.DtmfReceived)
                    and (item.leg_id == self.leg)
                )

            try:
                # The player's end arrives as an event; should it ever be lost (seen once under
                # overload), the prompt's own length plus a margin ends the wait instead.
                done = await self.next(wav_seconds(wav) + PROMPT_GRACE_S, ends_prompt)
            finally:
                self._playing = None
            if done is None:
                log.warning("prompt %s: no end-of-file event in time, going on", wav)
                await self.stack.stop_playback(pid)
            if isinstance(done, ev.DtmfReceived):
                self.digits += done.digit
                await self.stack.stop_playback(pid)
                return

    async def gather(self, g: ivr.Gather) -> ivr.Event:
        await self.play_prompts(list(g.prompts), interruptible=True)
        wanted = g.num_digits or g.max_digits
        while True:
            if g.finish_key and g.finish_key in self.digits:
                got, _, self.digits = self.digits.partition(g.finish_key)
                break
            if len(self.digits) >= wanted:
                got, self.digits = self.digits[:wanted], self.digits[wanted:]
                break
            key = await self.next(
                g.timeout_s, lambda i: isinstance(i, ev.DtmfReceived) and i.leg_id == self.leg
            )
            if key is None:
                got, self.digits = self.digits, ""
                break
            self.digits += key.digit
        if not got:
            return ivr.GatherTimeout(now=now())
        return ivr.DigitsReceived(got, now=now(), sensitive=g.sensitive)

    # ---- record and CRM ---------------------------------------------------------------
    async def record(self, r: ivr.Record) -> ivr.Event:
        if r.beep:
            await self.play_prompts([ivr.Play(str(self.layer.beep_wav))], interruptible=False)
        path = self.layer.recording_path(self.rec.call_id, "voicemail" if r.voicemail else "rec")
        started = time.monotonic()
        rid = await self.stack.record(str(path), self.leg)
        try:
            await self.next(
                float(r.max_s),
                lambda i: (
                    isinstance(i, ev.DtmfReceived)
                    and i.leg_id == self.leg
                    and r.finish_key is not None
                    and i.digit == r.finish_key
                ),
            )
        finally:
            await self.stack.stop_recording(rid)
            took = time.monotonic() - started
            await self.layer.cdr.event(
                self.rec,
                "recording",
                {"path": str(path), "voicemail": r.voicemail, "duration_s": round(took, 2)},
            )
            # A voicemail or a flow's recording is a recording like a conversation: its row.
            await self.layer.recordings.stored(
                self.rec.call_id, str(path), kind="voicemail" if r.voicemail else "rec",
                channels=1, duration_s=took, by="flow", settle=True,
            )
        return ivr.RecordingFinished(str(path), time.monotonic() - started, now=now())

    async def http(self, h: ivr.HttpRequest) -> ivr.Event:
        return await perform_http(h)

    async def stop_prompt(self) -> None:
        """Stop whatever is playing to the caller at once (an agent is being connected)."""
        pid = self.take_prompt()
        if pid is not None:
            await self.stack.stop_playback(pid)

    def take_prompt(self) -> int | None:
        """What is playing to the caller, for the caller to stop (with the bridge, say)."""
        pid, self._playing = self._playing, None
        return pid


def queue_result(outcome: QueueOutcome, agent: str | None = None) -> ivr.QueueResult:
    return ivr.QueueResult(outcome, agent, now=now())
