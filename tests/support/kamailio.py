"""Kamailio (Debian package kamailio) as a real registrar and proxy in front of agents' phones.

One private instance per test: its own folder (runtime dir, pid file, log), a free UDP port on
127.0.0.1, the configuration in ``kamailio.cfg`` next to this file (registrations kept in
memory, no auth). It runs in the foreground (``-DD``) logging to stderr (``-E``), so stopping
it is a SIGTERM to the process we started.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import uuid
from pathlib import Path

from tests.support.baresip import Baresip
from tests.support.sip import free_udp_port

CONFIG = Path(__file__).with_name("kamailio.cfg")
# Debian installs the modules under the multiarch triplet (x86_64-linux-gnu, aarch64-linux-gnu).
MODULES = next(Path("/usr/lib").glob("*/kamailio/modules"), Path("/usr/lib/kamailio/modules"))
_STATUS = re.compile(r"^SIP/2\.0 (\d{3}) ?(.*)$", re.MULTILINE)
_CALL_ID = re.compile(r"^(?:Call-ID|i)\s*:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class KamailioError(RuntimeError):
    """Kamailio did not start or answer; the message carries its log."""


class Kamailio:
    def __init__(self, workdir: Path, name: str = "kamailio") -> None:
        self.dir = workdir / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_udp_port()
        self.logfile = self.dir / "kamailio.log"
        self.proc: asyncio.subprocess.Process | None = None

    def uri(self, user: str) -> str:
        """The address of record ``user`` has here (what an agent's ``sip_uri`` names)."""
        return f"sip:{user}@127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    async def start(self) -> None:
        binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
        self.proc = await asyncio.create_subprocess_exec(
            binary,
            "-DD",  # no daemon: the process we start is the one to stop
            "-E",  # log to stderr
            "-f",
            str(CONFIG),
            "-L",
            str(MODULES),
            "-Y",
            str(self.dir),  # runtime dir instead of /run/kamailio
            "-P",
            str(self.dir / "kamailio.pid"),
            "-w",
            str(self.dir),
            "-l",
            f"udp:127.0.0.1:{self.port}",
            "-m",
            "32",  # MB of shared memory, plenty for a few registrations
            cwd=self.dir,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self.logfile.open("wb"),
            stderr=asyncio.subprocess.STDOUT,
        )
        # Listening and routing: an OPTIONS for nobody gets the route's 404.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while loop.time() < deadline:
            if self.proc.returncode is not None:
                break
            if await self.options("nobody", timeout=0.3) is not None:
                return
            await asyncio.sleep(0.1)
        await self.stop()
        raise KamailioError(f"kamailio did not answer on port {self.port}:\n{self.log()}")

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # it stops its children and exits
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()

    async def options(self, user: str, timeout: float = 2.0) -> int | None:
        """Final status of an OPTIONS to ``user`` through Kamailio (None: no answer)."""
        return await self.request("OPTIONS", user, timeout=timeout)

    async def unregister(self, user: str) -> int | None:
        """Drop every registration of ``user`` (REGISTER, Contact: *, Expires: 0)."""
        return await self.request("REGISTER", user, extra="Contact: *\r\nExpires: 0\r\n")

    async def request(
        self, method: str, user: str, extra: str = "", timeout: float = 2.0
    ) -> int | None:
        loop = asyncio.get_running_loop()
        call_id = uuid.uuid4().hex
        answer: asyncio.Future[int] = loop.create_future()

        class Client(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                text = data.decode(errors="replace")
                status, cid = _STATUS.match(text), _CALL_ID.search(text)
                final = status is not None and not status.group(1).startswith("1")
                if final and cid and cid.group(1) == call_id and not answer.done():
                    answer.set_result(int(status.group(1)))  # type: ignore[union-attr]

        transport, _ = await loop.create_datagram_endpoint(
            Client, local_addr=("127.0.0.1", 0), remote_addr=("127.0.0.1", self.port)
        )
        try:
            host, port = transport.get_extra_info("sockname")[:2]
            to = self.uri(user)
            # A REGISTER is sent to the domain on behalf of the AOR; other requests to the AOR.
            ruri, sender = (
                (f"sip:127.0.0.1:{self.port}", to)
                if method == "REGISTER"
                else (to, f"sip:test@{host}:{port}")
            )
            branch = "z9hG4bK" + uuid.uuid4().hex[:16]
            transport.sendto(
                (
                    f"{method} {ruri} SIP/2.0\r\n"
                    f"Via: SIP/2.0/UDP {host}:{port};branch={branch};rport\r\n"
                    "Max-Forwards: 70\r\n"
                    f"From: <{sender}>;tag={uuid.uuid4().hex[:8]}\r\n"
                    f"To: <{to}>\r\n"
                    f"Call-ID: {call_id}\r\n"
                    f"CSeq: 1 {method}\r\n"
                    f"{extra}"
                    "Content-Length: 0\r\n\r\n"
                ).encode()
            )
            return await asyncio.wait_for(answer, timeout)
        except TimeoutError:
            return None
        finally:
            transport.close()

    async def wait_for_status(self, user: str, status: int, within: float = 10) -> None:
        """Until an OPTIONS to ``user`` through Kamailio gets ``status`` (200: registered)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        last = None
        while loop.time() < deadline:
            last = await self.options(user)
            if last == status:
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"OPTIONS to {user}: {last}, expected {status}\n{self.log()}")


def registering_phone(
    workdir: Path,
    registrar: Kamailio,
    user: str,
    answer: str = "auto",
    expires: int = 60,
    name: str | None = None,
) -> Baresip:
    """A baresip softphone that registers with ``registrar`` as ``user`` instead of listening on
    a static contact; ``answer="manual"`` makes it ring and never pick up."""
    phone = Baresip(workdir, name or f"phone-{user}")
    (phone.dir / "accounts").write_text(
        f"<{registrar.uri(user)}>;regint={expires};answermode={answer};audio_codecs=PCMU\n"
    )
    phone.uri = registrar.uri(user)
    return phone
