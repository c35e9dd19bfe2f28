#!/usr/bin/env python3
"""SIP set-up rate benchmark: how many calls per second the engine takes in, against bare pjsua2.

Each step offers R calls/s for ``--seconds`` seconds (SIPp, on the same machine) to:

- **engine**: ``callcenter serve`` (its own process, SQLite, in-process bus) answering
  ``bench/sip/setup_flow.yaml``: answer, a TTS prompt, the caller's key 2 by SIP INFO after
  ``--key-ms``, the engine hangs up; every call gets its CDR. This is the per-call work of
  the engine without a queue or an agent: source check, admission, the IVR, media, the record.
- **bare**: ``bench/sip/bare_pjsua2.py``, the same pjsua2 build answering, playing the same
  prompt and hanging up after the same time.

It prints, per step and target: calls placed, failed, achieved calls/s, peak concurrent,
INVITE-to-200 OK mean (SIPp's response time), CPU of the answering process (% of one core);
then the highest rate each target carried with 0 failures and the engine/bare ratio of those.

    .venv/bin/python bench/sip_setup.py --rates 100,200,300,400 --seconds 10 \
        --plot docs/img/sip_setup.png
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sip_harness import (
    BENCH_SIP,
    PY,
    ROOT,
    Engine,
    command_line,
    free_port,
    run_callers,
    sipp_caller,
    workdir,
)


@dataclass
class SetupResult:
    target: str
    offered_cps: int
    placed: int = 0
    failed: int = 0
    cps: float = 0.0
    peak: int = 0
    cpu_pct: float = 0.0
    answer_ms: float | None = None
    refused: int = 0  # of the failed: turned away at once with 503 (the engine's overload)


def answer_and_rate(work: Path) -> tuple[float | None, float]:
    """Mean INVITE-to-200 OK over the step (SIPp's cumulative response time 1, at SIPp's
    10 ms timer resolution) and the calls per second placed while the step offered calls."""
    rows = list(csv.DictReader((work / "stats.csv").open(), delimiter=";"))
    if not rows:
        return None, 0.0
    h, m, s, us = (int(x) for x in rows[-1]["ResponseTime1(C)"].split(":"))
    placing = [int(r["OutgoingCall(P)"]) for r in rows if int(r["OutgoingCall(P)"]) > 0]
    rate = sum(placing) / len(placing) if placing else 0.0
    return ((h * 60 + m) * 60 + s) * 1000 + us / 1000, rate


def run_step(
    target: str, pid: int, port: int, work: Path, rate: int, args: argparse.Namespace
) -> SetupResult:
    total = rate * args.seconds
    call_s = args.key_ms / 1000
    ok, failed, _, peak, cpu = run_callers(
        f"{target} {rate}/s",
        work,
        pid,
        lambda: sipp_caller(
            work, port, rate, max(50, int(rate * (call_s + 4))), total, args.key_ms
        ),
        deadline_s=args.seconds + call_s + 60,
    )
    answer, placing_rate = answer_and_rate(work)
    return SetupResult(
        target, rate, ok + failed, failed, placing_rate, peak, cpu, answer, refused_503(work)
    )


def refused_503(work: Path) -> int:
    """Calls SIPp aborted on a 503 (its error log quotes each unexpected response; a 503 that
    arrives for a call already aborted is logged as a dead call and not counted)."""
    aborted = re.compile(r"Aborting call on unexpected message[^\n]*received 'SIP/2\.0 503")
    return sum(
        len(aborted.findall(log.read_text(errors="replace"))) for log in work.glob("*_errors.log")
    )


def best(results: list[SetupResult], target: str) -> SetupResult | None:
    clean = [r for r in results if r.target == target and r.failed == 0]
    return max(clean, key=lambda r: r.cps) if clean else None


def print_table(results: list[SetupResult]) -> None:
    print(
        f"\nSIP set-up rate, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores; "
        f"command: {command_line()}"
    )
    print(
        f"{'target':<7} {'offered':>8} {'placed':>7} {'failed':>7} {'of: 503':>8} "
        f"{'calls/s':>8} {'peak':>6} {'200 OK':>8} {'CPU %':>6}"
    )
    for r in results:
        ans = f"{r.answer_ms:.1f} ms" if r.answer_ms is not None else "-"
        print(
            f"{r.target:<7} {r.offered_cps:>8} {r.placed:>7} {r.failed:>7} {r.refused:>8} "
            f"{r.cps:>8.1f} {r.peak:>6} {ans:>8} {r.cpu_pct:>6.0f}"
        )
    e, b = best(results, "engine"), best(results, "bare")
    bounds = {}
    for name, target, r in (("engine", "engine", e), ("bare pjsua2", "bare", b)):
        # A ceiling when a higher rate failed; else only a lower bound.
        failed_above = sorted(
            x.offered_cps
            for x in results
            if x.target == target and x.failed and r and x.offered_cps > r.offered_cps
        )
        bounds[target] = bool(failed_above)
        if r is None:
            where = "none"
        elif failed_above:
            where = (
                f"{r.cps:.1f} calls/s (offered {r.offered_cps}; failures from {failed_above[0]})"
            )
        else:
            where = (
                f"{r.cps:.1f} calls/s (offered {r.offered_cps}; the highest offered: a lower bound)"
            )
        print(f"{name}: highest rate with 0 failures: {where}")
    if e and b:
        ratio = e.cps / b.cps
        if bounds["engine"] and bounds["bare"]:
            how = "both ceilings found, to the step"
        elif bounds["bare"]:
            how = "at least: the engine carried the highest rate offered"
        elif bounds["engine"]:
            how = "at most: bare carried the highest rate offered; raise --rates"
        else:
            how = "both carried the highest rate offered; raise --rates"
        print(f"engine / bare at their best 0-failure rates: {ratio:.0%} ({how})")


def plot(results: list[SetupResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    for target in ("engine", "bare"):
        rs = [r for r in results if r.target == target]
        served = [r.cps * (r.placed - r.failed) / r.placed if r.placed else 0.0 for r in rs]
        ax1.plot([r.offered_cps for r in rs], served, marker="o", label=target)
        ax2.plot([r.offered_cps for r in rs], [r.cpu_pct for r in rs], marker="o", label=target)
        for r, y in zip(rs, served, strict=True):
            if r.failed:
                shed = f" ({r.refused} refused)" if r.refused else ""
                ax1.annotate(f"{r.failed} failed{shed}", (r.offered_cps, y), fontsize=7)
    ax1.set_xlabel("offered calls/s")
    ax1.set_ylabel("calls/s that succeeded")
    ax2.set_xlabel("offered calls/s")
    ax2.set_ylabel("CPU, % of one core")
    ax1.set_title("SIP set-up rate")
    ax2.set_title("answering process CPU")
    for ax in (ax1, ax2):
        ax.legend()
        ax.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"plot: {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--rates", default="100,200,300", help="offered calls/s per step")
    ap.add_argument("--seconds", type=int, default=10, help="how long each step offers calls")
    ap.add_argument("--key-ms", type=int, default=500, help="when the caller presses 2 (ms)")
    ap.add_argument("--plot", type=Path, help="write a PNG of the results here")
    ap.add_argument(
        "--keep",
        type=Path,
        help="work in this folder and keep it (engine.log, "
        "the CDR database, SIPp's error logs) instead of a temporary one",
    )
    ap.add_argument("--engine-only", action="store_true", help="skip the bare pjsua2 steps")
    args = ap.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    results: list[SetupResult] = []
    with workdir(args.keep, "sip-setup-") as tmp:
        engine = Engine(tmp / "engine", flow=BENCH_SIP / "setup_flow.yaml")
        engine.start()
        try:
            for rate in rates:
                results.append(
                    run_step("engine", engine.pid, engine.sip_port, tmp / f"e{rate}", rate, args)
                )
                time.sleep(3)
            prompt = next((tmp / "engine" / "prompts").glob("*.wav"), None)
        finally:
            engine.stop()
        if not args.engine_only:
            if prompt is None:
                sys.exit("the engine rendered no prompt (it took no call): see its log above")
            port = free_port()
            bare = subprocess.Popen(
                [
                    PY,
                    str(ROOT / "bench/sip/bare_pjsua2.py"),
                    "--port",
                    str(port),
                    "--prompt",
                    str(prompt),
                    "--hold",
                    str(args.key_ms / 1000 + 0.05),
                ],
                stdout=subprocess.PIPE,
            )
            assert bare.stdout is not None
            bare.stdout.readline()
            try:
                for rate in rates:
                    results.append(run_step("bare", bare.pid, port, tmp / f"b{rate}", rate, args))
                    time.sleep(3)
            finally:
                bare.send_signal(signal.SIGTERM)
                bare.wait(30)
    print_table(results)
    if args.plot:
        plot(results, args.plot)


if __name__ == "__main__":
    shutil.which("sipp") or sys.exit("sipp is missing: apt-get install sip-tester")
    main()
