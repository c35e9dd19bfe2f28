"""The one thread that owns pjsua2.

Every pjsua2 object is created, used and destroyed on this thread. It loops on
``libHandleEvents`` and, between polls, runs the commands the asyncio side queued
(:meth:`PjThread.submit`), handing results back with ``call_soon_threadsafe``, and the timers
it set itself (:meth:`PjThread.call_later`). Callbacks that pjsua2 runs on this thread only
record state and post events the same way. asyncio code never holds or touches a pjsua2 object.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

POLL_MS = 5  # the longest a queued command waits for the thread to look


class PjThread:
    """Runs ``setup()`` then polls ``handle_events(POLL_MS)`` and drains the command queue until
    stopped, then runs ``teardown()``; all three on the thread."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        setup: Callable[[], None],
        handle_events: Callable[[int], None],
        teardown: Callable[[], None],
        name: str = "pjsua2",
    ) -> None:
        self.loop = loop
        self._setup, self._handle, self._teardown = setup, handle_events, teardown
        self._commands: queue.SimpleQueue[tuple[Callable[[], Any], asyncio.Future[Any] | None]] = (
            queue.SimpleQueue()
        )
        self._stop = threading.Event()
        self._outbox: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self._wake_pending = False
        self._wake_due = False  # posts from the pj thread wait for the end of its poll
        self._polling = False
        self._timers: list[tuple[float, int, Callable[[], Any]]] = []  # heap, pj thread only
        self._timer_seq = itertools.count()
        self._ready: asyncio.Future[None] = loop.create_future()
        self._done: asyncio.Future[None] = loop.create_future()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def ident(self) -> int | None:
        return self._thread.ident

    def on_thread(self) -> bool:
        return threading.get_ident() == self._thread.ident

    async def start(self) -> None:
        self._thread.start()
        await self._ready

    async def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._stop.set()
        await self._done

    def submit(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        """Run ``fn()`` on the pj thread; the future gets its result or exception."""
        fut: asyncio.Future[T] = self.loop.create_future()
        if self._stop.is_set() or not self._thread.is_alive():
            fut.set_exception(RuntimeError("the SIP stack is not running"))
            return fut
        self._commands.put((fn, fut))
        return fut

    def call_later(self, delay_s: float, fn: Callable[[], Any]) -> None:
        """Run ``fn()`` on the pj thread in ``delay_s`` seconds (call it on the pj thread)."""
        entry = (time.monotonic() + delay_s, next(self._timer_seq), fn)
        heapq.heappush(self._timers, entry)

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the asyncio loop (from the pj or a media thread), in order.

        Posts wait in an outbox and the loop is woken once for all that pile up before it
        runs (one ``call_soon_threadsafe``, i.e. one write to the loop's self-pipe, per wake-up
        instead of one per event: under load that write was a third of the pj thread's time).
        On the pj thread, while it polls, the wake-up waits until the current poll (all the
        callbacks of one batch of socket events) or command drain is over: one per batch.
        """
        self._outbox.append((fn, args))
        if self._wake_pending:
            return
        if self._polling and threading.get_ident() == self._thread.ident:
            self._wake_due = True
            return
        self._wake()

    def _wake(self) -> None:
        self._wake_pending, self._wake_due = True, False
        # A closed loop (shutdown) has nobody listening any more.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self._flush)

    def _wake_if_due(self) -> None:  # on the pj thread
        if self._wake_due and not self._wake_pending:
            self._wake()

    def _flush(self) -> None:
        """On the loop: run everything posted so far."""
        self._wake_pending = False  # first: a post racing with the drain schedules a new flush
        outbox = self._outbox
        while outbox:
            fn, args = outbox.popleft()
            try:
                fn(*args)
            except Exception:
                log.exception("a SIP event handler failed")

    def _resolve(self, fut: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
        self.post(_settle, fut, result, error)

    def _drain(self) -> None:
        while True:
            try:
                fn, fut = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                result = fn()
            except Exception as exc:  # noqa: BLE001 - handed to the awaiting side
                if fut is None:
                    log.exception("SIP stack job failed")
                else:
                    self._resolve(fut, None, exc)
            else:
                if fut is not None:
                    self._resolve(fut, result, None)

    def _run_timers(self) -> int:
        """Run the timers that are due; the milliseconds until the next (at most POLL_MS)."""
        timers = self._timers
        while timers:
            left_s = timers[0][0] - time.monotonic()
            if left_s > 0:
                return min(math.ceil(left_s * 1000), POLL_MS)
            _, _, fn = heapq.heappop(timers)
            try:
                fn()
            except Exception:
                log.exception("SIP stack timer failed")
        return POLL_MS

    def _run(self) -> None:
        try:
            self._setup()
        except BaseException as exc:  # noqa: BLE001
            self.post(_settle, self._ready, None, exc)
            self.post(_settle, self._done, None, None)
            return
        self.post(_settle, self._ready, None, None)
        self._polling = True
        try:
            poll_ms = POLL_MS
            while not self._stop.is_set():
                self._handle(poll_ms)
                self._wake_if_due()
                self._drain()
                poll_ms = self._run_timers()
                self._wake_if_due()
        finally:
            self._polling = False
            self._wake_if_due()
            self._drain()
            try:
                self._teardown()
            except Exception:
                log.exception("SIP stack teardown failed")
            # Commands that arrived too late fail instead of hanging their callers.
            while True:
                try:
                    _, fut = self._commands.get_nowait()
                except queue.Empty:
                    break
                if fut is not None:
                    self._resolve(fut, None, RuntimeError("the SIP stack stopped"))
            self.post(_settle, self._done, None, None)


def _settle(fut: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """Complete ``fut`` on the loop (it may have been cancelled meanwhile)."""
    if fut.done():
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)
