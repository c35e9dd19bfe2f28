"""SIP test peers: free UDP ports and SIPp runs (Debian package sip-tester)."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from pathlib import Path

from tests.support.audio import tone, write_ulaw

SCENARIOS = Path(__file__).parents[1] / "integration" / "sipp"
CALLER_HZ, AGENT_HZ = 300, 500  # the tones a peer streams by default, calling or answering


def free_udp_port() -> int:
    """A loopback port free for UDP and for TCP: SIP listens on both at one port (the
    engine, and SIPp run with -t t1)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no loopback port free for both UDP and TCP")


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_rtp_port() -> int:
    """A UDP port for SIPp's media, with the three above it free too: SIPp binds audio RTP at
    the port, its RTCP at +1 and video at +2/+3. Blocks start at a multiple of 4, so two
    SIPps given ports before either starts never overlap (an even port checked with +1 only
    let one SIPp's video take the next one's audio: "Unable to bind audio RTP socket")."""
    for _ in range(500):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            if port % 4 or port + 3 > 65535:
                continue
            others = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(3)]
            try:
                for offset, sock in enumerate(others, 1):
                    sock.bind(("127.0.0.1", port + offset))
            except OSError:
                continue
            finally:
                for sock in others:
                    sock.close()
            return port
    raise RuntimeError("no free block of 4 UDP ports on 127.0.0.1 for SIPp's media")


@dataclass
class SippResult:
    returncode: int
    stderr: str
    errors: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Sipp:
    """One SIPp process in its own folder (it reads its audio and writes its logs there).
    ``agent_hz`` is the tone it streams when its scenario answers as an agent."""

    def __init__(
        self, workdir: Path, name: str, scenario: str, *args: str, agent_hz: float = AGENT_HZ
    ) -> None:
        self.dir = workdir / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_udp_port()
        self.media_port = free_rtp_port()
        write_ulaw(self.dir / "caller.ulaw", tone(4, CALLER_HZ))
        write_ulaw(self.dir / "agent.ulaw", tone(4, agent_hz))
        self.args = [
            "sipp",
            *args,
            "-sf",
            str(SCENARIOS / scenario),
            "-i",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-mp",
            str(self.media_port),
            "-nostdin",
            "-trace_err",
            "-error_file",
            str(self.dir / "errors.log"),
        ]
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.args,
            cwd=self.dir,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )

    async def wait(self, timeout: float = 60) -> SippResult:
        assert self.proc is not None
        try:
            _, err = await asyncio.wait_for(self.proc.communicate(), timeout)
        except TimeoutError:
            self.proc.kill()
            _, err = await self.proc.communicate()
        errors = (self.dir / "errors.log").read_text() if (self.dir / "errors.log").exists() else ""
        return SippResult(self.proc.returncode or 0, err.decode(errors="replace"), errors)
