"""Presence of on-demand agents: is the softphone still there?

Every ``interval_s`` the engine sends each logged-in on-demand agent's softphone a SIP OPTIONS.
Any final response counts (even 405: something answered), except those a registrar or proxy
gives for a user who is not there (404, 408, 410, 480: the registration lapsed, or the phone
behind it is silent); ``failures`` failed pings in a row pause the agent with the reason, so no
caller rings a phone that is gone; the first answer after that makes the agent ready again.
Nailed-up agents need no pings: their line is the signal. :class:`PresenceTracker` is the pure
part, :class:`OptionsPinger` the adapter (UDP, or TCP for a URI with ``;transport=tcp``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

LOST_REASON = "softphone unreachable: {n} OPTIONS pings failed (last: {why})"
# What a registrar or proxy answers for an agent whose phone is not there: an INVITE to the
# same URI would fail the same way, so the softphone is as good as gone.
NOT_THERE = frozenset({404, 408, 410, 480})


@dataclass
class _Peer:
    failures: int = 0
    lost: bool = False


@dataclass
class PresenceTracker:
    failures: int = 2
    _peers: dict[str, _Peer] = field(default_factory=dict)

    def record(self, agent_id: str, answered: bool) -> str | None:
        """``"lost"`` or ``"back"`` when the agent's presence changes, else None."""
        peer = self._peers.setdefault(agent_id, _Peer())
        if answered:
            peer.failures = 0
            if peer.lost:
                peer.lost = False
                return "back"
            return None
        peer.failures += 1
        if peer.failures >= self.failures and not peer.lost:
            peer.lost = True
            return "lost"
        return None

    def forget(self, agent_id: str) -> None:
        self._peers.pop(agent_id, None)

    def is_lost(self, agent_id: str) -> bool:
        peer = self._peers.get(agent_id)
        return bool(peer and peer.lost)


_URI = re.compile(r"^sips?:(?:[^@]+@)?(?P<host>\[[^\]]+\]|[^:;>]+)(?::(?P<port>\d+))?")
_CALL_ID = re.compile(r"^(?:Call-ID|i)\s*:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
_STATUS = re.compile(r"^SIP/2\.0 (\d{3}) ?([^\r\n]*)")
_LENGTH = re.compile(r"^(?:Content-Length|l)\s*:\s*(\d+)", re.IGNORECASE | re.MULTILINE)
_TCP = re.compile(r";transport=tcp\b", re.IGNORECASE)


def options(uri: str, transport: str, local_host: str, local_port: int, call_id: str) -> bytes:
    """A SIP OPTIONS to ``uri`` sent from ``local_host:local_port`` over ``transport``."""
    branch = "z9hG4bK" + uuid.uuid4().hex[:16]
    return (
        f"OPTIONS {uri} SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport} {local_host}:{local_port};branch={branch};rport\r\n"
        f"Max-Forwards: 70\r\n"
        f"From: <sip:presence@{local_host}:{local_port}>;tag={uuid.uuid4().hex[:8]}\r\n"
        f"To: <{uri}>\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: 1 OPTIONS\r\n"
        f"Accept: application/sdp\r\n"
        f"Content-Length: 0\r\n\r\n"
    ).encode()


def target_of(uri: str) -> tuple[str, int] | None:
    m = _URI.match(uri.strip())
    if m is None:
        return None
    return m.group("host").strip("[]"), int(m.group("port") or 5060)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, waiting: dict[str, asyncio.Future[tuple[int, str]]]) -> None:
        self.waiting = waiting

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        text = data.decode(errors="replace")
        status = _STATUS.match(text)
        if status is None or status.group(1).startswith("1"):  # provisional: not an answer yet
            return
        m = _CALL_ID.search(text)
        fut = self.waiting.get(m.group(1)) if m else None
        if fut is not None and not fut.done():
            fut.set_result((int(status.group(1)), status.group(2).strip()))


