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
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.audio import tone, write_ulaw  # noqa: E402

SIPP = ROOT / "tests" / "integration" / "sipp"
PY = sys.executable


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def sipp_caller(
    work: Path, port: int, cps: int, limit: int, total: int, key_ms: int
) -> subprocess.Popen[bytes]:
    work.mkdir(parents=True, exist_ok=True)
    write_ulaw(work / "caller.ulaw", tone(4, 300))
    (work / "keys.csv").write_text("SEQUENTIAL\n2;0;+15550100\n")
    return subprocess.Popen(
        [
            "sipp",
            f"127.0.0.1:{port}",
            "-sf",
            str(SIPP / "caller_dtmf_info.xml"),
            "-s",
            "300",
            "-inf",
            "keys.csv",
            "-d",
            str(key_ms),
            "-r",
            str(cps),
            "-l",
            str(limit),
            "-m",
            str(total),
            "-i",
            "127.0.0.1",
            "-p",
            str(free_port()),
            "-mp",
            str(free_port() & ~1),
            "-nostdin",
            "-trace_stat",
            "-stf",
            "stats.csv",
            "-fd",
            "1",
            "-max_socket",
            "60000",
            "-timeout",
            "300",
            "-trace_err",
        ],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def read_stats(work: Path) -> tuple[int, int, float, int]:
    rows = list(csv.DictReader((work / "stats.csv").open(), delimiter=";"))
    last = rows[-1]
    ok, failed = int(last["SuccessfulCall(C)"]), int(last["FailedCall(C)"])
    peak = max(int(r["CurrentCall"]) for r in rows)
    seconds = len(rows)  # one row per second (-fd 1)
    return ok, failed, (ok + failed) / max(1, seconds), peak


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
    cpu0, t0 = cpu_seconds(proc_pid), time.monotonic()
    caller = sipp_caller(work, port, cps, conc, total, key_ms)
    while caller.poll() is None:
        time.sleep(1)
        print(f"  [{target} C={conc}] {time.monotonic() - t0:5.0f} s", file=sys.stderr, end="\r")
    cpu = (cpu_seconds(proc_pid) - cpu0) / (time.monotonic() - t0) * 100
    ok, failed, rate, peak = read_stats(work)
    print(file=sys.stderr)
    return StepResult(target, conc, ok + failed, failed, rate, peak, cpu)


def wait_for(predicate, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not happen within {seconds} s")


def engine_target(
    tmp: Path, agents: int, talk_s: float
) -> tuple[subprocess.Popen[bytes], int, str, Path, subprocess.Popen[bytes]]:
    db = tmp / "bench.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    sip_port, http_port, agent_port = free_port(), free_port(socket.SOCK_STREAM), free_port()
    env.update(
        {
            "CALLCENTER_DATABASE__URL": f"sqlite:///{db}",
            "CALLCENTER_VAR_DIR": str(tmp / "var"),
            "CALLCENTER_RECORDINGS_DIR": str(tmp / "recordings"),
            "CALLCENTER_HTTP__PORT": str(http_port),
            "CALLCENTER_SIP__PORT": str(sip_port),
            "CALLCENTER_SIP__MAX_CALLS": "4000",
            "CALLCENTER_SIP__NUMBERS": json.dumps({"300": str(ROOT / "bench/sip/bench_flow.yaml")}),
            "CALLCENTER_SIP__PROMPT_CACHE_DIR": str(tmp / "prompts"),
            "CALLCENTER_SIP__RATE_PER_SOURCE": "100000",
            "CALLCENTER_SIP__PRESENCE_INTERVAL_S": "0",
            "CALLCENTER_SIP__RECORD_CALLS": "false",
            "CALLCENTER_BACKOFFICE__SMTP_PORT": str(free_port(socket.SOCK_STREAM)),
            "CALLCENTER_LOG__LEVEL": "WARNING",
        }
    )
    cli = [PY, "-m", "callcenter.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run(
        [*cli, "queues", "add", "bench", "--wrapup", "0"], env=env, check=True, capture_output=True
    )
    con = sqlite3.connect(db)  # thousands of agents: one transaction, not a CLI call each
    queue_id = con.execute("select id from queues where name='bench'").fetchone()[0]
    for i in range(agents):
        cur = con.execute(
            "insert into agents (code, name, sip_uri, voice_capacity, chat_capacity, "
            "ticket_capacity, active, created_at) values (?, ?, ?, 1, 0, 0, 1, "
            "datetime('now'))",
            (f"a{i}", f"Agent {i}", f"sip:a{i}@127.0.0.1:{agent_port}"),
        )
        con.execute(
            "insert into queue_members (queue_id, agent_id, penalty, tier, position) "
            "values (?, ?, 0, 1, 1)",
            (queue_id, cur.lastrowid),
        )
    con.commit()
    con.close()
    agent_dir = tmp / "agents"
    agent_dir.mkdir()
    write_ulaw(agent_dir / "agent.ulaw", tone(4, 500))
    softphones = subprocess.Popen(
        [
            "sipp",
            "-sf",
            str(SIPP / "agent_answer.xml"),
            "-d",
            str(int(talk_s * 1000)),
            "-i",
            "127.0.0.1",
            "-p",
            str(agent_port),
            "-mp",
            str(free_port() & ~1),
            "-nostdin",
            "-max_socket",
            "60000",
            "-bg",
        ],
        cwd=agent_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proc = subprocess.Popen([*cli, "serve"], env=env, stderr=(tmp / "engine.log").open("wb"))
    base = f"http://127.0.0.1:{http_port}"

    def healthy() -> bool:
        try:
            return urllib.request.urlopen(base + "/healthz", timeout=1).status == 200
        except OSError:
            return False

    wait_for(healthy, 60, "engine start")
    for i in range(agents):
        for action in ("login", "ready"):
            req = urllib.request.Request(f"{base}/api/agents/a{i}/{action}", method="POST")
            urllib.request.urlopen(req, timeout=5).read()
    return proc, sip_port, base, db, softphones


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


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", default="100,300,1000", help="concurrent calls per step")
    ap.add_argument("--cps", type=int, default=100, help="call set-up rate (calls/s)")
    ap.add_argument("--talk", type=float, default=6.0, help="agent talk time (s)")
    ap.add_argument("--plot", type=Path, help="write a PNG of the results here")
    args = ap.parse_args()
    steps = [int(s) for s in args.steps.split(",")]
    key_ms = 1000
    call_s = key_ms / 1000 + 0.5 + args.talk + 0.5
    prompt_wav = None
    results: list[StepResult] = []
    with tempfile.TemporaryDirectory(prefix="sip-load-") as tmpdir:
        tmp = Path(tmpdir)
        print(f"engine: starting with {max(steps) + 100} agents", file=sys.stderr)
        proc, port, base, db, phones = engine_target(tmp / "engine", max(steps) + 100, args.talk)
        try:
            for conc in steps:
                cps = min(args.cps, max(1, int(conc / call_s)))
                since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
                r = run_step("engine", proc.pid, port, tmp / f"e{conc}", conc, cps, call_s, key_ms)
                lat = connect_latencies(db, since)
                r.connect_p50_ms, r.connect_p95_ms = percentile(lat, 50), percentile(lat, 95)
                results.append(r)
                time.sleep(call_s + 2)
            prompt_wav = next((tmp / "engine" / "prompts").glob("*.wav"), None)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
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
        f"command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}"
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
