"""What the SIP benchmarks share: ports, CPU readings, the engine in its own process with a
benchmark database (SQLite, or PostgreSQL by URL), SIPp callers and their statistics,
percentiles, the command-line options they have in common.

``bench/sip_load.py`` (on-demand agents, against bare pjsua2) and ``bench/sip_nailed.py``
(nailed-up agents) both start ``callcenter serve`` and drive it with SIPp through these.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, select, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callcenter.store.database import make_engine, parse_url  # noqa: E402
from callcenter.store.models import Agent, Queue, QueueMember  # noqa: E402
from tests.support.audio import tone, write_ulaw  # noqa: E402

SIPP = ROOT / "tests" / "integration" / "sipp"
BENCH_SIP = ROOT / "bench" / "sip"
PY = sys.executable
CLI = [PY, "-m", "callcenter.cli"]
DIALED = "300"  # the number the benchmark flow answers


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not happen within {seconds} s")


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def utc_stamp() -> str:
    """Now, in the form SQLite holds the CDR's UTC times (for ``>=`` comparisons)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


# ---- the engine -------------------------------------------------------------------------
def fresh_database(url: str) -> None:
    """A PostgreSQL ``url``'s database dropped (whatever holds it open) and made anew, empty;
    nothing to do for SQLite (a new file)."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as con:
            con.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
            con.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        admin.dispose()


class Engine:
    """``callcenter serve`` in its own process on a fresh database (a new SQLite file, or
    ``database``, a PostgreSQL URL, dropped and made anew) with one queue (``bench``, no
    wrap-up) answering ``DIALED`` with ``flow`` (``bench/sip/bench_flow.yaml``)."""

    def __init__(
        self,
        tmp: Path,
        flow: Path = BENCH_SIP / "bench_flow.yaml",
        *,
        share: Engine | None = None,
        extra_env: dict[str, str] | None = None,
        database: str | None = None,
    ) -> None:
        """``share``: another engine node on ``share``'s database (set up already);
        ``extra_env``: more settings (``CALLCENTER_...``) for this engine; ``database``: a
        PostgreSQL URL to use instead of ``tmp/bench.db`` (its database is dropped first)."""
        tmp.mkdir(parents=True, exist_ok=True)
        self.tmp = tmp
        self.db: Path = share.db if share is not None else tmp / "bench.db"  # the SQLite file
        self.url: str
        if share is not None:
            self.url = share.url
        else:
            self.url = database or f"sqlite:///{self.db}"
            fresh_database(self.url)
        self.sip_port, self.http_port = free_port(), free_port(socket.SOCK_STREAM)
        self.base = f"http://127.0.0.1:{self.http_port}"
        self.proc: subprocess.Popen[bytes] | None = None
        # The bench sets the engine up itself; only the SIP media threads, socket buffers and
        # overload threshold (0 turns shedding off) may be chosen.
        keep = (
            "CALLCENTER_SIP__MEDIA_THREADS",
            "CALLCENTER_SIP__UDP_BUFFER_BYTES",
            "CALLCENTER_SIP__OVERLOAD_LAG_MS",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_") or k in keep}
        env.update(
            {
                "CALLCENTER_DATABASE__URL": self.url,
                "CALLCENTER_VAR_DIR": str(tmp / "var"),
                "CALLCENTER_RECORDINGS_DIR": str(tmp / "recordings"),
                "CALLCENTER_HTTP__PORT": str(self.http_port),
                "CALLCENTER_SIP__PORT": str(self.sip_port),
                "CALLCENTER_SIP__MAX_CALLS": "4000",
                "CALLCENTER_SIP__NUMBERS": json.dumps({DIALED: str(flow)}),
                "CALLCENTER_SIP__PROMPT_CACHE_DIR": str(tmp / "prompts"),
                "CALLCENTER_SIP__RATE_PER_SOURCE": "100000",
                "CALLCENTER_SIP__PRESENCE_INTERVAL_S": "0",
                "CALLCENTER_SIP__RECORD_CALLS": "false",
                "CALLCENTER_BACKOFFICE__SMTP_PORT": str(free_port(socket.SOCK_STREAM)),
                "CALLCENTER_LOG__LEVEL": "WARNING",
                **(extra_env or {}),
            }
        )
        self.env = env
        if share is not None:
            return
        subprocess.run([*CLI, "db", "upgrade"], env=env, check=True, capture_output=True)
        subprocess.run(
            [*CLI, "queues", "add", "bench", "--wrapup", "0"],
            env=env,
            check=True,
            capture_output=True,
        )

    @property
    def login_number(self) -> str:
        return self.env.get("CALLCENTER_SIP__AGENT_LOGIN_NUMBER", "9000")

    def add_agents(
        self, codes: list[str], sip_host: str | None = None, pin_hash: str | None = None
    ) -> None:
        """Agents in the ``bench`` queue, in one transaction (thousands: not a CLI call each):
        on demand at ``sip:CODE@sip_host``, or nailed up with ``pin_hash``."""
        engine = make_engine(self.url)
        with Session(engine) as session:
            queue_id = session.scalars(select(Queue.id).where(Queue.name == "bench")).one()
            agents = [
                Agent(
                    code=code,
                    name=f"Agent {code}",
                    sip_uri=f"sip:{code}@{sip_host}" if sip_host else None,
                    pin_hash=pin_hash,
                    voice_capacity=1,
                    chat_capacity=0,
                    ticket_capacity=0,
                    active=True,
                )
                for code in codes
            ]
            session.add_all(agents)
            session.flush()
            session.add_all(
                QueueMember(queue_id=queue_id, agent_id=a.id, penalty=0, tier=1, position=1)
                for a in agents
            )
            session.commit()
        engine.dispose()

    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection to this engine's database (SQLite or PostgreSQL), for reading results."""
        engine = make_engine(self.url)
        try:
            with engine.connect() as con:
                yield con
        finally:
            engine.dispose()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [*CLI, "serve"], env=self.env, stderr=(self.tmp / "engine.log").open("wb")
        )

        def healthy() -> bool:
            try:
                return urllib.request.urlopen(self.base + "/healthz", timeout=1).status == 200
            except OSError:
                return False

        wait_for(healthy, 60, "engine start")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def api(self, path: str, method: str = "GET") -> Any:
        req = urllib.request.Request(self.base + path, method=method)
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.loads(resp.read() or b"null")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


