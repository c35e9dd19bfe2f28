"""The SIP socket's kernel buffers: room for bursts of SIP messages.

A UDP socket's receive buffer is all that holds SIP requests while the pj thread is busy
(a garbage collection, a burst of call set-ups). Linux's default (``net.core.rmem_default``,
208 KiB) holds about a hundred datagrams: at 400 calls/s a 50 ms pause overflows it and the
kernel drops INVITEs, ACKs and INFO keys (seen as keys lost and calls failing in
bench/sip_setup.py). SIP servers raise it (Kamailio, OpenSIPS, Asterisk all document it); the
kernel caps what an unprivileged process may ask for at ``net.core.rmem_max`` /
``net.core.wmem_max``.
"""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path
from typing import Any

# 2 MiB: at 1 MiB a half-second burst at 900 calls/s filled half the buffer and the overload
# watch shed 600-1,400 calls; at 2 MiB it carried 900 calls/s (docs/benchmarks.md).
DEFAULT_BUFFER_BYTES = 2 * 1024 * 1024


def sock_opts(pj: Any, size: int) -> Any:
    """pjsua2 ``SockOptParams`` asking for ``size`` bytes of receive and send buffer."""
    params = pj.SockOptParams()
    if size > 0:
        opts = params.sockOpts
        opts.append(pj.SockOpt(socket.SOL_SOCKET, socket.SO_RCVBUF, size))
        opts.append(pj.SockOpt(socket.SOL_SOCKET, socket.SO_SNDBUF, size))
        params.sockOpts = opts
    return params


def granted(size: int) -> int:
    """The receive buffer the kernel gives a UDP socket that asks for ``size`` bytes."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
        # Linux reports twice what it grants (the other half is its bookkeeping).
        return int(s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)) // 2


def shortfall(size: int) -> str | None:
    """A warning when the kernel grants less than ``size`` bytes, saying how to fix it."""
    if size <= 0:
        return None
    got = granted(size)
    if got >= size:
        return None
    return (
        f"the SIP socket's receive buffer is {got // 1024} KiB, not the configured "
        f"{size // 1024} KiB (the kernel's net.core.rmem_max caps it): bursts of SIP messages "
        f"may be dropped under load; raise it with `sysctl -w net.core.rmem_max={size} "
        f"net.core.wmem_max={size}` or lower CALLCENTER_SIP__UDP_BUFFER_BYTES"
    )


_SO_MEMINFO = 55  # Linux: the socket's memory counters (sk_meminfo), 9 x u32


class Backlog:
    """How full the SIP socket's receive buffer is (0..1): what the pj thread has not read yet.

    The pj thread falls behind on the SIP socket before the event loop runs late (measured at
    550 calls/s: the queue at the full buffer while the loop idled), so this is the overload
    watch's second signal. pjsua2 does not hand out its socket: :meth:`find` looks for the
    process's UDP socket bound to the SIP port (``/proc``) and keeps a duplicate of it for
    ``getsockopt(SO_MEMINFO)``, one system call per sample. Linux only; elsewhere, or when the
    socket is not found, :meth:`fill` is always 0."""

    def __init__(self, sock: socket.socket | None) -> None:
        self._sock = sock

    @classmethod
    def find(cls, port: int) -> Backlog:
        try:
            inodes = _udp_inodes(port)
            for name in os.listdir("/proc/self/fd"):
                try:
                    target = os.readlink(f"/proc/self/fd/{name}")
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    dup = socket.socket(fileno=os.dup(int(name)))
                    dup.getsockopt(socket.SOL_SOCKET, _SO_MEMINFO, 36)  # supported here?
                    return cls(dup)
        except OSError:
            pass
        return cls(None)

    @property
    def found(self) -> bool:
        return self._sock is not None

    def fill(self) -> float:
        if self._sock is None:
            return 0.0
        try:
            rmem_alloc, rcvbuf, *_ = struct.unpack(
                "9I", self._sock.getsockopt(socket.SOL_SOCKET, _SO_MEMINFO, 36)
            )
        except OSError:
            return 0.0
        return rmem_alloc / rcvbuf if rcvbuf else 0.0

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _udp_inodes(port: int) -> set[str]:
    """Inodes of the UDP sockets bound to ``port`` (any address), from /proc/net/udp{,6}."""
    inodes = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes
