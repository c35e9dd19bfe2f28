"""Timers set on the pj thread run there, in time order, not before they are due, and the
thread polls pjsua for no longer than the next timer is away."""

from __future__ import annotations

import asyncio
import threading
import time

from callcenter.voice.sip.pjthread import POLL_MS, PjThread


async def test_timers_run_on_the_thread_in_order_when_due(caplog) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    polls: list[int] = []
    ran: list[tuple[str, float, bool]] = []

    def poll(ms: int) -> None:
        polls.append(ms)
        time.sleep(ms / 1000)

    thread = PjThread(loop, lambda: None, poll, lambda: None)
    await thread.start()
    try:

        def note(name: str) -> None:
            ran.append((name, time.monotonic(), thread.on_thread()))

        def boom() -> None:
            raise ValueError("bad timer")

        def schedule() -> float:
            at = time.monotonic()
            thread.call_later(0.12, lambda: note("late"))
            thread.call_later(0.05, boom)
            thread.call_later(0.05, lambda: note("early"))
            thread.call_later(0.0, lambda: note("now"))
            return at

        set_at = await thread.submit(schedule)
        await asyncio.sleep(0.3)
    finally:
        await thread.stop()
    assert [name for name, _, _ in ran] == ["now", "early", "late"]
    assert all(on_thread for _, _, on_thread in ran)
    assert ran[1][1] - set_at >= 0.05 and ran[2][1] - set_at >= 0.12
    assert "SIP stack timer failed" in caplog.text  # and the failing one stopped nothing
    assert max(polls) <= POLL_MS
    assert threading.current_thread() is threading.main_thread()
