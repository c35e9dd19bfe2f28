"""Overload shedding: the lag detector's hysteresis and the watch's effect on admission."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from callcenter.voice.sip.admission import Admission
from callcenter.voice.sip.overload import LagDetector, LoopWatch


def test_overload_starts_at_the_threshold_and_ends_only_after_a_calm_spell() -> None:
    d = LagDetector(enter_s=0.25, leave_s=0.05, calm_samples=3)
    assert [d.observe(x) for x in (0.01, 0.2, 0.249)] == [None, None, None]
    assert d.observe(0.3) is True and d.overloaded
    # Calm must hold for 3 samples in a row: a late sample starts the count again.
    assert [d.observe(x) for x in (0.01, 0.01, 0.08, 0.01, 0.01)] == [None] * 5
    assert d.observe(0.01) is False and not d.overloaded
    assert d.observe(0.1) is None  # under the threshold: still taking calls


def test_while_overloaded_new_calls_get_503_and_are_counted() -> None:
    a = Admission(numbers=frozenset({"100"}))
    a.overloaded = "engine overloaded (event loop 300 ms late)"
    assert a.check("127.0.0.1:5070", "100", 0.0) == (503, a.overloaded)
    assert a.check("127.0.0.1:5070", "999", 0.0)[0] == 503
    assert a.shed == 2
    a.overloaded = ""
    assert a.check("127.0.0.1:5070", "100", 0.0) == (0, "admitted")


def test_trusted_sources_come_before_overload() -> None:
    a = Admission(trusted=("10.0.0.0/8",), numbers=frozenset({"100"}))
    a.overloaded = "engine overloaded"
    assert a.check("192.0.2.1:5060", "100", 0.0)[0] == 403  # a stranger learns nothing more
    assert a.shed == 0


async def test_a_stalled_loop_sheds_calls_until_it_is_calm_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    admission = Admission(numbers=frozenset({"100"}))
    watch = LoopWatch(admission, LagDetector(0.2, 0.05, calm_samples=4), interval_s=0.02)
    watch.start()
    try:
        await asyncio.sleep(0.05)
        assert admission.overloaded == ""
        with caplog.at_level(logging.WARNING, "callcenter.voice.sip.overload"):
            time.sleep(0.3)  # the event loop is stuck
            await asyncio.sleep(0.03)
            assert admission.overloaded.startswith("engine overloaded (event loop ")
            admission.check("127.0.0.1:1", "100", 0.0)
            for _ in range(100):
                if not admission.overloaded:
                    break
                await asyncio.sleep(0.02)
            assert admission.overloaded == "" and admission.shed == 0
        assert watch.episodes == 1
        text = caplog.text
        assert "new calls get 503" in text and "1 new calls were refused" in text
    finally:
        await watch.stop()


def test_a_full_sip_socket_is_overload_even_with_the_loop_on_time() -> None:
    d = LagDetector(enter_s=0.25, leave_s=0.05, calm_samples=2)
    assert d.observe(0.0, backlog=0.45) is None
    assert d.observe(0.0, backlog=0.55) is True
    # Calm needs both: the loop on time and the socket nearly empty.
    assert [d.observe(0.0, 0.05), d.observe(0.0, 0.01), d.observe(0.3, 0.0)] == [None] * 3
    assert [d.observe(0.0, 0.0), d.observe(0.0, 0.0)] == [None, False]


def test_the_sip_sockets_backlog_is_read_from_the_kernel() -> None:
    import socket

    from callcenter.voice.sip.udp import Backlog

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        backlog = Backlog.find(port)
        try:
            assert backlog.found and backlog.fill() == 0.0
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as t:
                for _ in range(20):
                    t.sendto(b"x" * 1000, ("127.0.0.1", port))
            full = backlog.fill()
            assert 0.05 < full < 1.0
            s.setblocking(False)
            while True:  # ours is a duplicate: reading the original empties it for both
                try:
                    s.recv(2000)
                except BlockingIOError:
                    break
            assert backlog.fill() < full / 4  # (Linux frees UDP memory in batches)
        finally:
            backlog.close()
        s.setblocking(True)
        s.sendto(b"still open", ("127.0.0.1", port))
        assert s.recv(100) == b"still open"  # closing the duplicate left the original open
    assert not Backlog.find(1).found and Backlog(None).fill() == 0.0
