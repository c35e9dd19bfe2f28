"""The SIP voice layer: the stack, the calls on it, and how callers reach agents.

Owns the :class:`SipStack`, routes every stack event to the call that owns the leg, starts a
:class:`SipCall` per admitted INVITE, and implements the parts of a call that involve the ACD:
waiting in a queue (music, position / wait announcements, abandon), ringing agents, bridging,
recording and transfers. On-demand agents are called at their SIP URI when offered a task.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from callcenter import acd, ivr
from callcenter.calls import AcdService, CdrWriter, Directory
from callcenter.calls.announcements import queue_announcement
from callcenter.calls.escalations import CallEscalations
from callcenter.calls.notifications import notification_event
from callcenter.calls.recording_paths import recording_path
from callcenter.calls.recordings import RecordingLog
from callcenter.cluster.leadership import AcdLeadership
from callcenter.config import Settings
from callcenter.ids import new_id
from callcenter.ivr.events import QueueOutcome
from callcenter.voice.prompts import PromptRenderer
from callcenter.voice.sip import events as ev
from callcenter.voice.sip import udp
from callcenter.voice.sip.admission import Admission
from callcenter.voice.sip.agents import AgentLine
from callcenter.voice.sip.conversation import Control, Requeued, talk
from callcenter.voice.sip.handover import Handovers, LeaderFound, Relocated
from callcenter.voice.sip.inbound import CallerGone, SipCall, now, queue_result
from callcenter.voice.sip.overload import LagDetector, LoopWatch
from callcenter.voice.sip.presence import OptionsPinger
from callcenter.voice.sip.queue_callback import KeptPlaces
from callcenter.voice.sip.sounds import ensure_sounds
from callcenter.voice.sip.stack import SipConfig, SipStack
from dialer.leases import default_node

log = logging.getLogger(__name__)

EARLY_LEGS_KEPT = 256


def _path(path: Path | None) -> str | None:
    return str(path) if path is not None else None


class SipVoiceLayer:
    def __init__(
        self,
        settings: Settings,
        acd_service: AcdService,
        cdr: CdrWriter,
        directory: Directory,
        flows: dict[str, ivr.Flow],
        escalations: CallEscalations | None = None,
        leadership: AcdLeadership | None = None,
    ) -> None:
        self.settings = settings
        self.escalations = escalations or CallEscalations(None)
        s = settings.sip
        self.acd = acd_service
        self.cdr = cdr
        self.directory = directory
        self.flows = flows
        self.prompts = PromptRenderer(s.prompt_cache_dir)
        self.recordings = RecordingLog(cdr.db)
        self.sounds_dir = Path(s.prompt_cache_dir)
        self.hold_music, self.beep_wav = ensure_sounds(self.sounds_dir, s.hold_music)
        cluster = settings.cluster
        numbers = frozenset(flows) | {s.agent_login_number}
        #: Callers handed between nodes (cluster.enabled): handover.py.
        self.handovers: Handovers | None = None
        if leadership is not None and cluster.enabled and cluster.secret is not None:
            secret = cluster.secret.get_secret_value().encode()
            self.handovers = Handovers(self, leadership, secret, cluster.handover_number)
            numbers |= {cluster.handover_number}
        admission = Admission(
            tuple(s.trusted_sources),
            numbers,
            s.rate_per_source,
            2 * s.rate_per_source,
            vouch=self.handovers.vouch if self.handovers is not None else None,
        )
        self.admission = admission
        self.loop_watch: LoopWatch | None = None
        self._backlog = udp.Backlog(None)
        self.stack = SipStack(
            SipConfig(host=s.host, port=s.port, max_calls=s.max_calls, public_host=s.public_host,
                      media_threads=s.media_threads, udp_buffer_bytes=s.udp_buffer_bytes,
                      rtp_port=s.rtp_port, rtp_port_range=s.rtp_port_range,
                      transports=tuple(dict.fromkeys(s.transports)), tls_port=s.tls_port,
                      tls_cert_file=_path(s.tls_cert_file), tls_key_file=_path(s.tls_key_file),
                      tls_ca_file=_path(s.tls_ca_file), srtp=s.srtp),
            self._on_event,
            admission,
        )
        #: This engine among the nodes (who holds which kept place: queue_callback.py).
        self.node = leadership.node if leadership is not None else (
            settings.node or default_node())
        self.places = KeptPlaces(self)  # call-backs waiting their turn
        self._owners: dict[int, SipCall] = {}  # leg -> call that owns it
        self.lines: dict[str, AgentLine] = {}  # agent id -> nailed-up line
        self.calls: dict[str, SipCall] = {}  # call id -> live inbound call
        self._monitors: dict[int, _Monitor] = {}  # supervisor leg -> what it monitors
        self._early: dict[int, list[ev.SipEvent]] = {}  # events of legs not yet claimed
        self.presence: OptionsPinger | None = None
        self._paused_by_presence: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self.rejected = 0

    async def start(self) -> None:
        await self.stack.start()
        if self.handovers is None or self.handovers.leadership.is_leader:
            await self.places.restore()  # call-backs kept before a restart: back in line
        s = self.settings.sip
        if s.overload_lag_ms > 0:
            enter = s.overload_lag_ms / 1000
            self._backlog = udp.Backlog.find(s.port)
            if not self._backlog.found:
                log.info("SIP socket backlog unreadable here: overload is judged by the loop only")
            self.loop_watch = LoopWatch(
                self.admission,
                LagDetector(enter, min(0.05, enter / 2)),
                backlog=self._backlog.fill,
            )
            self.loop_watch.start()
        if s.presence_interval_s > 0:
            self.presence = OptionsPinger(
                self._presence_targets,
                self._presence_changed,
                host=s.host,
                interval_s=s.presence_interval_s,
                failures=s.presence_failures,
            )
            await self.presence.start()

    def _presence_targets(self) -> dict[str, str]:
        """Logged-in on-demand agents and where their softphones are."""
        router = self.acd.router
        return {
            code: entry.sip_uri
            for code, entry in self.directory.agents.items()
            if entry.sip_uri and code not in self.lines and router.agent_state(code) != "logged_out"
        }

    async def _presence_changed(self, agent_id: str, change: str, reason: str) -> None:
        state = self.acd.router.agent_state(agent_id)
        if change == "lost" and state != "logged_out":
            self._paused_by_presence.add(agent_id)
            await self.acd.handle(acd.AgentPaused(agent_id, reason))
        elif change == "back" and agent_id in self._paused_by_presence:
            self._paused_by_presence.discard(agent_id)
            if state == "paused":
                await self.acd.handle(acd.AgentReady(agent_id))

    async def stop(self) -> None:
        if self.loop_watch is not None:
            await self.loop_watch.stop()
            self._backlog.close()
        if self.presence is not None:
            await self.presence.stop()
        if self.handovers is not None:  # waiting callers go back, to queue at the next leader
            await self.handovers.give_back()
        for call in {c for c in self._owners.values()}:
            call.deliver(ev.LegEnded(call.leg, 0, "engine shutting down"))
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        await self.stack.stop()

    def new_call_id(self) -> str:
        return new_id()

    def recording_path(self, call_id: str, kind: str) -> Path:
        return recording_path(self.settings.recordings_dir, call_id, kind)

    # ---- events from the stack ----------------------------------------------------------
    def _on_event(self, event: ev.SipEvent) -> None:
        match event:
            case ev.IncomingCall(dialed=dialed) if dialed == self.settings.sip.agent_login_number:
                relayed = self.handovers.relay_line(event) if self.handovers else None
                if relayed is not None:  # agents log in where the ACD is led
                    self._owners[event.leg_id] = relayed
                    self._spawn(relayed.run(), leg=event.leg_id)
                    return
                line = AgentLine(self, event)
                self._owners[event.leg_id] = line
                self._spawn(line.run(), leg=event.leg_id)
            case ev.IncomingCall() if (self.handovers is not None
                                       and event.dialed == self.handovers.number):
                handed = self.handovers.incoming(event)
                if handed is not None:
                    self._owners[event.leg_id] = handed
                    self.calls[handed.rec.call_id] = handed
                    self._spawn(handed.run(), leg=event.leg_id, call_id=handed.rec.call_id)
            case ev.IncomingCall():
                flow = self.flows.get(event.dialed)
                if flow is None:  # admission already refused unknown numbers; be safe
                    self._spawn(self.stack.hangup(event.leg_id, 404))
                    return
                call = SipCall(self, event, flow)
                self._owners[event.leg_id] = call
                self.calls[call.rec.call_id] = call
                self._spawn(call.run(), leg=event.leg_id, call_id=call.rec.call_id)
            case ev.LegPlaced(leg_id=leg_id):
                # Kept events for this id are an earlier leg's (a refused caller's LegEnded
                # would end the new leg's offer at once: seen after a flood of junk INVITEs).
                self._early.pop(leg_id, None)
            case ev.CallRejected():
                self.rejected += 1
                if event.reason == self.admission.overloaded:
                    return  # counted; the overload watch logs how many when it is over
                log.info(
                    "refused INVITE from %s to %r: %d %s",
                    event.source,
                    event.dialed,
                    event.code,
                    event.reason,
                )
            case _:
                leg_id = getattr(event, "leg_id", -1)
                owner = self._owners.get(leg_id) or self._monitors.get(leg_id)
                if owner is not None:
                    owner.deliver(event)
                elif leg_id >= 0:
                    # A leg we placed can answer before the coroutine that placed it has its
                    # id back (both arrive from the pj thread in order, but the coroutine
                    # resumes later): keep its events until the leg is claimed.
                    self._early.setdefault(leg_id, []).append(event)
                    while len(self._early) > EARLY_LEGS_KEPT:
                        self._early.pop(next(iter(self._early)))
                if isinstance(event, ev.LegEnded):
                    self._owners.pop(event.leg_id, None)

    def _claim(self, leg: int, owner: Any, registry: dict[int, Any] | None = None) -> None:
        """Route a placed leg's events to ``owner``, including any that came first."""
        (self._owners if registry is None else registry)[leg] = owner
        for event in self._early.pop(leg, []):
            owner.deliver(event)

    def _spawn(self, work: Any, leg: int | None = None, call_id: str | None = None) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            if leg is not None:
                self._owners.pop(leg, None)
            if call_id is not None:
                self.calls.pop(call_id, None)
                for sup_leg, mon in list(self._monitors.items()):
                    if mon.call_id == call_id:
                        self._spawn(self.stack.hangup(sup_leg, 200))

        task.add_done_callback(done)

    # ---- waiting in a queue ---------------------------------------------------------------
    async def enqueue(self, call: SipCall, q: ivr.Enqueue) -> ivr.Event:
        """A flow's Enqueue: wait at the ACD's leader when another node leads it
        (handover.py), else here."""
        if self.handovers is not None and self.handovers.elsewhere():
            return await self.handovers.queue(call, q)
        return await self.queueing(call, q)

    async def queueing(
        self, call: SipCall, q: ivr.Enqueue, *, transferred: bool = False,
        waited_s: float | None = None,
    ) -> ivr.Event:
        """Wait in ``q.queue`` with music and announcements until connected, overflowed or
        the caller asks for a call-back; then talk; return the IVR's QueueResult.

        ``transferred``: the ACD holds the task already (a call connected to an agent outside
        any line, a preview call, that the agent transferred into ``q.queue``). ``waited_s``:
        how long the caller has waited already (handed over from another node): the place
        in line it keeps."""
        task_id = call.task_id
        call.waiting_since = call.waiting_since or time.time() - (waited_s or 0)
        # A caller handed over waited elsewhere first: the record's wait counts that too.
        call.rec.queue, call.rec.queued_at = q.queue, now() - timedelta(seconds=waited_s or 0)
        call.digits = ""  # keys typed before the queue answer nothing in it
        self.acd.register(task_id, call)
        # The ACD hears of the caller first: neither the record's commit nor starting the
        # music may delay a free agent (both are in order anyway: events carry their seq).
        self.cdr.note(call.rec, "queued", {"queue": q.queue}, announce="queued")
        try:
            if not transferred:
                since = None if waited_s is None else self.acd.clock() - max(0.0, waited_s)
                await self.acd.handle(
                    acd.TaskArrived(
                        task_id, q.queue, priority=q.priority, skills={s: 1 for s in q.skills},
                        enqueued_at=since,
                    )
                )
            music = await self.stack.play(
                call.leg, str(q.hold_music or self.hold_music), loop=True
            )
            call._playing = music
            result = await self._wait_in_queue(call, q, music)
        except Exception as exc:
            # The caller hung up (or the leg vanished under a stack command, which is the
            # same thing a moment before its LegEnded arrives, or the engine failed): the ACD
            # must never keep a waiting caller that nobody serves any more.
            # Waiting or ringing an agent: also a call transferred into this queue after an
            # earlier conversation (its connected_at is set from that one).
            status = self.acd.router.task_status(task_id)
            if isinstance(exc, Relocated):
                # Off to the ACD's leader (handover.py), the place kept: no abandon.
                await self.acd.handle(acd.TaskAbandoned(task_id))
                await self.cdr.event(call.rec, "moved_to_leader", {"queue": q.queue})
                raise
            if call.moving and status in ("waiting", "offered"):
                # Handed back to its node, to wait at the next leader: no abandon.
                await self.acd.handle(acd.TaskAbandoned(task_id))
                await self.cdr.event(call.rec, "handed_back", {"queue": q.queue})
                raise CallerGone from None
            if status in ("waiting", "offered") or call.rec.connected_at is None:
                if status == "connected":
                    # Accepted (a nailed-up line) but gone before the bridge: the agent is free.
                    await self.acd.handle(acd.TaskCompleted(task_id))
                else:
                    await self.acd.handle(acd.TaskAbandoned(task_id))
                await self.cdr.event(
                    call.rec, "abandoned", {"queue": q.queue}, announce="abandoned"
                )
                await self.escalations.on_abandon(call.rec, q.queue)
                if isinstance(exc, LookupError):
                    raise CallerGone from None
            raise
        return result

    async def _wait_in_queue(self, call: SipCall, q: ivr.Enqueue, music: int) -> ivr.Event:
        while True:
            item = await call.next(
                None, lambda i: isinstance(i, (acd.Action, ev.SipEvent, LeaderFound)))
            match item:
                case LeaderFound() if (
                    call.agent_leg is None
                    and self.acd.router.task_status(call.task_id) == "waiting"
                ):
                    raise Relocated  # nobody rung yet here: the leader may take the caller
                case acd.OfferTask(agent_id=agent_id, timeout_s=ring_s):
                    await self._ring_agent(call, agent_id, ring_s)
                case acd.CancelOffer(agent_id=agent_id) if call.agent_leg is not None:
                    leg, call.agent_leg = call.agent_leg, None
                    self._owners.pop(leg, None)
                    await self.stack.hangup(leg, 487)
                case ev.LegAnswered(leg_id=leg) if leg == call.agent_leg:
                    await self.acd.handle(acd.OfferAccepted(call.task_id, call.agent_id or ""))
                case ev.LegEnded(leg_id=leg, code=code) if leg == call.agent_leg:
                    log.info("agent %s's phone did not take the call: %d %s", call.agent_id,
                             code, item.reason)
                    call.agent_leg = None
                    event: acd.Event = (
                        acd.OfferTimedOut if code in (408, 480) else acd.OfferRejected
                    )(call.task_id, call.agent_id or "")
                    call.agent_id = None
                    await self.acd.handle(event)
                case acd.ConnectTask(agent_id=agent_id):
                    if not await call.ready_to_talk(agent_id):  # a call-back not answered
                        await self.release_agent(call)
                        await self.acd.handle(acd.TaskCompleted(call.task_id))
                        call.agent_id = None
                        return queue_result(QueueOutcome.OVERFLOW)
                    # No dead air: the music or announcement stops with the bridge (one hop).
                    result = await talk(self, call, agent_id)
                    if not isinstance(result, Requeued):
                        return result
                    # Transferred to a queue: wait again, with the original enqueue time.
                    call.rec.queue = result.queue
                    music = await self.stack.play(
                        call.leg, str(q.hold_music or self.hold_music), loop=True
                    )
                    call._playing = music
                case acd.OverflowTask(target=target, reason=reason):
                    await call.stop_prompt()
                    await self.cdr.event(
                        call.rec, "overflow", {"target": target.kind.value, "reason": reason}
                    )
                    if target.kind is acd.OverflowKind.CALLBACK:
                        call.kept_queue, call.kept_priority = q.queue, q.priority  # kept
                        return queue_result(QueueOutcome.CALLBACK)
                    return queue_result(QueueOutcome.OVERFLOW)
                case acd.AnnouncePosition(position=position, estimated_wait_s=ewt):
                    music = await self._announce(call, music, q, position, ewt)
                case ev.DtmfReceived(digit=d) if q.callback_key and d == q.callback_key:
                    await call.stop_prompt()
                    await self.acd.handle(acd.CallbackRequested(call.task_id))
                    call.kept_queue, call.kept_priority = q.queue, q.priority
                    return queue_result(QueueOutcome.CALLBACK)

    # ---- fair virtual hold: call-backs (queue_callback.py) -------------------------------
    async def serve_kept_place(self, call: SipCall, queue: str) -> ivr.Event | None:
        """A call-back's turn (queue_callback.py): the offer, the agent, then the customer
        and the conversation; the queue's result, or None when the customer hung up unserved."""
        try:
            return await self._wait_in_queue(call, ivr.Enqueue(queue), -1)
        except CallerGone:
            if call.rec.connected_at is not None:
                return queue_result(QueueOutcome.SERVED, call.agent_id)
            return None
        finally:
            if call.agent_leg is not None:
                await self.release_agent(call)
            if call.agent_id is not None and call.rec.connected_at is not None:
                await self.acd.handle(acd.TaskCompleted(call.task_id))
                call.agent_id = None

    async def _announce(
        self, call: SipCall, music: int, q: ivr.Enqueue, position: int, ewt: float | None
    ) -> int:
        text = queue_announcement(q, position, ewt)
        if not text:
            return music
        wav = await self.prompts.render_async(text, self.settings.sip.language, None)
        await self.stack.stop_playback(music)
        pid = await self.stack.play(call.leg, str(wav))
        call._playing = pid
        # Wait for the announcement, but let the ACD interrupt it (handled by the caller loop).
        item = await call.next(
            None,
            lambda i: (
                (isinstance(i, ev.PlaybackFinished) and i.playback_id == pid)
                or isinstance(i, acd.Action)
            ),
        )
        if isinstance(item, acd.Action):
            call.deliver(item)  # back to the queue loop, which reacts at once
            # Re-queueing moves it behind newer items; acceptable, they are ACD updates too.
        music = await self.stack.play(call.leg, str(q.hold_music or self.hold_music), loop=True)
        call._playing = music
        return music

    async def _ring_agent(self, call: SipCall, agent_id: str, ring_s: float) -> None:
        """Offer the call to an agent: bridge a nailed-up line at once, or ring the agent's
        phone; the ACD ends the ringing after the queue's ``no_answer_timeout_s`` (``ring_s``)
        with a CancelOffer, and the task goes to the next agent."""
        line = self.lines.get(agent_id)
        if line is not None and line.customer is None:
            # Nailed up: no ringing; a tone, and the ACD connects at once.
            call.agent_id, call.agent_leg, call.nailed = agent_id, line.leg, True
            line.customer = call
            # Recorded without waiting for the commit: the bridge is on the caller's clock.
            self.cdr.note(
                call.rec, "offered", {"agent": agent_id, "nailed": True}, announce="offered"
            )
            await line.connect_tone()
            await self.acd.handle(acd.OfferAccepted(call.task_id, agent_id))
            return
        entry = self.directory.agents.get(agent_id)
        if entry is None or not entry.sip_uri:
            log.warning("agent %s has no SIP URI: refusing the offer", agent_id)
            await self.acd.handle(acd.OfferRejected(call.task_id, agent_id))
            return
        call.agent_id = agent_id
        leg = await self.stack.call(entry.sip_uri, caller_id=call.rec.caller)
        call.agent_leg = leg
        self._claim(leg, call)
        await self.cdr.event(call.rec, "offered", {"agent": agent_id, "ring_s": ring_s},
                             announce="offered")

    async def release_agent(self, call: SipCall) -> None:
        """End the agent's part of a call: hang up an on-demand leg, free a nailed-up line."""
        leg, call.agent_leg = call.agent_leg, None
        if leg is None:
            return
        if not call.nailed:
            self._owners.pop(leg, None)
            await self.stack.hangup(leg, 200)
            return
        call.nailed = False
        with contextlib.suppress(LookupError):
            await self.stack.disconnect(call.leg, leg)
            await self.stack.disconnect(leg, call.leg)
        line = self.lines.get(call.agent_id or "")
        if line is not None and line.customer is call:
            line.customer = None

    # ---- outbound (the dialer) ---------------------------------------------------------
    def outbound_uri(self, number: str) -> str:
        gateway = self.settings.sip.outbound_gateway
        if not gateway:
            from callcenter.errors import ConfigError

            raise ConfigError(
                "outbound SIP calls need a gateway: set sip.outbound_gateway "
                "(CALLCENTER_SIP__OUTBOUND_GATEWAY), e.g. 10.0.0.2:5060 for your SBC"
            )
        return f"sip:{number}@{gateway}"

    def adopt(self, call: SipCall) -> None:
        """Route a call's leg events to it (calls the engine placed itself)."""
        self._claim(call.leg, call)
        self.calls[call.rec.call_id] = call

    def release(self, call: SipCall) -> None:
        self._owners.pop(call.leg, None)
        self.calls.pop(call.rec.call_id, None)

    def free_agents(self, queue: str) -> int:
        """Agents of ``queue`` who could take a call this instant."""
        router = self.acd.router
        return sum(
            1
            for code, entry in self.directory.agents.items()
            if queue in entry.profile.queues and router.agent_state(code) == "available"
        )

    # ---- supervisor listen / whisper / barge -------------------------------------------
    async def monitor(self, call_id: str, supervisor_uri: str, mode: str) -> int:
        """Ring the supervisor; once answered, join them to the call in ``mode``."""
        call = self.calls.get(call_id)
        if call is None or call.agent_leg is None:
            raise LookupError(f"call {call_id} is not connected to an agent now")
        leg = await self.stack.call(supervisor_uri)
        self._claim(leg, _Monitor(self, leg, call_id, mode), self._monitors)
        await self.cdr.event(call.rec, "monitor", {"supervisor": supervisor_uri, "mode": mode})
        return leg

    async def _join_monitor(self, mon: _Monitor) -> None:
        call = self.calls.get(mon.call_id)
        if call is None or call.agent_leg is None:
            await self.stack.hangup(mon.leg, 200)
            return
        await self.stack.connect(call.leg, mon.leg)  # the supervisor hears the customer ...
        await self.stack.connect(call.agent_leg, mon.leg)  # ... and the agent
        if mon.mode in ("whisper", "barge"):
            await self.stack.connect(mon.leg, call.agent_leg)  # the agent hears the supervisor
        if mon.mode == "barge":
            await self.stack.connect(mon.leg, call.leg)  # so does the customer

    # ---- transfer and notifications ------------------------------------------------------
    def target_uri(self, target: str) -> str:
        """A SIP URI as is; a number through the outbound gateway (or this host without one)."""
        if target.startswith(("sip:", "sips:")):
            return target
        if self.settings.sip.outbound_gateway:
            return self.outbound_uri(target)
        return f"sip:{target}@{self.settings.sip.host}"

    def adopt_leg(self, leg: int, call: SipCall) -> None:
        self._claim(leg, call)

    def control(self, call_id: str, request: Control) -> None:
        """Hand an agent's request (hold, transfer, ...) to a connected call."""
        call = self.calls.get(call_id)
        if call is None or call.rec.connected_at is None or call.agent_id is None:
            raise LookupError(f"call {call_id} is not connected to an agent now")
        call.deliver(request)

    async def transfer(self, call: SipCall, t: ivr.Transfer) -> ivr.Event:
        """Blind transfer as a B2BUA: call the target, bridge on answer, stay until one ends."""
        target = self.target_uri(t.target)
        leg = await self.stack.call(target, caller_id=call.rec.caller)
        self._claim(leg, call)
        item = await call.next(
            t.timeout_s, lambda i: isinstance(i, (ev.LegAnswered, ev.LegEnded)) and i.leg_id == leg
        )
        if not isinstance(item, ev.LegAnswered):
            await self.stack.hangup(leg, 487)
            reason = f"{item.code} {item.reason}" if isinstance(item, ev.LegEnded) else "no answer"
            return ivr.TransferResult(False, reason, now=now())
        await self.stack.bridge(call.leg, leg)
        await self.cdr.event(call.rec, "transferred", {"to": target}, announce="transferred")
        call.agent_leg = leg
        await call.next(None, lambda i: isinstance(i, ev.LegEnded) and i.leg_id == leg)
        call.agent_leg = None
        return ivr.TransferResult(True, now=now())

    async def notify(self, call: SipCall, action: ivr.Action) -> None:
        """IVR notifications: kept in the call's history for the record, tickets and dialer."""
        await self.cdr.event(call.rec, *notification_event(action))
        await self.escalations.on_notification(call.rec, action)


class _Monitor:
    """A supervisor's leg joined to a call."""

    def __init__(self, layer: SipVoiceLayer, leg: int, call_id: str, mode: str) -> None:
        self.layer, self.leg, self.call_id, self.mode = layer, leg, call_id, mode

    def deliver(self, event: Any) -> None:
        if isinstance(event, ev.LegAnswered):
            self.layer._spawn(self.layer._join_monitor(self))
        elif isinstance(event, ev.LegEnded):
            self.layer._monitors.pop(self.leg, None)

