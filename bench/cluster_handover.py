#!/usr/bin/env python3
"""What handing a caller over to the ACD's leader costs (docs/cluster.md, "Callers handed to
the leader (SIP)"): SIPp callers phoning the leader directly, against callers phoning the
other node, whose IVR runs there and who are handed over to the leader at the queue.

Two ``callcenter serve`` processes, nodes ``a`` (started first: it leads the ACD) and ``b``,
share one SQLite database (WAL), or the PostgreSQL database ``--database``, with
``cluster.enabled``, their own SIP ports and media ports
(``sip.rtp_port`` 20000 and 30000). The agents are on-demand SIPp softphones (answer after
0.5 s, talk ``--talk`` s), logged in and ready at the leader. For each rate, SIPp callers take
``bench/sip/bench_flow.yaml`` (a prompt, key 2, the queue ``bench``, the agent, goodbye):

- **direct**: callers phone the leader ``a``;
- **handed over**: callers phone ``b``; at the queue ``b`` calls ``cc-handover`` at ``a``
  with the signed ``X-CC-Handover`` header and bridges the caller to that leg.

It prints, per rate and target: calls placed and failed (SIPp), achieved calls/s, the
queue-to-agent connect latency p50 / p95 from the records, the CPU of each engine process
(% of one core) and the handover's added latency (handed-over p50 minus direct p50):

- direct: the leader's record, ``queued`` event to ``connected`` event;
- handed over, as the caller lives it: the origin's record (on ``b``) ``ivr`` event of the
  queue node (written as the flow reaches the queue, just before the handover starts) to the
  ``connected`` event of the leader's record (``dialed`` = ``cc-handover``, whose
  ``handed_in`` event names the origin call); split into the handover (to the leader's
  ``handed_in``) and the wait at the leader (its ``queued`` to ``connected``).

    .venv/bin/python bench/cluster_handover.py --rates 5,20,50 --calls 200 --talk 2 \\
        --plot docs/img/cluster_handover.png
    .venv/bin/python bench/cluster_handover.py --rates 5,20,50 --calls 200 --talk 2 \\
        --database postgresql+psycopg://postgres@127.0.0.1:5432/bench_cluster
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sip_harness import (
    Engine,
    agent_phones,
    command_line,
    common_options,
    cpu_seconds,
    free_port,
    percentile,
    run_callers,
    sipp_caller,
    wait_for,
    workdir,
)
from sqlalchemy import Connection, select

from callcenter.store.models import Call, CallEvent

SECRET = "bench-cluster-secret"
RTP_PORTS = {"a": 20000, "b": 30000}
HANDOVER_NUMBER = "cc-handover"
KEY_MS = 1000  # the caller presses 2 a second after the answer
#: What the engine logs when a handover or the queue goes wrong (counted per step).
LOG_MARKS = (
    "did not take the caller",
    "refused a handover",
    "refused the handover",
    "no ACD leader took the caller",
    "is gone; the caller queues again",
    "Traceback",
)


@dataclass
class Step:
    target: str  # "direct" or "handed over"
    rate: int
    placed: int = 0
    failed: int = 0
    cps: float = 0.0
    peak: int = 0
    cpu_a: float = 0.0
    cpu_b: float = 0.0
    load1: float = 0.0  # the machine's load average at the step's end (others' work too)
    connect_ms: list[float] = field(default_factory=list)
    handover_ms: list[float] = field(default_factory=list)  # handed over: to the leader's record
    leader_wait_ms: list[float] = field(default_factory=list)  # handed over: at the leader
    results: Counter[str] = field(default_factory=Counter)  # handed over: X-CC-Result
    origins: int = 0  # handed over: the origin's records
    local_queue: int = 0  # handed over: callers that waited in b's own queue
    log_marks: Counter[str] = field(default_factory=Counter)

    def p(self, values: list[float], q: float) -> float | None:
        return percentile(values, q)


def node_env(node: str) -> dict[str, str]:
    return {
        "CALLCENTER_NODE": node,
        "CALLCENTER_CLUSTER__ENABLED": "true",
        "CALLCENTER_CLUSTER__SECRET": SECRET,
        "CALLCENTER_SIP__RTP_PORT": str(RTP_PORTS[node]),
    }


@contextmanager
def cluster(
    tmp: Path, agents: int, talk_s: float, database: str | None
) -> Iterator[tuple[Engine, Engine]]:
    """Leader ``a`` with ``agents`` ready agents, then follower ``b`` on its database; every
    process stopped at the end, whatever happened."""
    with ExitStack() as stack:
        leader = Engine(tmp / "a", extra_env=node_env("a"), database=database)
        stack.callback(leader.stop)
        agent_port = free_port()
        codes = [f"a{i}" for i in range(agents)]
        leader.add_agents(codes, sip_host=f"127.0.0.1:{agent_port}")
        phones = agent_phones(tmp / "agents", agent_port, talk_s)
        stack.callback(phones.wait, 10)
        stack.callback(phones.terminate)
        leader.start()
        wait_for(lambda: leader.api("/api/cluster")["is_leader"], 20, "node a leading")
        follower = Engine(tmp / "b", share=leader, extra_env=node_env("b"))
        stack.callback(follower.stop)
        follower.start()
        seen = follower.api("/api/cluster")
        if seen["is_leader"] or (seen["leader"] or {}).get("node") != "a":
            raise RuntimeError(f"node b should follow a: {seen}")
        status = subprocess.run(
            [sys.executable, "-m", "callcenter.cli", "cluster", "status"],
            env=leader.env, capture_output=True, text=True, check=True,
        )
        print(f"cluster status: {status.stdout.strip()}", file=sys.stderr)
        for code in codes:
            for action in ("login", "ready"):
                leader.api(f"/api/agents/{code}/{action}", method="POST")
        yield leader, follower


def log_size(engine: Engine) -> int:
    return (engine.tmp / "engine.log").stat().st_size


def log_marks(engine: Engine, offset: int) -> Counter[str]:
    with (engine.tmp / "engine.log").open("rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    return Counter({m: n for m in LOG_MARKS if (n := text.count(m))})


def run_step(
    target: str, rate: int, calls: int, call_s: float, a: Engine, b: Engine, work: Path
) -> Step:
    engine = a if target == "direct" else b
    since, marks = datetime.now(UTC), (log_size(a), log_size(b))
    cpu_b0, t0 = cpu_seconds(b.pid), time.monotonic()
    ok, failed, cps, peak, cpu_a = run_callers(
        f"{target} {rate}/s",
        work,
        a.pid,
        lambda: sipp_caller(work, engine.sip_port, rate, rate * int(call_s + 10), calls, KEY_MS),
        deadline_s=calls / rate + call_s + 60,
    )
    cpu_b = (cpu_seconds(b.pid) - cpu_b0) / (time.monotonic() - t0) * 100
    time.sleep(2)  # the last records' commits
    step = Step(target, rate, ok + failed, failed, cps, peak, cpu_a, cpu_b, os.getloadavg()[0])
    step.log_marks = log_marks(a, marks[0]) + log_marks(b, marks[1])
    with a.connect() as con:
        recs = records(con, since)
    if target == "direct":
        step.connect_ms = direct_latencies(recs)
    else:
        read_handovers(recs, step)
    return step


@dataclass
class Record:
    dialed: str
    events: list[tuple[str, datetime, dict[str, Any]]] = field(default_factory=list)

    def first(self, kind: str) -> tuple[datetime, dict[str, Any]] | None:
        return next(((at, data) for k, at, data in self.events if k == kind), None)


def records(con: Connection, since: datetime) -> dict[str, Record]:
    """The records of the calls started since ``since``, with their events in order (the
    same on SQLite and PostgreSQL: the times and JSON are read through the engine's models)."""
    rows = con.execute(
        select(Call.id, Call.dialed, CallEvent.kind, CallEvent.at, CallEvent.data)
        .join(CallEvent, CallEvent.call_id == Call.id)
        .where(Call.started_at >= since)
        .order_by(Call.id, CallEvent.seq)
    )
    calls: dict[str, Record] = {}
    for row in rows:
        calls.setdefault(row.id, Record(row.dialed)).events.append(
            (row.kind, row.at, row.data or {})
        )
    return calls


def _between(a: datetime, b: datetime) -> float:
    return (b - a) / timedelta(milliseconds=1)


def direct_latencies(calls: dict[str, Record]) -> list[float]:
    """The leader's own callers: ``queued`` to ``connected`` (ms)."""
    out = []
    for k in calls.values():
        q, c = k.first("queued"), k.first("connected")
        if k.dialed != HANDOVER_NUMBER and q and c:
            out.append(_between(q[0], c[0]))
    return out


def read_handovers(calls: dict[str, Record], step: Step) -> None:
    """Handed-over callers: the origin's queue step to the leader's ``connected`` (ms), its
    parts, the results the leader gave back, and callers that stayed in b's own queue."""
    for k in calls.values():
        h, q, c = k.first("handed_in"), k.first("queued"), k.first("connected")
        origin = calls.get(h[1].get("call", "")) if h else None
        if k.dialed != HANDOVER_NUMBER or not (h and q and c and origin):
            continue
        o = next(
            (at for kind, at, data in origin.events
             if kind == "ivr" and data.get("node") == "queue" and data.get("detail") == ""),
            None,
        )
        if o is None:
            continue
        step.connect_ms.append(_between(o, c[0]))
        step.handover_ms.append(_between(o, h[0]))
        step.leader_wait_ms.append(_between(q[0], c[0]))
    for k in calls.values():
        if k.dialed == HANDOVER_NUMBER:
            continue
        step.origins += 1
        step.local_queue += k.first("queued") is not None
        for kind, _at, data in k.events:
            if kind == "handover_result":
                result = data.get("result") or "none"
                step.results["served" if result.startswith("served") else result] += 1


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--rates", default="5,20,50", help="calls/s per step")
    ap.add_argument("--calls", type=int, default=200, help="calls per step and target")
    ap.add_argument("--database", metavar="URL", help="the nodes' database: a PostgreSQL URL "
                    "(postgresql+psycopg://postgres@127.0.0.1:5432/bench_cluster: dropped and "
                    "made anew) instead of one SQLite file")
    common_options(ap, 2.0, "the nodes' engine.log, the SQLite file, SIPp's error logs")
    return ap.parse_args()


def main() -> None:
    args = parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    call_s = KEY_MS / 1000 + 0.5 + args.talk + 0.5
    agents = int(max(rates) * (call_s + 3)) + 50
    steps: list[Step] = []
    with workdir(args.keep, "cluster-handover-") as tmp:
        print(f"nodes a (leader) and b: starting, {agents} agents at a", file=sys.stderr)
        with cluster(tmp, agents, args.talk, args.database) as (a, b):
            for rate in rates:
                for target in ("direct", "handed over"):
                    work = tmp / f"{target.split()[0]}-{rate}"
                    steps.append(run_step(target, rate, args.calls, call_s, a, b, work))
                    time.sleep(call_s + 2)
    print_table(steps)
    if args.plot:
        plot(steps, args.plot)


def _ms(v: float | None) -> str:
    return f"{v:.0f}" if v is not None else "-"


def print_table(steps: list[Step]) -> None:
    print(
        f"\nCluster handover, {time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} cores, "
        f"load1 {os.getloadavg()[0]:.1f}; command: {command_line()}"
    )
    print("connect = queue -> agent connected (ms, with the softphone's 0.5 s to answer); "
          "CPU = % of one core per node process")
    print(
        f"{'target':<12} {'calls/s':>7} {'placed':>6} {'failed':>6} {'achieved':>8} "
        f"{'peak':>5} {'p50':>6} {'p95':>6} {'n':>5} {'CPU a':>6} {'CPU b':>6} {'load1':>5}"
    )
    for s in steps:
        print(
            f"{s.target:<12} {s.rate:>7} {s.placed:>6} {s.failed:>6} {s.cps:>8.1f} {s.peak:>5} "
            f"{_ms(s.p(s.connect_ms, 50)):>6} {_ms(s.p(s.connect_ms, 95)):>6} "
            f"{len(s.connect_ms):>5} {s.cpu_a:>6.0f} {s.cpu_b:>6.0f} {s.load1:>5.1f}"
        )
    for rate in sorted({s.rate for s in steps}):
        d = next(s for s in steps if s.rate == rate and s.target == "direct")
        h = next(s for s in steps if s.rate == rate and s.target == "handed over")
        d50, h50 = d.p(d.connect_ms, 50), h.p(h.connect_ms, 50)
        added = f"{h50 - d50:.0f} ms" if d50 is not None and h50 is not None else "-"
        print(
            f"{rate}/s: handover adds {added} at p50; handed over: to the leader's record "
            f"p50/p95 {_ms(h.p(h.handover_ms, 50))}/{_ms(h.p(h.handover_ms, 95))} ms, wait "
            f"there {_ms(h.p(h.leader_wait_ms, 50))}/{_ms(h.p(h.leader_wait_ms, 95))} ms; "
            f"origin records {h.origins}, results {dict(h.results)}, waited in b's own "
            f"queue {h.local_queue}"
        )
        for s in (d, h):
            if s.log_marks:
                print(f"  {s.target} {rate}/s, engine logs: {dict(s.log_marks)}")


def plot(steps: list[Step], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (lat, cpu) = plt.subplots(1, 2, figsize=(9, 3.5))
    for target, color in (("direct", "tab:blue"), ("handed over", "tab:orange")):
        rs = [s for s in steps if s.target == target]
        x = [s.rate for s in rs]
        lat.plot(x, [s.p(s.connect_ms, 50) for s in rs], marker="o", color=color,
                 label=f"{target} p50")
        lat.plot(x, [s.p(s.connect_ms, 95) for s in rs], marker="o", ls="--", color=color,
                 label=f"{target} p95")
        cpu.plot(x, [s.cpu_a for s in rs], marker="o", color=color, label=f"{target}: node a")
        cpu.plot(x, [s.cpu_b for s in rs], marker="s", ls="--", color=color,
                 label=f"{target}: node b")
    lat.set_yscale("log")
    lat.set_ylabel("queue -> agent connected, ms (log)")
    cpu.set_ylabel("CPU, % of one core")
    for ax in (lat, cpu):
        ax.set_xlabel("calls/s offered")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Cluster: callers to the leader (a) directly vs handed over by node b")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"plot: {path}")


if __name__ == "__main__":
    shutil.which("sipp") or sys.exit("sipp is missing: apt-get install sip-tester")
    main()
