"""Posts from the pj thread reach the loop in order, all of them, with few loop wake-ups."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator

from callcenter.voice.sip.pjthread import PjThread


@contextlib.contextmanager
def counted_wakeups(loop: asyncio.AbstractEventLoop) -> Iterator[list[int]]:
    """Counts the loop's cross-thread wake-ups (``call_soon_threadsafe``) in ``[0]``."""
    count = [0]
    real = loop.call_soon_threadsafe

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        count[0] += 1
        return real(*args, **kwargs)

    loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
    try:
        yield count
    finally:
        loop.call_soon_threadsafe = real  # type: ignore[method-assign]


async def test_posts_arrive_in_order_and_share_wake_ups() -> None:
    loop = asyncio.get_running_loop()
    got: list[int] = []
    thread = PjThread(loop, lambda: None, lambda ms: time.sleep(ms / 1000), lambda: None)
    with counted_wakeups(loop) as wakeups:

        def burst() -> None:
            for i in range(5000):
                thread.post(got.append, i)

        producer = threading.Thread(target=burst)
        producer.start()
        producer.join()
        for _ in range(100):
            if len(got) == 5000:
                break
            await asyncio.sleep(0.01)
    assert got == list(range(5000))
    assert wakeups[0] < 5000  # a burst is delivered in far fewer wake-ups than posts


async def test_a_failing_handler_does_not_stop_the_others(caplog) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    got: list[str] = []
    thread = PjThread(loop, lambda: None, lambda ms: None, lambda: None)

    def boom() -> None:
        raise ValueError("bad event")

    thread.post(got.append, "a")
    thread.post(boom)
    thread.post(got.append, "b")
    await asyncio.sleep(0.05)
    assert got == ["a", "b"]
    assert "SIP event handler failed" in caplog.text


async def test_events_of_one_poll_share_one_wake_up() -> None:
    """Callbacks that pjsua runs during one poll post many events; the loop is woken once for
    them, after the poll, not once per event (each wake-up is a self-pipe write and read)."""
    loop = asyncio.get_running_loop()
    got: list[tuple[int, int]] = []
    polls = 0
    thread: PjThread

    def poll(ms: int) -> None:
        nonlocal polls
        if polls < 20:
            for i in range(50):  # a batch of socket events, each posting one event
                thread.post(got.append, (polls, i))
                time.sleep(0.0002)  # the callback's own work: the loop could run meanwhile
        polls += 1
        time.sleep(0.001)

    thread = PjThread(loop, lambda: None, poll, lambda: None)
    with counted_wakeups(loop) as wakeups:
        await thread.start()
        for _ in range(200):
            if len(got) == 1000:
                break
            await asyncio.sleep(0.01)
        await thread.stop()
    assert got == [(p, i) for p in range(20) for i in range(50)]
    assert wakeups[0] <= 20 + 3  # one per poll at most (+ ready, done, a spare)