class OptionsPinger:
    """Pings the softphones ``targets()`` names and reports changes to ``on_change``."""

    def __init__(
        self,
        targets: Callable[[], dict[str, str]],
        on_change: Callable[[str, str, str], Awaitable[None]],
        *,
        host: str = "127.0.0.1",
        interval_s: float = 5.0,
        timeout_s: float = 2.0,
        failures: int = 2,
    ) -> None:
        self.targets, self.on_change = targets, on_change
        self.host, self.interval_s, self.timeout_s = host, interval_s, timeout_s
        self.tracker = PresenceTracker(failures)
        self._waiting: dict[str, asyncio.Future[tuple[int, str]]] = {}
        self._transport: asyncio.DatagramTransport | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self._waiting), local_addr=(self.host, 0)
        )
        self._task = asyncio.create_task(self._run(), name="sip-presence")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._transport is not None:
            self._transport.close()

    async def _run(self) -> None:
        while True:
            targets = self.targets()
            for gone in set(self.tracker._peers) - set(targets):
                self.tracker.forget(gone)
            results = await asyncio.gather(
                *(self.probe(uri) for uri in targets.values()), return_exceptions=True
            )
            for (agent_id, uri), why in zip(targets.items(), results, strict=True):
                change = self.tracker.record(agent_id, why is None)
                if change is not None:
                    reason = (
                        LOST_REASON.format(n=self.tracker.failures, why=why)
                        if change == "lost"
                        else "softphone answers again"
                    )
                    log.warning("agent %s at %s: %s", agent_id, uri, reason)
                    await self.on_change(agent_id, change, reason)
            await asyncio.sleep(self.interval_s)

    async def ping(self, uri: str) -> bool:
        return await self.probe(uri) is None

    async def probe(self, uri: str) -> str | None:
        """None when the softphone is there, else why not ("no answer", "404 Not Found").
        A URI with ``;transport=tcp`` is pinged over TCP (the phone listens there only)."""
        target = target_of(uri)
        if target is None or self._transport is None:
            return "not a SIP URI" if target is None else "not started"
        try:
            if _TCP.search(uri):
                status, phrase = await asyncio.wait_for(self._over_tcp(uri, target),
                                                        self.timeout_s)
            else:
                status, phrase = await self._over_udp(uri, target)
        except TimeoutError:
            return "no answer"
        except OSError as exc:
            return exc.strerror or str(exc)
        return f"{status} {phrase}".strip() if status in NOT_THERE else None

    async def _over_udp(self, uri: str, target: tuple[str, int]) -> tuple[int, str]:
        assert self._transport is not None
        local_host, local_port = self._transport.get_extra_info("sockname")[:2]
        call_id = uuid.uuid4().hex
        fut: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()
        self._waiting[call_id] = fut
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(target[0], target[1])
            self._transport.sendto(options(uri, "UDP", local_host, local_port, call_id),
                                   infos[0][4][:2])
            return await asyncio.wait_for(fut, self.timeout_s)
        finally:
            self._waiting.pop(call_id, None)

    async def _over_tcp(self, uri: str, target: tuple[str, int]) -> tuple[int, str]:
        reader, writer = await asyncio.open_connection(*target)
        try:
            local_host, local_port = writer.get_extra_info("sockname")[:2]
            writer.write(options(uri, "TCP", local_host, local_port, uuid.uuid4().hex))
            await writer.drain()
            while True:  # responses on this connection until a final one
                head = await reader.readuntil(b"\r\n\r\n")
                status = _STATUS.match(head.decode(errors="replace"))
                if status is None:
                    raise ConnectionError("not a SIP response")
                length = _LENGTH.search(head.decode(errors="replace"))
                if length and int(length.group(1)):
                    await reader.readexactly(int(length.group(1)))
                if not status.group(1).startswith("1"):
                    return int(status.group(1)), status.group(2).strip()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
