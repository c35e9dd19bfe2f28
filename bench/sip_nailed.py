"""SIP load with nailed-up agents: how fast a queued caller is bridged onto an open agent line.

Run through ``bench/sip_load.py --agents nailed``. Before the engine starts, ``--nailed-agents``
agents are created with a PIN in its database (members of the ``bench`` queue, no SIP URI).
One SIPp process (``bench/sip/nailed_line.xml``) then logs them all in over their own calls to
the login number, each call taking its agent number and PIN from a row of an injection file,
and keeps every line open until the engine hangs up at the end. For each rate in ``--rates``,
SIPp callers (``bench/sip/caller_key_talk_bye.xml``) take the same path as in the on-demand
benchmark (answer, TTS prompt, key 2 by SIP INFO, the ACD queue), are bridged to a free line
with a tone and no ringing, talk ``--talk`` s and hang up; the line goes back to ready.

Connect latency, per call, from the CDR (``calls`` and ``call_events`` in SQLite):

- **queued -> bridged** (the headline): from the moment the caller enters the queue
  (``queued_at``, kept in memory; ``calls.queue_wait_s`` counts from it) to the ``connected``
  event's time. That event is written right after both bridge commands ran on the pj thread, and
  its ``at`` is stamped when the CDR writer flushes it, so this is an upper bound: bridge in
  place plus the writer's batching delay.
- **engine clock**: ``calls.queue_wait_s``, from ``queued_at`` to ``connected_at``, which the
  engine stamps just *before* the bridge commands: a lower bound (without the bridge's own
  two hops to the pj thread).
- the split: queue -> ``offered`` written (queue entry, ACD decision), ``offered`` -> bridge
  started (tone, accept), bridge started -> ``connected`` written (bridge, CDR flush).

Only the engine runs (no bare-pjsua2 baseline: bare pjsua2 has no queue to connect from); the
issue's goal is the baseline: nailed-up connect p95 under 150 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sip_harness import (
    BENCH_SIP,
    DIALED,
    Engine,
    command_line,
    free_port,
    percentile,
    run_callers,
    sipp_caller,
    utc_stamp,
    wait_for,
)

from callcenter.store.secrets import hash_secret
from tests.support.audio import tone, write_ulaw

PIN = "1234"
FIRST_CODE = 2000  # agent numbers 2000, 2001, ...: four digits, typed at login
KEY_MS = 1000  # the caller presses 2 one second into the welcome prompt (barge-in)
GOAL_MS = 150.0


@dataclass
class CallTimes:
    """One connected call's milestones (ms after the caller entered the queue)."""

    offered: float  # the "offered" event written (ACD decided, offer recorded)
    bridging: float  # connected_at: the engine starts the bridge (queue_wait_s)
    connected: float  # the "connected" event written (bridge in place, flushed)
    connected_since_queued_event: float  # the on-demand benchmark's definition, for comparison
    nailed: bool

    @property
    def offer_to_bridging(self) -> float:
        return self.bridging - self.offered

    @property
    def bridging_to_connected(self) -> float:
        return self.connected - self.bridging


@dataclass
class NailedStep:
    rate: int
    placed: int = 0
    failed: int = 0
    cps: float = 0.0
    peak: int = 0
    cpu_pct: float = 0.0
    load: float = 0.0
    queued: int = 0  # calls that reached the queue (CDR)
    calls: list[CallTimes] = field(default_factory=list)
    lines_up: int = 0  # nailed-up lines still logged in and ready after the step

    def pct(self, attr: str, p: float) -> float | None:
        return percentile([getattr(c, attr) for c in self.calls], p)


def _ts(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=None)