# ---- SIPp --------------------------------------------------------------------------------
def sipp_caller(
    work: Path,
    port: int,
    cps: int,
    limit: int,
    total: int,
    key_ms: int,
    scenario: Path = SIPP / "caller_dtmf_info.xml",
    talk_ms: int = 0,
) -> subprocess.Popen[bytes]:
    """SIPp callers dialing ``DIALED``: each presses 2 after ``key_ms``; a scenario that hangs up
    by itself reads its talk time (ms) from field 3 of the injection file."""
    work.mkdir(parents=True, exist_ok=True)
    write_ulaw(work / "caller.ulaw", tone(4, 300))
    (work / "keys.csv").write_text(f"SEQUENTIAL\n2;0;+15550100;{talk_ms}\n")
    return subprocess.Popen(
        [
            "sipp",
            f"127.0.0.1:{port}",
            "-sf",
            str(scenario),
            "-s",
            DIALED,
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
            # SIPp's own socket buffers (64 KiB by default) drop responses in bursts.
            "-buff_size",
            str(4 * 1024 * 1024),
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


def agent_phones(work: Path, port: int, talk_s: float) -> subprocess.Popen[bytes]:
    """On-demand agents' softphones: one SIPp on ``port`` answering every agent's call
    (``sip:CODE@127.0.0.1:port``) after 0.5 s, talking ``talk_s`` seconds, then hanging up."""
    work.mkdir(parents=True, exist_ok=True)
    write_ulaw(work / "agent.ulaw", tone(4, 500))
    return subprocess.Popen(
        [
            "sipp",
            "-sf",
            str(SIPP / "agent_answer.xml"),
            "-d",
            str(int(talk_s * 1000)),
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "-mp",
            str(free_port() & ~1),
            "-nostdin",
            "-max_socket",
            "60000",
            # Not -bg: a daemonised SIPp outlives terminate() and keeps its port after the run.
        ],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def read_stats(work: Path) -> tuple[int, int, float, int]:
    """(successful, failed, calls/s, peak concurrent) from a SIPp caller's -trace_stat file."""
    rows = list(csv.DictReader((work / "stats.csv").open(), delimiter=";"))
    last = rows[-1]
    ok, failed = int(last["SuccessfulCall(C)"]), int(last["FailedCall(C)"])
    peak = max(int(r["CurrentCall"]) for r in rows)
    seconds = len(rows)  # one row per second (-fd 1)
    return ok, failed, (ok + failed) / max(1, seconds), peak


def run_callers(
    label: str,
    work: Path,
    pid: int,
    start: Callable[[], subprocess.Popen[bytes]],
    deadline_s: float = 600.0,
) -> tuple[int, int, float, int, float]:
    """Run one SIPp caller to the end; (ok, failed, calls/s, peak, CPU % of ``pid``).

    A caller still running after ``deadline_s`` (calls that never end: SIPp waits for them
    forever) is stopped, and the calls it still had count as failed."""
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    caller = start()
    stopped = False
    while caller.poll() is None:
        time.sleep(1)
        waited = time.monotonic() - t0
        print(f"  [{label}] {waited:5.0f} s", file=sys.stderr, end="\r")
        if waited > deadline_s and not stopped:
            print(f"\n  [{label}] calls still up after {deadline_s:.0f} s: stopping SIPp",
                  file=sys.stderr)
            caller.terminate()
            stopped = True
    cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0) * 100
    print(file=sys.stderr)
    ok, failed, rate, peak = read_stats(work)
    if stopped:
        failed += still_up(work)
    return ok, failed, rate, peak, cpu


def still_up(work: Path) -> int:
    """Calls a stopped SIPp caller still had (its last statistics row)."""
    rows = list(csv.DictReader((work / "stats.csv").open(), delimiter=";"))
    return int(rows[-1]["CurrentCall"]) if rows else 0


def common_options(ap: argparse.ArgumentParser, talk_s: float, keep: str) -> None:
    """The options every SIP benchmark has: ``--talk`` (default ``talk_s``), ``--plot`` and
    ``--keep`` (``keep``: what the kept folder holds)."""
    ap.add_argument("--talk", type=float, default=talk_s, help="talk time with the agent (s)")
    ap.add_argument("--plot", type=Path, help="write a PNG of the results here")
    ap.add_argument("--keep", type=Path, help=f"work in this folder and keep it ({keep}) "
                    "instead of a temporary one")


@contextlib.contextmanager
def workdir(keep: Path | None, prefix: str) -> Iterator[Path]:
    """A benchmark's work folder: ``keep`` (made new, kept afterwards) or a temporary one."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=False)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as tmpdir:
        yield Path(tmpdir)


def command_line() -> str:
    return " ".join([f"bench/{Path(sys.argv[0]).name}", *sys.argv[1:]])
