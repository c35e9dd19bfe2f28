"""The SIP socket's buffers: asked of pjsua2, and a clear warning when the kernel caps them."""

from __future__ import annotations

from pathlib import Path

from callcenter.voice.sip import udp


def _rmem_max() -> int:
    return int(Path("/proc/sys/net/core/rmem_max").read_text())


def test_a_buffer_within_the_kernels_limit_gets_no_warning() -> None:
    size = min(udp.DEFAULT_BUFFER_BYTES, _rmem_max())
    assert udp.granted(size) >= size
    assert udp.shortfall(size) is None
    assert udp.shortfall(0) is None  # 0: the OS default, nothing asked


def test_a_buffer_above_the_kernels_limit_says_what_to_do() -> None:
    size = _rmem_max() * 4
    warning = udp.shortfall(size)
    assert warning is not None
    assert f"{udp.granted(size) // 1024} KiB" in warning
    assert f"net.core.rmem_max={size}" in warning
    assert "CALLCENTER_SIP__UDP_BUFFER_BYTES" in warning


def test_pjsua2_is_asked_for_both_buffers() -> None:
    import socket

    import pjsua2 as pj
    params = udp.sock_opts(pj, 123456)  # held: its vector is a view into it
    opts = list(params.sockOpts)
    assert [(o.level, o.optName) for o in opts] == [
        (socket.SOL_SOCKET, socket.SO_RCVBUF),
        (socket.SOL_SOCKET, socket.SO_SNDBUF),
    ]
    none = udp.sock_opts(pj, 0)
    assert list(none.sockOpts) == []