def call_times(db: Path, since: str) -> tuple[int, list[CallTimes]]:
    """(calls that were queued, milestones of those connected) for calls started since ``since``."""
    con = sqlite3.connect(db)
    rows = con.execute(
        "select c.queue_wait_s, c.talk_s, c.ended_at, "
        " (select min(at) from call_events e where e.call_id = c.id and e.kind = 'queued'), "
        " (select min(at) from call_events e where e.call_id = c.id and e.kind = 'offered'), "
        " (select min(at) from call_events e where e.call_id = c.id and e.kind = 'connected'), "
        " (select data from call_events e where e.call_id = c.id and e.kind = 'offered' "
        "  order by seq limit 1) "
        "from calls c where c.started_at >= ? and c.dialed = ?",
        (since, DIALED),
    ).fetchall()
    con.close()
    queued, out = 0, []
    for wait_s, talk_s, ended, q_at, o_at, c_at, o_data in rows:
        if q_at is None:
            continue
        queued += 1
        ended_at, offered_at, connected_ev = _ts(ended), _ts(o_at), _ts(c_at)
        if None in (wait_s, talk_s, ended_at, offered_at, connected_ev):
            continue  # never connected: counted as queued only
        assert ended_at and offered_at and connected_ev
        connected_at = ended_at - timedelta(seconds=talk_s)
        queued_at = connected_at - timedelta(seconds=wait_s)

        def ms(t: datetime, since: datetime = queued_at) -> float:
            return (t - since).total_seconds() * 1000

        out.append(
            CallTimes(
                offered=ms(offered_at),
                bridging=wait_s * 1000,
                connected=ms(connected_ev),
                connected_since_queued_event=ms(connected_ev, _ts(q_at) or queued_at),
                nailed=bool(json.loads(o_data or "{}").get("nailed")),
            )
        )
    return queued, out


