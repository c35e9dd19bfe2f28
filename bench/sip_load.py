#!/usr/bin/env python3
"""SIP load benchmark: SIPp callers through the engine's whole path, against bare pjsua2.

For each step of concurrency C, SIPp places calls at R calls/s (C = R x call length) to:

- **engine**: ``callcenter serve`` (its own process, SQLite, in-process bus) answering a flow
  with a prompt, a key press, the ACD queue and an on-demand agent (a SIPp softphone that
  answers after 0.5 s and talks ``--talk`` seconds), then hang-up; every call has a CDR;
- **bare**: ``bench/sip/bare_pjsua2.py``, the same pjsua2 build answering, playing the same
  prompt and hanging up after the same time: what pjsua2 alone costs.

It prints, per step and target: calls placed, failed, achieved calls/s, peak concurrent,
CPU of the answering process (% of one core) and, for the engine, queue-to-agent connect
latency p50 / p95 from the CDRs; then the engine/bare ratio. Writes a PNG plot with --plot.

    .venv/bin/python bench/sip_load.py --steps 100,300,1000 --cps 100 --talk 6 \
        --plot docs/img/sip_load.png

``--agents nailed`` runs the nailed-up agent scenario instead (``bench/sip_nailed.py``):
agents logged in over open lines, callers bridged with a tone and no ringing.

    .venv/bin/python bench/sip_load.py --agents nailed --nailed-agents 250 --login-rate 25 \
        --rates 10,20,40 --calls 400 --talk 3 --plot docs/img/sip_nailed.png
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sip_harness import (
    PY,
    ROOT,
    Engine,
    agent_phones,
    command_line,
    common_options,
    free_port,
    percentile,
    run_callers,
    sipp_caller,
    utc_stamp,
    workdir,
)


@dataclass
class StepResult:
    target: str
    concurrency: int
    placed: int = 0
    failed: int = 0
    cps: float = 0.0
    peak: int = 0
    cpu_pct: float = 0.0
    connect_p50_ms: float | None = None
    connect_p95_ms: float | None = None


def run_step(
    target: str,
    proc_pid: int,
    port: int,
    work: Path,
    conc: int,
    cps: int,
    call_s: float,
    key_ms: int,
) -> StepResult:
    total = max(conc, int(cps * (call_s + 10)))
    ok, failed, rate, peak, cpu = run_callers(
        f"{target} C={conc}",
        work,
        proc_pid,
        lambda: sipp_caller(work, port, cps, conc, total, key_ms),
        deadline_s=total / cps + call_s + 120,
    )
    return StepResult(target, conc, ok + failed, failed, rate, peak, cpu)


def engine_target(tmp: Path, agents: int, talk_s: float) -> tuple[Engine, subprocess.Popen[bytes]]:
    engine = Engine(tmp)
    agent_port = free_port()
    codes = [f"a{i}" for i in range(agents)]
    engine.add_agents(codes, sip_host=f"127.0.0.1:{agent_port}")
    softphones = agent_phones(tmp / "agents", agent_port, talk_s)
    engine.start()
    for code in codes:
        for action in ("login", "ready"):
            engine.api(f"/api/agents/{code}/{action}", method="POST")
    return engine, softphones


def connect_latencies(db: Path, since: str) -> list[float]:
    con = sqlite3.connect(db)
    rows = con.execute(
        "select q.call_id, (julianday(c.at) - julianday(q.at)) * 86400000 from call_events q "
        "join call_events c on c.call_id = q.call_id and c.kind = 'connected' "
        "where q.kind = 'queued' and q.at >= ?",
        (since,),
    ).fetchall()
    con.close()
    return [r[1] for r in rows]


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument(
        "--agents",
        choices=("on-demand", "nailed"),
        default="on-demand",
        help="how agents are reached: rung per call, or nailed-up open lines",
    )
    ap.add_argument("--steps", default="100,300,1000", help="on demand: concurrent calls per step")
    ap.add_argument("--cps", type=int, default=100, help="on demand: call set-up rate (calls/s)")
    ap.add_argument("--nailed-agents", type=int, default=50, help="nailed: agents logged in")
    ap.add_argument("--rates", default="10,20", help="nailed: calls/s per step")
    ap.add_argument("--calls", type=int, default=300, help="nailed: calls per step")
    ap.add_argument("--login-rate", type=int, default=10, help="nailed: line logins per second")
    common_options(ap, 6.0, "on demand: engine.log, SIPp's error logs")
    return ap.parse_args()


def main() -> None:
    args = parse_args()
    if args.agents == "nailed":
        from sip_nailed import run_nailed

        run_nailed(args)
        return
    steps = [int(s) for s in args.steps.split(",")]
    key_ms = 1000
    call_s = key_ms / 1000 + 0.5 + args.talk + 0.5
    prompt_wav = None
    results: list[StepResult] = []
    with workdir(args.keep, "sip-load-") as tmp:
        print(f"engine: starting with {max(steps) + 100} agents", file=sys.stderr)
        engine, phones = engine_target(tmp / "engine", max(steps) + 100, args.talk)
        try:
            for conc in steps:
                cps = min(args.cps, max(1, int(conc / call_s)))
                since = utc_stamp()
                r = run_step(
                    "engine",
                    engine.pid,
                    engine.sip_port,
                    tmp / f"e{conc}",
                    conc,
                    cps,
                    call_s,
                    key_ms,
                )
                lat = connect_latencies(engine.db, since)
                r.connect_p50_ms, r.connect_p95_ms = percentile(lat, 50), percentile(lat, 95)
                results.append(r)
                time.sleep(call_s + 2)
            prompt_wav = next((tmp / "engine" / "prompts").glob("*.wav"), None)
        finally:
            engine.stop()
            phones.terminate()
            phones.wait(10)
        bare_port = free_port()
        bare = subprocess.Popen(
            [
                PY,
                str(ROOT / "bench/sip/bare_pjsua2.py"),
                "--port",
                str(bare_port),
                "--prompt",
                str(prompt_wav),
                "--hold",
                str(call_s),
            ],
            stdout=subprocess.PIPE,
        )
        assert bare.stdout is not None
        bare.stdout.readline()
        try:
            for conc in steps:
                cps = min(args.cps, max(1, int(conc / call_s)))
                results.append(
                    run_step(
                        "bare", bare.pid, bare_port, tmp / f"b{conc}", conc, cps, call_s, key_ms
                    )
                )
                time.sleep(call_s + 2)
        finally:
            bare.send_signal(signal.SIGTERM)
            bare.wait(30)
    print_table(results, args)
    if args.plot:
        plot(results, args.plot)


def print_table(results: list[StepResult], args: argparse.Namespace) -> None:
    print(
        f"\nSIP load, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores; "
        f"command: {command_line()}"
    )
    print(
        f"{'target':<7} {'conc.':>6} {'placed':>7} {'failed':>7} {'calls/s':>8} "
        f"{'peak':>6} {'CPU %':>6} {'conn p50':>9} {'conn p95':>9}"
    )
    for r in results:
        p50 = f"{r.connect_p50_ms:.0f} ms" if r.connect_p50_ms is not None else "-"
        p95 = f"{r.connect_p95_ms:.0f} ms" if r.connect_p95_ms is not None else "-"
        print(
            f"{r.target:<7} {r.concurrency:>6} {r.placed:>7} {r.failed:>7} {r.cps:>8.1f} "
            f"{r.peak:>6} {r.cpu_pct:>6.0f} {p50:>9} {p95:>9}"
        )
    for conc in sorted({r.concurrency for r in results}):
        e = next((r for r in results if r.target == "engine" and r.concurrency == conc), None)
        b = next((r for r in results if r.target == "bare" and r.concurrency == conc), None)
        if e and b and e.cpu_pct:
            print(
                f"C={conc}: engine uses {e.cpu_pct / max(b.cpu_pct, 0.1):.1f}x the CPU of bare "
                f"pjsua2; failures engine {e.failed}, bare {b.failed}"
            )


def plot(results: list[StepResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for target in ("engine", "bare"):
        rs = [r for r in results if r.target == target]
        ax.plot([r.concurrency for r in rs], [r.cpu_pct for r in rs], marker="o", label=target)
    ax.set_xlabel("concurrent calls")
    ax.set_ylabel("CPU, % of one core")
    ax.set_title("SIP load: engine (IVR + queue + agent) vs bare pjsua2")
    ax.legend()
    ax.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"plot: {path}")


if __name__ == "__main__":
    shutil.which("sipp") or sys.exit("sipp is missing: apt-get install sip-tester")
    main()
