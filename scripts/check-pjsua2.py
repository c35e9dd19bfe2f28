#!/usr/bin/env python3
"""Prove how many simultaneous calls the installed pjsua2 really carries.

pjproject clamps `UaConfig.maxCalls` to its compile-time PJSUA_MAX_CALLS without a word (the
PyPI `pjsua2-python` wheel: 4 calls; the 5th gets `486 Busy Here`), so asking for N calls
proves nothing. This check starts an endpoint configured as the engine runs it (threadCnt 0,
mainThreadOnly, null audio device, UDP on 127.0.0.1, IPv6 media off), then:

1. reads the clamped limit back from pjsua itself (`pjsua_call_get_max_count`, through ctypes on
   the loaded extension) and the conference bridge size (`Endpoint.mediaMaxPorts`);
2. places loopback calls to itself, PCMU only, each answered with 200 OK, until N call slots
   (two per loopback call) are held at once with audio active on every leg. PCMU is 8 kHz
   and the bridge runs at 16 kHz, so this also proves the build has a resampler (without one
   every call is refused with `488 Unable to create media session`);
3. hangs up, drains events, drops every Call, collects, and only then destroys the library
   (a Call outliving libDestroy aborts in pjsua_call_set_user_data).

Exit status: 0 if the capacity is at least N, 1 if it is lower, 2 if pjsua2 is missing or the
check itself failed. The last stdout line is `capacity: <slots> call slots (required N): OK|LOW`.

Usage: check-pjsua2.py [N] [--no-calls] [--clock-rate HZ] [--quality Q] [--verbose]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import importlib.metadata
import math
import resource
import sys
import time
from dataclasses import dataclass
from typing import Any

PYPI_FALLBACK = "pjsua2-python"
SETTLE_TIMEOUT_S = 5.0
TEARDOWN_TIMEOUT_S = 15.0


@dataclass
class ProbeResult:
    """What the loopback probe saw."""

    loopback_calls: int = 0
    peak_slots: int = 0
    media_active_legs: int = 0
    stopped_by: str = ""
    seconds: float = 0.0
    rss_after_init_mb: float = 0.0
    rss_at_peak_mb: float = 0.0


@dataclass
class CallRecord:
    """State of one leg, written by callbacks on the pj thread (this thread)."""

    state: int = -1
    status_code: int = 0
    reason: str = ""
    media_active: bool = False
    disconnected: bool = False
    leg: str = ""


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def raise_fd_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        new_soft = hard if hard == resource.RLIM_INFINITY else min(hard, max(needed, soft))
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
        soft = new_soft
    return soft


def describe_distribution(pj: Any) -> tuple[str, bool]:
    """Which installed distribution provides the module, and whether it is the PyPI fallback."""
    for name in ("pjsua2", PYPI_FALLBACK):
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        return f"{name} {dist.version}", name == PYPI_FALLBACK
    return "unknown distribution", False


def native_library(pj: Any) -> ctypes.CDLL | None:
    """The already-loaded _pjsua2 extension, opened again to reach pjsua's C functions."""
    ext = getattr(pj, "_pjsua2", None) or sys.modules.get("_pjsua2")
    path = getattr(ext, "__file__", None)
    if not path:
        return None
    try:
        return ctypes.CDLL(path)  # dlopen of a loaded object returns the same instance
    except OSError:
        return None


def c_function(lib: ctypes.CDLL | None, name: str) -> Any:
    if lib is None:
        return None
    try:
        fn = getattr(lib, name)
    except AttributeError:
        return None
    fn.restype = ctypes.c_uint
    fn.argtypes = []
    return fn


def place_loopback_calls(
    pj: Any,
    ep: Any,
    account: Any,
    local: str,
    live_calls: dict[int, Any],
    pairs: int,
    get_call_count: Any,
) -> ProbeResult:
    """Call ourselves `pairs` times, one call at a time, until every call is up or one fails.

    Every Call is referenced only from `live_calls` when this returns: a local variable that
    kept a Call past libDestroy would abort the process when it is finally freed.
    """
    result = ProbeResult()
    call = None
    started = time.monotonic()
    try:
        for i in range(pairs):
            call = account.new_call()
            op = pj.CallOpParam(True)
            # pjsua 2.17 offers m=text (T.140) by default: two more sockets and a clock thread
            # per call, and stopping that thread takes ~300 ms of the pj thread on every hangup.
            op.opt.textCount = 0
            try:
                call.makeCall(f"sip:probe{i}@{local}", op)
            except pj.Error as exc:
                result.stopped_by = f"makeCall #{i + 1} failed: {exc.reason} ({exc.status})"
                break
            live_calls[call.getId()] = call
            record = call.record
            deadline = time.monotonic() + SETTLE_TIMEOUT_S
            while not (
                record.disconnected
                or (record.state == pj.PJSIP_INV_STATE_CONFIRMED and record.media_active)
            ):
                ep.libHandleEvents(10)
                if time.monotonic() > deadline:
                    break
            result.peak_slots = max(
                result.peak_slots, get_call_count() if get_call_count else len(live_calls)
            )
            if record.disconnected:
                result.stopped_by = f"call #{i + 1} ended with {record.status_code} {record.reason}"
                break
            if not record.media_active:
                result.stopped_by = (
                    f"call #{i + 1} not confirmed with audio within {SETTLE_TIMEOUT_S:.0f} s"
                )
                break
            result.loopback_calls += 1
        call = None
        for _ in range(20):  # let the last answer's media settle
            ep.libHandleEvents(5)
        result.seconds = time.monotonic() - started
        result.rss_at_peak_mb = rss_mb()
        up = [c.record for c in live_calls.values() if not c.record.disconnected]
        result.media_active_legs = sum(1 for r in up if r.media_active)
        result.peak_slots = max(result.peak_slots, len(up))
        return result
    finally:
        call = None  # also on an exception, whose traceback would keep this frame alive