def start_lines(engine: Engine, work: Path, codes: list[str], rate: int) -> subprocess.Popen[bytes]:
    """One SIPp process logging in every agent over its own call (agent number and PIN per row)."""
    work.mkdir(parents=True, exist_ok=True)
    write_ulaw(work / "agent.ulaw", tone(4, 500))
    rows = [";".join([*code, *PIN]) for code in codes]
    (work / "lines.csv").write_text("SEQUENTIAL\n" + "\n".join(rows) + "\n")
    return subprocess.Popen(
        [
            "sipp",
            f"127.0.0.1:{engine.sip_port}",
            "-sf",
            str(BENCH_SIP / "nailed_line.xml"),
            "-s",
            engine.login_number,
            "-inf",
            "lines.csv",
            "-r",
            str(rate),
            "-l",
            str(len(codes)),
            "-m",
            str(len(codes)),
            "-i",
            "127.0.0.1",
            "-p",
            str(free_port()),
            "-mp",
            str(free_port() & ~1),
            "-nostdin",
            "-max_socket",
            "60000",
            "-trace_err",
        ],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def lines_ready(engine: Engine, codes: set[str]) -> int:
    agents = engine.api("/api/agents")
    return sum(
        1 for a in agents if a["agent_id"] in codes and a["nailed_up"] and a["state"] == "available"
    )


def run_nailed(args: argparse.Namespace) -> None:
    rates = [int(r) for r in args.rates.split(",")]
    n = args.nailed_agents
    codes = [str(FIRST_CODE + i) for i in range(n)]
    assert len(codes[-1]) == 4, "agent numbers are four digits: at most 8,000 agents"
    for rate in rates:
        busy = rate * (args.talk + 0.2)
        if busy > 0.8 * n:
            print(
                f"warning: {rate} calls/s x {args.talk} s talk keeps ~{busy:.0f} of {n} agents "
                "busy: callers may wait for a free agent, which is not connect latency",
                file=sys.stderr,
            )
    steps: list[NailedStep] = []
    with tempfile.TemporaryDirectory(prefix="sip-nailed-") as tmpdir:
        tmp = Path(tmpdir)
        engine = Engine(tmp / "engine")
        engine.add_agents(codes, pin_hash=hash_secret(PIN))  # one hash: PBKDF2 is slow on purpose
        engine.start()
        lines: subprocess.Popen[bytes] | None = None
        try:
            t0 = time.monotonic()
            lines = start_lines(engine, tmp / "lines", codes, args.login_rate)
            wait_for(lambda: lines_ready(engine, set(codes)) == n, 30 + n / 2, f"{n} logins")
            print(f"{n} nailed-up lines ready in {time.monotonic() - t0:.1f} s", file=sys.stderr)
            for rate in rates:
                steps.append(run_step(engine, tmp / f"r{rate}", rate, args, set(codes)))
        finally:
            engine.stop()  # hangs up every line: the line scenario ends on the engine's BYE
            if lines is not None:
                try:
                    lines.wait(15)
                except subprocess.TimeoutExpired:
                    lines.terminate()
                    lines.wait(10)
    print_nailed(steps, args)
    if args.plot:
        plot_nailed(steps, args.plot)


def run_step(
    engine: Engine, work: Path, rate: int, args: argparse.Namespace, codes: set[str]
) -> NailedStep:
    since = utc_stamp()
    step = NailedStep(rate, load=os.getloadavg()[0])
    talk_ms = int(args.talk * 1000)
    ok, failed, step.cps, step.peak, step.cpu_pct = run_callers(
        f"nailed {rate}/s",
        work,
        engine.pid,
        lambda: sipp_caller(
            work,
            engine.sip_port,
            rate,
            args.calls,
            args.calls,
            KEY_MS,
            scenario=BENCH_SIP / "caller_key_talk_bye.xml",
            talk_ms=talk_ms,
        ),
        deadline_s=args.calls / rate + args.talk + 120,
    )
    step.placed, step.failed = ok + failed, failed
    time.sleep(2)  # the last hang-ups' CDR writes and the lines back to ready
    step.queued, step.calls = call_times(engine.db, since)
    step.lines_up = lines_ready(engine, codes)
    return step


def _ms(v: float | None) -> str:
    return f"{v:.0f}" if v is not None else "-"


def print_nailed(steps: list[NailedStep], args: argparse.Namespace) -> None:
    print(
        f"\nSIP load, nailed-up agents, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores; "
        f"command: {command_line()}"
    )
    print(
        f"{args.nailed_agents} agents on open lines, callers talk {args.talk:g} s; "
        "latency in ms after the caller entered the queue"
    )
    print(
        f"{'calls/s':>7} {'placed':>6} {'failed':>6} {'achieved':>8} {'peak':>5} {'CPU %':>6} "
        f"{'load1':>5} {'queued':>6} {'conn.':>6} {'nailed':>6} {'lines':>5}"
    )
    for s in steps:
        print(
            f"{s.rate:>7} {s.placed:>6} {s.failed:>6} {s.cps:>8.1f} {s.peak:>5} "
            f"{s.cpu_pct:>6.0f} {s.load:>5.1f} {s.queued:>6} {len(s.calls):>6} "
            f"{sum(c.nailed for c in s.calls):>6} {s.lines_up:>5}"
        )
    print(
        f"\n{'calls/s':>7} | {'queued -> bridged p50/p95/max':>29} | {'engine clock p50/p95':>20} "
        f"| {'events only p50/p95':>19} | goal"
    )
    for s in steps:
        p95 = s.pct("connected", 95)
        met = "met" if p95 is not None and p95 < GOAL_MS and not s.failed else "NOT met"
        print(
            f"{s.rate:>7} | {_spread(s, 'connected', 50, 95, 100):>29} | "
            f"{_spread(s, 'bridging', 50, 95):>20} | "
            f"{_spread(s, 'connected_since_queued_event', 50, 95):>19} | "
            f"p95 < {GOAL_MS:.0f} ms: {met}"
        )
    print(
        f"\n{'calls/s':>7} | split p50/p95: {'queued -> offered written':>25} | "
        f"{'offered -> bridge starts':>24} | {'bridge starts -> connected written':>34}"
    )
    for s in steps:
        print(
            f"{s.rate:>7} | {_spread(s, 'offered', 50, 95):>40} | "
            f"{_spread(s, 'offer_to_bridging', 50, 95):>24} | "
            f"{_spread(s, 'bridging_to_connected', 50, 95):>34}"
        )
    for s in steps:
        worst = sorted(s.calls, key=lambda c: c.connected)[-3:][::-1]
        print(
            f"{s.rate} calls/s, slowest (queued -> offered + -> bridge starts + -> connected): "
            + ", ".join(
                f"{c.connected:.0f} = {c.offered:.0f} + {c.offer_to_bridging:.0f} + "
                f"{c.bridging_to_connected:.0f}"
                for c in worst
            )
        )


def _spread(step: NailedStep, attr: str, *ps: float) -> str:
    return " / ".join(_ms(step.pct(attr, p)) for p in ps)


def plot_nailed(steps: list[NailedStep], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for s in steps:
        xs = sorted(c.connected for c in s.calls)
        if xs:
            ax.plot(xs, [(i + 1) / len(xs) for i in range(len(xs))], label=f"{s.rate} calls/s")
    ax.axvline(GOAL_MS, color="grey", linestyle="--", label=f"goal: p95 < {GOAL_MS:.0f} ms")
    ax.axhline(0.95, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xlabel("queued -> bridged (ms)")
    ax.set_ylabel("share of calls")
    ax.set_title("SIP load: nailed-up agents, connect latency (CDF)")
    ax.legend()
    ax.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"plot: {path}")
