"""SIP test peers: free UDP ports and SIPp runs (Debian package sip-tester)."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from pathlib import Path

from tests.support.audio import tone, write_ulaw

SCENARIOS = Path(__file__).parents[1] / "integration" / "sipp"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_rtp_port() -> int:
    """An even UDP port with its odd neighbour (RTCP) free too. (``free_udp_port() & ~1``, used
    before, handed out the unchecked port below an odd free one half the time: SIPp then failed
    on "Unable to bind audio RTP socket".)"""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rtp:
            rtp.bind(("127.0.0.1", 0))
            port = int(rtp.getsockname()[1])
            if port % 2 or port >= 65535:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rtcp:
                try:
                    rtcp.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free even UDP port pair on 127.0.0.1 for SIPp's media")


@dataclass
class SippResult:
    returncode: int
    stderr: str
    errors: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Sipp:
    """One SIPp process in its own folder (it reads its audio and writes its logs there)."""

    def __init__(self, workdir: Path, name: str, scenario: str, *args: str) -> None:
        self.dir = workdir / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_udp_port()
        self.media_port = free_rtp_port()
        write_ulaw(self.dir / "caller.ulaw", tone(4, 300))
        write_ulaw(self.dir / "agent.ulaw", tone(4, 500))
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