def run_check(
    pj: Any, required: int, place_calls: bool, verbose: bool, clock_rate: int, quality: int
) -> tuple[int, ProbeResult, dict[str, Any]]:
    # Two slots per loopback call (the outgoing and the incoming leg): ask for an even number.
    slots_wanted = 2 * math.ceil(required / 2)
    facts: dict[str, Any] = {"max_calls_requested": slots_wanted}
    lib = native_library(pj)
    get_max_calls = c_function(lib, "pjsua_call_get_max_count")
    get_call_count = c_function(lib, "pjsua_call_get_count")
    set_log_level = getattr(lib, "pj_log_set_level", None) if lib is not None else None
    if set_log_level is not None and not verbose:
        set_log_level(1)  # quiet the start-up lines that come before libInit's log config

    facts["fd_limit"] = raise_fd_limit(4 * slots_wanted + 256)
    result = ProbeResult()
    live_calls: dict[int, Any] = {}  # strong references: the pj thread owns every Call

    class ProbeCall(pj.Call):
        def __init__(self, account: Any, call_id: int, leg: str) -> None:
            super().__init__(account, call_id)
            self.record = CallRecord(leg=leg)

        def onCallState(self, prm: Any) -> None:  # noqa: N802 (pjsua2 API)
            info = self.getInfo()
            self.record.state = info.state
            self.record.status_code = info.lastStatusCode
            self.record.reason = info.lastReason
            if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                self.record.disconnected = True  # dropped by the main loop, not here

        def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
            info = self.getInfo()
            for media in info.media:
                if (
                    media.type == pj.PJMEDIA_TYPE_AUDIO
                    and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE
                ):
                    self.record.media_active = True

    class AutoAnswer(pj.Account):
        def __init__(self, calls: dict[int, Any]) -> None:
            super().__init__()
            # A plain dict, not the probe: no reference cycle through pjsua2 objects (the cyclic
            # GC would run their destructors at the wrong time).
            self._calls = calls

        def new_call(self) -> Any:
            return ProbeCall(self, pj.PJSUA_INVALID_ID, "out")

        def onIncomingCall(self, prm: Any) -> None:  # noqa: N802
            call = ProbeCall(self, prm.callId, "in")
            self._calls[call.getId()] = call  # unreferenced, it would be hung up on return
            op = pj.CallOpParam(True)
            op.statusCode = 200
            op.opt.textCount = 0  # see makeCall below
            call.answer(op)

    ep = pj.Endpoint()
    ep.libCreate()
    account = None
    try:
        cfg = pj.EpConfig()
        cfg.uaConfig.maxCalls = slots_wanted
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.logConfig.level = 5 if verbose else 1
        cfg.logConfig.consoleLevel = 4 if verbose else 1
        if clock_rate:
            cfg.medConfig.clockRate = clock_rate
            cfg.medConfig.sndClockRate = clock_rate
        if quality >= 0:
            cfg.medConfig.quality = quality
        facts["bridge"] = f"{cfg.medConfig.clockRate} Hz, quality {cfg.medConfig.quality}"
        ep.libInit(cfg)
        ep.audDevManager().setNullDev()
        tcfg = pj.TransportConfig()
        tcfg.boundAddress = "127.0.0.1"
        tcfg.port = 0
        tid = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        ep.libStart()
        local = ep.transportGetInfo(tid).localName  # "127.0.0.1:PORT"
        rss_after_init = rss_mb()

        facts["conference_ports"] = ep.mediaMaxPorts()
        facts["max_calls_effective"] = get_max_calls() if get_max_calls else None
        facts["library"] = ep.libVersion().full

        if place_calls:
            for codec in ep.codecEnum2():
                ep.codecSetPriority(codec.codecId, 0)
            ep.codecSetPriority("PCMU/8000", 255)

            acfg = pj.AccountConfig()
            acfg.idUri = f"sip:capacity-check@{local}"
            acfg.mediaConfig.ipv6Use = pj.PJSUA_IPV6_DISABLED  # else a 5 s AAAA stall per ~25 calls
            acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
            acfg.mediaConfig.transportConfig.port = 20000
            acfg.mediaConfig.transportConfig.portRange = 20000
            account = AutoAnswer(live_calls)
            account.create(acfg, True)

            result = place_loopback_calls(
                pj, ep, account, local, live_calls, slots_wanted // 2, get_call_count
            )
    finally:
        # Teardown on this (the pj) thread: hang up, drain, drop every Call, collect, destroy.
        with contextlib.suppress(pj.Error):
            ep.hangupAllCalls()
        deadline = time.monotonic() + TEARDOWN_TIMEOUT_S
        while time.monotonic() < deadline and any(
            not c.record.disconnected for c in live_calls.values()
        ):
            ep.libHandleEvents(20)
        for _ in range(10):
            ep.libHandleEvents(10)
        live_calls.clear()
        if account is not None:
            account.shutdown()
            del account
        gc.collect()
        ep.libDestroy()
        del ep
        gc.collect()

    result.rss_after_init_mb = rss_after_init
    if place_calls:
        capacity = result.peak_slots
        if facts["max_calls_effective"] is not None:
            capacity = min(capacity, facts["max_calls_effective"])
    else:
        capacity = facts["max_calls_effective"] or 0
    return capacity, result, facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "calls", nargs="?", type=int, default=1000, help="call slots required (default 1000)"
    )
    parser.add_argument(
        "--no-calls", action="store_true", help="only read the limits back; place no calls"
    )
    parser.add_argument(
        "--clock-rate",
        type=int,
        default=0,
        help="conference bridge clock rate (default: pjsua's 16000; 8000: G.711 not resampled)",
    )
    parser.add_argument(
        "--quality",
        type=int,
        default=-1,
        help="media quality 1-10 (default: pjsua's 8: libsamplerate SINC_BEST, ~1 MB per leg; "
        "3-4: SINC_MEDIUM; below 3: linear)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="pjsua logs on stderr")
    args = parser.parse_args(argv)
    if args.calls < 1:
        parser.error("N must be at least 1")

    try:
        import pjsua2 as pj
    except ImportError as exc:
        print(f"pjsua2 is not importable in {sys.executable}: {exc}", file=sys.stderr)
        print(
            f"build and install it: bash scripts/build-pjsua2.sh --install {sys.executable}",
            file=sys.stderr,
        )
        print(f"capacity: 0 call slots (required {args.calls}): LOW")
        return 2

    dist, is_pypi_fallback = describe_distribution(pj)
    print(f"pjsua2 module: {pj.__file__} ({dist})")
    if is_pypi_fallback:
        print(
            f"WARNING: this is the PyPI {PYPI_FALLBACK} wheel, built with pjproject's defaults "
            "(4 calls, 254 conference ports, select() ioqueue): LOW CAPACITY, "
            "for import tests only"
        )
    try:
        capacity, probe, facts = run_check(
            pj, args.calls, not args.no_calls, args.verbose, args.clock_rate, args.quality
        )
    except pj.Error as exc:
        print(f"check failed: {exc.info() if hasattr(exc, 'info') else exc}", file=sys.stderr)
        print(f"capacity: 0 call slots (required {args.calls}): LOW")
        return 2

    print(f"library: pjsip {facts['library']}")
    effective = facts["max_calls_effective"]
    print(
        f"maxCalls requested: {facts['max_calls_requested']}; effective "
        f"(pjsua_call_get_max_count): {effective if effective is not None else 'not readable'}"
    )
    print(
        f"conference bridge: {facts['conference_ports']} ports, {facts['bridge']}; "
        f"file descriptor limit: {facts['fd_limit']}"
    )
    if not args.no_calls:
        print(
            f"loopback PCMU calls: {probe.loopback_calls} answered "
            f"({probe.peak_slots} call slots held at once, "
            f"audio active on {probe.media_active_legs} legs) in {probe.seconds:.1f} s"
        )
        if probe.stopped_by:
            print(f"stopped: {probe.stopped_by}")
        print(
            f"memory (VmRSS): {probe.rss_after_init_mb:.0f} MB after libInit, "
            f"{probe.rss_at_peak_mb:.0f} MB with all calls up"
        )
        if probe.media_active_legs < probe.peak_slots:
            print("LOW: some legs have no active audio (no resampler? look for 488 in --verbose)")
            capacity = min(capacity, probe.media_active_legs)
    ok = capacity >= args.calls
    verdict = "OK" if ok else "LOW"
    if not ok and is_pypi_fallback:
        verdict += f" (PyPI {PYPI_FALLBACK} fallback; build with scripts/build-pjsua2.sh)"
    print(f"capacity: {capacity} call slots (required {args.calls}): {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
