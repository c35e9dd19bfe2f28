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

import socket
from typing import Any

DEFAULT_BUFFER_BYTES = 1024 * 1024


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
