"""The SIP user agent on pjsua2: legs, media and the asyncio API that drives them.

:class:`SipStack` owns a :class:`~callcenter.voice.sip.pjthread.PjThread`; every method is a
coroutine that runs its pjsua2 work on that thread. What happens on the wire comes back as
events (``callcenter.voice.sip.events``) passed to ``on_event`` on the asyncio loop.

Lifetimes (see ../shared/NOTES-PJSUA2.md): the thread keeps a strong reference to each leg,
player and recorder until pjsua reports it gone; objects point back at the stack only through
weak references; teardown hangs up, drains, drops everything, collects, then destroys the lib.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import count
from typing import Any

from callcenter.calls.recording_wav import RecordingFileError
from callcenter.voice.sip import events as ev
from callcenter.voice.sip import udp
from callcenter.voice.sip.admission import Admission, source_host
from callcenter.voice.sip.capacity import check_capacity, quiet_pjlib
from callcenter.voice.sip.headers import HANDOVER_HEADER, add_headers, bye_result
from callcenter.voice.sip.pjlog import PjLogGate
from callcenter.voice.sip.pjthread import PjThread
from callcenter.voice.sip.refusal import refuse
from callcenter.voice.sip.sounds import wav_seconds
from callcenter.voice.sip.transports import cannot_listen, transport_config
from callcenter.voice.sip.uris import (
    header_value,
    keys_in_audio,
    request_uri_user,
    uri_user,
    wire_text,
)

log = logging.getLogger(__name__)

try:
    import pjsua2 as pj
except ImportError:  # reported by SipStack.start with what to do
    pj = None


class AnswerError(Exception):
    """pjsua could not answer an incoming leg (its SDP offer has nothing pjsua can take)."""


@dataclass(frozen=True)
class SipConfig:
    host: str = "127.0.0.1"
    port: int = 5060
    max_calls: int = 1000
    media_threads: int = 1  # pjmedia's worker threads (RTP receive)
    rtp_port: int = 4000  # media ports from here (RTP, RTCP next), pairs per leg
    rtp_port_range: int = 0  # how many past rtp_port (0: no limit)
    clock_rate: int = 8000
    log_level: int = 2  # 2: pjsip's warnings too, such as the malformed messages it drops
    user_agent: str = "callcenter"
    public_host: str | None = None  # what goes into Contact / SDP when behind NAT
    udp_buffer_bytes: int = udp.DEFAULT_BUFFER_BYTES  # the SIP socket's SO_RCVBUF / SO_SNDBUF
    transports: tuple[str, ...] = ("udp", "tcp")  # udp and tcp at port, tls at tls_port
    tls_port: int = 5061
    tls_cert_file: str | None = None  # PEM: what the engine shows on TLS
    tls_key_file: str | None = None
    tls_ca_file: str | None = None  # PEM CAs that peers' certificates are verified against
    srtp: str = "off"  # off, optional, mandatory: SRTP (SDES; meant for TLS)


@dataclass
class _Recording:
    """The files recorded together under one recording id (ids of ``SipStack._recorders``)."""

    tracks: list[int]
    aligned: bool  # every file also hears the silent source (see SipStack.record_tracks)
    paused: bool = False


class _Leg(pj.Call if pj else object):  # type: ignore[misc]
    """One pjsua call leg. Callbacks run on the pj thread and only post events."""

    def __init__(self, owner: SipStack, account: Any, call_id: int = -1) -> None:
        if call_id >= 0:
            super().__init__(account, call_id)
        else:
            super().__init__(account)
        self._owner = weakref.ref(owner)
        self.leg_id = call_id
        self.audio: Any = None
        self.media_reported = False
        self.answered = False
        self.pending_from: str | None = None  # an incoming leg's source until ACK or end

    def onCallState(self, prm: Any) -> None:  # noqa: N802 - pjsua2 names
        owner = self._owner()
        if owner is None:
            return
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_EARLY and info.lastStatusCode in (180, 183):
            owner._emit(ev.LegRinging(self.leg_id))
        elif info.state == pj.PJSIP_INV_STATE_CONFIRMED and not self.answered:
            self.answered = True
            owner._settle(self)
            owner._emit(ev.LegAnswered(self.leg_id))
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            owner._settle(self)
            owner._leg_gone(self, info.lastStatusCode, info.lastReason, bye_result(pj, prm.e))

    def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
        owner = self._owner()
        if owner is None:
            return
        info = self.getInfo()  # keep it alive: the media vector points into it
        for mi in info.media:
            if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self.audio = self.getAudioMedia(mi.index)
                if not self.media_reported:
                    self.media_reported = True
                    owner._emit(ev.LegMediaReady(self.leg_id))
                owner._rewire(self)
                return

    def onDtmfDigit(self, prm: Any) -> None:  # noqa: N802
        owner = self._owner()
        if owner is not None:
            method = "sip-info" if prm.method == 1 else "rfc4733"
            owner._emit(ev.DtmfReceived(self.leg_id, wire_text(prm.digit), method))


class _Account(pj.Account if pj else object):  # type: ignore[misc]
    def __init__(self, owner: SipStack) -> None:
        super().__init__()
        self._owner = weakref.ref(owner)

    def onIncomingCall(self, prm: Any) -> None:  # noqa: N802
        owner = self._owner()
        if owner is not None:
            owner._incoming(self, prm)


@dataclass
class _Playback:
    """A WAV file playing to a leg (``SipStack._players``).

    The end of a file is found by looking at the player's position when the file should be
    over, not by ``AudioMediaPlayer.onEof2``: pjmedia calls that from its event thread, which
    would then wait for the GIL while holding the event manager's callback lock, and every
    player destroyed meanwhile on the pj thread (``pjmedia_event_unsubscribe``) spins on that
    lock: under load, end-of-file events piled up for seconds and stalled the pj thread with
    them. A plain ``pj.AudioMediaPlayer`` (no Python subclass) keeps Python off that thread.
    """

    player: Any
    leg_id: int
    samples: int  # the file's length in its own samples
    rate: float  # its samples per second


#: A playback this close to its end (in seconds) is over: pjmedia reads whole frames.
_PLAYBACK_SLACK_S = 0.03
_SIP_USER = re.compile(r"\+?[0-9A-Za-z._-]+")  # a number or name that is a SIP URI's user

#: How long a finished or stopped player lives on before it is destroyed. At the end of its
#: file pjmedia queues an event for its event thread, which then calls into the player object
#: (pjsua2's ``eof_cb``): destroying the player before that event is handled crashed the
#: process (segfault on ``ev_thread``, seen at 1,200 concurrent calls).
_RETIRE_S = 2.0


class _PjLog(pj.LogWriter if pj else object):  # type: ignore[misc]
    """pjsua's log lines into Python logging through a :class:`PjLogGate` (level 1 errors, 2
    warnings, more is debug; junk from peers counted, floods held back)."""

    def __init__(self, gate: PjLogGate) -> None:
        super().__init__()
        self.gate = gate

    def write(self, entry: Any) -> None:
        for level, line in self.gate.take(entry.level, entry.msg, time.monotonic()):
            log.log(level, "%s", line)


class SipStack:
    """A SIP user agent: accepts and places calls, plays, records, bridges."""

    def __init__(
        self,
        config: SipConfig,
        on_event: Callable[[ev.SipEvent], None],
        admission: Admission | None = None,
    ) -> None:
        self.config = config
        self.on_event = on_event
        self.admission = admission or Admission()
        self._thread: PjThread
        self._ep: Any = None
        self._account: Any = None
        self._legs: dict[int, Any] = {}
        self._players: dict[int, _Playback] = {}
        self._retired: dict[int, Any] = {}  # players waiting out _RETIRE_S (by playback id)
        self._recorders: dict[int, tuple[Any, list[int]]] = {}  # one per file
        self._recordings: dict[int, _Recording] = {}  # what callers hold: one or more files
        self._bridges: dict[int, set[int]] = {}  # leg -> legs it transmits to
        self._ids = count(1)
        self.capacity = 0
        self.log_gate = PjLogGate()  # counts the malformed SIP pjsip refused (/metrics)
        self.local_uri = f"sip:{config.public_host or config.host}:{config.port}"

    # ---- life cycle -------------------------------------------------------------------
    async def start(self) -> None:
        if pj is None:
            from callcenter.voice.sip.capacity import CapacityError

            raise CapacityError(
                "pjsua2 is not installed: build and install it with "
                "`bash scripts/build-pjsua2.sh --install .venv/bin/python`"
            )
        loop = asyncio.get_running_loop()
        self._thread = PjThread(loop, self._setup, self._handle_events, self._teardown)
        await self._thread.start()

    async def stop(self) -> None:
        await self._thread.stop()

    def _setup(self) -> None:
        c = self.config
        quiet_pjlib(pj, c.log_level)
        ep = pj.Endpoint()
        ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = c.max_calls
        cfg.uaConfig.userAgent = c.user_agent
        cfg.logConfig.level = c.log_level
        cfg.logConfig.consoleLevel = c.log_level
        self._log_writer = _PjLog(self.log_gate)
        cfg.logConfig.writer = self._log_writer
        cfg.logConfig.decor = 0
        cfg.medConfig.clockRate = c.clock_rate
        cfg.medConfig.sndClockRate = c.clock_rate
        cfg.medConfig.noVad = True
        cfg.medConfig.threadCnt = c.media_threads
        # A call's legs, its recorders (two in stereo) and players, plus retiring players.
        cfg.medConfig.maxMediaPorts = max(4 * c.max_calls + 64, 254)
        ep.libInit(cfg)
        try:
            self.capacity = check_capacity(pj, c.max_calls)
        except Exception:
            ep.libDestroy()
            raise
        ep.audDevManager().setNullDev()
        # G.711 first in our offers. pjsua's first choice is speex/16000, which two engine
        # nodes (a handover, a relayed agent line) then take: every frame of such a leg is
        # speex-coded and resampled to the bridge's clock_rate on pjmedia's clock thread,
        # which runs at real-time priority and preempts the event loop (bench/
        # cluster_handover.py: at 10 calls/s handed over, half a core per node, against 3 %
        # for direct calls). A peer's offer still chooses by its own order.
        for codec, priority in (("PCMU/8000/1", 254), ("PCMA/8000/1", 253)):
            ep.codecSetPriority(codec, priority)
        for transport in c.transports:
            self._listen(ep, transport)
        ep.libStart()
        acfg = pj.AccountConfig()
        acfg.idUri = self.local_uri
        # Without this every ~25th call stalls 5 s on an AAAA lookup (NOTES-PJSUA2.md).
        acfg.mediaConfig.ipv6Use = pj.PJSUA_IPV6_DISABLED
        acfg.mediaConfig.transportConfig.port = c.rtp_port
        acfg.mediaConfig.transportConfig.portRange = c.rtp_port_range
        # SRTP with SDES keys in the SDP (sip.srtp; meant for TLS). Not srtpSecureSignaling:
        # with it pjsua refuses every call that is not on TLS (406), even with SRTP optional.
        acfg.mediaConfig.srtpUse = {"off": pj.PJMEDIA_SRTP_DISABLED,
                                    "optional": pj.PJMEDIA_SRTP_OPTIONAL,
                                    "mandatory": pj.PJMEDIA_SRTP_MANDATORY}[c.srtp]
        acfg.mediaConfig.srtpSecureSignaling = 0
        acc = _Account(self)
        acc.create(acfg, True)
        self._ep, self._account = ep, acc
        log.info("SIP listening on %s %s:%d%s (%d call slots)",
                 "+".join(t for t in c.transports if t != "tls"), c.host, c.port,
                 f", tls {c.host}:{c.tls_port}" if "tls" in c.transports else "", self.capacity)

    def _listen(self, ep: Any, transport: str) -> None:
        """Open one SIP transport (:mod:`callcenter.voice.sip.transports`); one pjsip cannot
        open stops the start with what to do."""
        kind, tcfg = transport_config(pj, self.config, transport)
        try:
            ep.transportCreate(kind, tcfg)
        except pj.Error as exc:
            ep.libDestroy()
            raise cannot_listen(self.config, transport, tcfg.port, exc.info()) from None

    def _handle_events(self, ms: int) -> None:
        self._ep.libHandleEvents(ms)

    def _teardown(self) -> None:
        ep = self._ep
        if ep is None:
            return
        try:
            ep.hangupAllCalls()
        except Exception:  # noqa: BLE001 - best effort at shutdown
            log.exception("hangupAllCalls failed")
        deadline = time.monotonic() + 2.0
        while self._legs and time.monotonic() < deadline:
            ep.libHandleEvents(10)
        self._players.clear()
        self._retired.clear()
        self._recorders.clear()
        self._legs.clear()
        if self._account is not None:
            self._account.shutdown()
        self._account = None
        gc.collect()
        ep.libDestroy()
        self._ep = None
        log.info("SIP stack stopped")

    # ---- events from pjsua (pj thread) ------------------------------------------------
    def _emit(self, event: ev.SipEvent) -> None:
        self._thread.post(self.on_event, event)

    def _incoming(self, account: Any, prm: Any) -> None:
        leg = _Leg(self, account, prm.callId)
        leg.leg_id = prm.callId
        whole = wire_text(prm.rdata.wholeMsg)
        source = prm.rdata.srcAddress
        dialed = request_uri_user(whole)
        handover = header_value(whole, HANDOVER_HEADER)
        code, reason = self.admission.check(source, dialed, time.monotonic(), handover)
        self._legs[leg.leg_id] = leg
        if code:
            refuse(pj, leg, code)
            self._emit(ev.CallRejected(source, dialed, code, reason))
            return
        leg.pending_from = source_host(source)
        self.admission.answering(leg.pending_from)
        info = leg.getInfo()
        remote = wire_text(info.remoteUri)
        self._emit(
            ev.IncomingCall(
                leg.leg_id,
                uri_user(remote),
                remote,
                dialed,
                source,
                wire_text(info.callIdString),
                keys_in_audio(whole),
                handover,
            )
        )

    def _settle(self, leg: Any) -> None:
        if leg.pending_from is not None:
            self.admission.settled(leg.pending_from)
            leg.pending_from = None

    def _leg_gone(self, leg: Any, code: int, reason: str, result: str = "") -> None:
        leg_id = leg.leg_id
        for pid, playback in list(self._players.items()):
            if playback.leg_id == leg_id:
                self._retire(pid, self._players.pop(pid))
        for _, legs in self._recorders.values():
            if leg_id in legs:
                legs.remove(leg_id)
        self._bridges.pop(leg_id, None)
        for targets in self._bridges.values():
            targets.discard(leg_id)
        leg.audio = None
        self._legs.pop(leg_id, None)
        self._emit(ev.LegEnded(leg_id, code, reason, result))

    def _rewire(self, leg: Any) -> None:
        """Re-apply bridges after a re-INVITE changed the leg's media port."""
        for target_id in self._bridges.get(leg.leg_id, ()):
            target = self._legs.get(target_id)
            if target is not None and target.audio is not None:
                leg.audio.startTransmit(target.audio)

    def _check_playback(self, playback_id: int) -> None:
        """At the time a file should be over: say so, or look again when it will be (the
        conference clock may run late under load). pjmedia rewinds a finished file: its
        position reads 0 at the end."""
        playback = self._players.get(playback_id)
        if playback is None:  # stopped, or its leg is gone
            return
        position = playback.player.getPos()
        left_s = (playback.samples - position) / playback.rate
        if position == 0 or left_s <= _PLAYBACK_SLACK_S:
            self._stop_player(playback_id)
            self._emit(ev.PlaybackFinished(playback_id, playback.leg_id))
        else:
            self._thread.call_later(left_s, lambda: self._check_playback(playback_id))

    # ---- commands (asyncio side) ------------------------------------------------------
    def _leg(self, leg_id: int) -> Any:
        leg = self._legs.get(leg_id)
        if leg is None:
            raise LookupError(f"leg {leg_id} is gone")
        return leg

    def _media(self, leg_id: int) -> Any:
        leg = self._leg(leg_id)
        if leg.audio is None:
            raise LookupError(f"leg {leg_id} has no active audio yet")
        return leg.audio

    async def answer(self, leg_id: int, code: int = 200) -> None:
        """Answer an incoming leg; :class:`AnswerError` when pjsua cannot (the caller's
        offer has nothing it can take: it has refused the call itself, 488)."""

        def run() -> None:
            op = pj.CallOpParam()
            op.statusCode = code
            leg = self._leg(leg_id)  # LookupError: the caller hung up already
            try:
                leg.answer(op)
            except pj.Error as exc:
                raise AnswerError(f"pjsua cannot answer leg {leg_id}: {exc.reason}") from None

        await self._thread.submit(run)

    async def hangup(self, leg_id: int, code: int = 603,
                     headers: Mapping[str, str] | None = None) -> None:
        """End a leg: refuse it with ``code`` before the answer, BYE after; ``headers`` go
        in that request or response."""

        def run() -> None:
            leg = self._legs.get(leg_id)
            if leg is None:
                return
            op = pj.CallOpParam()
            op.statusCode = code
            add_headers(pj, op, headers)
            leg.hangup(op)

        await self._thread.submit(run)

    async def call(self, uri: str, caller_id: str | None = None,
                   present: bool = False, headers: Mapping[str, str] | None = None) -> int:
        """Place an outgoing call; returns its leg id (events follow). ``caller_id`` goes in
        P-Asserted-Identity; with ``present`` (a call to a customer) also in the From header,
        where a trunk that does not trust our P-Asserted-Identity takes the number to show
        (a ``caller_id`` that cannot be a SIP user, such as a SIP URI, stays out of From).
        ``headers`` are added to the INVITE."""
        host = self.config.public_host or self.config.host

        def run() -> int:
            leg = _Leg(self, self._account)
            op = pj.CallOpParam(True)
            # pjsua 2.17 offers real-time text by default: two more sockets and a clock thread
            # per call, and ~300 ms of blocked pj thread at every hang-up.
            op.opt.textCount = 0
            op.opt.videoCount = 0
            if caller_id:
                hdr = pj.SipHeader()
                hdr.hName = "P-Asserted-Identity"
                hdr.hValue = f"<sip:{caller_id}@{host}>"
                op.txOption.headers.append(hdr)
                if present and _SIP_USER.fullmatch(caller_id):
                    op.txOption.localUri = f"<sip:{caller_id}@{host}>"
            add_headers(pj, op, headers)
            leg.makeCall(uri, op)
            leg.leg_id = leg.getId()
            self._legs[leg.leg_id] = leg
            self._emit(ev.LegPlaced(leg.leg_id))  # before any event of this leg
            return int(leg.leg_id)

        return await self._thread.submit(run)

    async def play(self, leg_id: int, wav: str, loop: bool = False) -> int:
        """Start playing a WAV file to a leg; returns a playback id. ``PlaybackFinished``
        follows at the end of the file (never for a loop)."""

        def run() -> int:
            media = self._media(leg_id)
            pid = next(self._ids)
            player = pj.AudioMediaPlayer()
            player.createPlayer(wav, 0 if loop else pj.PJMEDIA_FILE_NO_LOOP)
            samples = player.getInfo().sizeSamples
            seconds = wav_seconds(wav)
            rate = samples / seconds if seconds > 0 else float(self.config.clock_rate)
            player.startTransmit(media)
            self._players[pid] = _Playback(player, leg_id, samples, rate)
            if not loop:
                self._thread.call_later(seconds, lambda: self._check_playback(pid))
            return pid

        return await self._thread.submit(run)

    async def stop_playback(self, playback_id: int) -> None:
        """Stop at once (no dead air when an agent answers mid-prompt)."""
        await self._thread.submit(lambda: self._stop_player(playback_id))

    def _stop_player(self, playback_id: int) -> None:  # on the pj thread
        playback = self._players.pop(playback_id, None)
        if playback is not None:
            leg = self._legs.get(playback.leg_id)
            if leg is not None and leg.audio is not None:
                playback.player.stopTransmit(leg.audio)
            self._retire(playback_id, playback)

    def _retire(self, playback_id: int, playback: _Playback) -> None:  # on the pj thread
        """Keep a player that no longer plays alive for ``_RETIRE_S``, then let it go."""
        self._retired[playback_id] = playback.player
        self._thread.call_later(_RETIRE_S, lambda: self._retired.pop(playback_id, None))

    async def connect(self, source_leg: int, *targets: int) -> None:
        """Let ``targets`` hear ``source_leg`` (one way): listen, whisper and barge build on it."""
        await self._thread.submit(lambda: self._transmit(source_leg, targets))

    def _transmit(self, source_leg: int, targets: tuple[int, ...]) -> None:  # on the pj thread
        src = self._media(source_leg)
        for t in targets:
            src.startTransmit(self._media(t))
            self._bridges.setdefault(source_leg, set()).add(t)

    async def disconnect(self, source_leg: int, *targets: int) -> None:
        def run() -> None:
            src_leg = self._legs.get(source_leg)
            for t in targets:
                self._bridges.get(source_leg, set()).discard(t)
                dst = self._legs.get(t)
                if src_leg is not None and src_leg.audio and dst is not None and dst.audio:
                    src_leg.audio.stopTransmit(dst.audio)

        await self._thread.submit(run)

    async def bridge(self, a: int, b: int, stop_playback: int | None = None) -> None:
        """Two-way audio between two legs, and ``stop_playback`` stopped, in one pj-thread hop
        (each hop may wait for the thread's next poll: a connect is on the caller's clock)."""

        def run() -> None:
            if stop_playback is not None:
                self._stop_player(stop_playback)
            self._transmit(a, (b,))
            self._transmit(b, (a,))

        await self._thread.submit(run)

    async def record(self, wav: str, *legs: int) -> int:
        """Record the mix of ``legs`` into ``wav``; returns a recording id."""
        return await self.record_tracks([(wav, legs)])

    async def record_tracks(self, tracks: Sequence[tuple[str, Sequence[int]]]) -> int:
        """Record several WAV files as one recording (one id to pause, switch and stop), each
        the mix of its legs (stereo: the caller's leg into one file, the agent's into another).

        With two or more files, each also hears the conference's silent source (the null sound
        device's capture port): a recorder writes only on the clock ticks when something sends
        it audio, so without it a leg that sends nothing for a while (a phone on hold with
        ``a=inactive``) would shorten its file and put the sides out of step. All connections
        are made in one pj-thread command; pjmedia queues them and applies them together at
        its next clock tick, so the files start on the same tick."""

        def run() -> int:
            sources = [[self._media(leg_id) for leg_id in legs] for _, legs in tracks]
            made: list[int] = []
            try:
                for wav, legs in tracks:
                    rec = pj.AudioMediaRecorder()
                    rec.createRecorder(wav)
                    tid = next(self._ids)
                    self._recorders[tid] = (rec, list(legs))
                    made.append(tid)
            except pj.Error as exc:
                for tid in made:
                    del self._recorders[tid]
                raise RecordingFileError(
                    f"cannot create the recording file {wav} ({exc.info()}): check that "
                    "recordings_dir exists and is writable, and that pjsua2 has recorders left"
                ) from None
            recording = _Recording(made, aligned=len(tracks) > 1)
            for tid, medias in zip(made, sources, strict=True):
                rec = self._recorders[tid][0]
                for media in medias:
                    media.startTransmit(rec)
                if recording.aligned:
                    self._silence().startTransmit(rec)
            rid = next(self._ids)
            self._recordings[rid] = recording
            return rid

        return await self._thread.submit(run)

    async def stop_recording(self, recording_id: int) -> None:
        """Stop and close the files. pjsua finishes each file (its header) on the media clock
        thread a tick or more later: wait for that before reading it (``recording_wav``)."""

        def run() -> None:
            recording = self._recordings.pop(recording_id, None)
            if recording is None:
                return
            for tid in recording.tracks:
                # The last reference: the recorder and its conference port go, connections too.
                self._recorders.pop(tid, None)

        await self._thread.submit(run)

    async def pause_recording(self, recording_id: int, paused: bool) -> None:
        """Stop (or restart) feeding a recording: nothing is written while paused, so the
        files lack the paused time, the same ticks in each (the audit rows say when it was)."""

        def run() -> None:
            recording = self._recordings.get(recording_id)
            if recording is None or recording.paused == paused:
                return
            recording.paused = paused
            for tid in recording.tracks:
                rec, legs = self._recorders[tid]
                for leg_id in legs:
                    self._feed(leg_id, rec, not paused)
                if recording.aligned:
                    silence = self._silence()
                    if paused:
                        silence.stopTransmit(rec)
                    else:
                        silence.startTransmit(rec)

        await self._thread.submit(run)

    async def switch_recorded_leg(
        self, recording_id: int, track: int, old_leg: int | None, new_leg: int
    ) -> None:
        """Record ``new_leg`` instead of ``old_leg`` in file number ``track`` of a recording
        (an attended transfer: the target takes the agent's place in the same file)."""

        def run() -> None:
            recording = self._recordings.get(recording_id)
            if recording is None:
                return
            rec, legs = self._recorders[recording.tracks[track]]
            if old_leg in legs:
                legs.remove(old_leg)
                if not recording.paused:
                    self._feed(old_leg, rec, False)
            legs.append(new_leg)
            if not recording.paused:
                self._feed(new_leg, rec, True)

        await self._thread.submit(run)

    def _feed(self, leg_id: int, rec: Any, on: bool) -> None:
        leg = self._legs.get(leg_id)
        if leg is not None and leg.audio is not None:
            if on:
                leg.audio.startTransmit(rec)
            else:
                leg.audio.stopTransmit(rec)

    def _silence(self) -> Any:
        """A source that sends silence on every tick: the null sound device's capture port."""
        return self._ep.audDevManager().getCaptureDevMedia()

    async def send_dtmf(self, leg_id: int, digits: str) -> None:
        await self._thread.submit(lambda: self._leg(leg_id).dialDtmf(digits))

    async def active_legs(self) -> int:
        return await self._thread.submit(lambda: len(self._legs))
