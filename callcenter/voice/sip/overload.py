"""Overload shedding: while the engine runs late, new calls are refused with 503 at once.

Past its capacity a call engine that takes every INVITE fails them all: each call's work waits
behind everyone else's, prompts and keys come late, callers time out, and the INVITEs that are
retransmitted after 500 ms add to the load (measured in bench/sip_setup.py: at 600 calls/s
offered, with 500 the engine's ceiling, over a thousand calls failed instead of a hundred).
So the SIP layer watches how late its event loop runs and how full the SIP socket's receive
buffer is (the pj thread falls behind there first: at 550 calls/s the buffer filled while the
loop idled): from ``enter_s`` late or ``backlog_enter`` full it refuses new calls with
``503 Service Unavailable`` and ``Retry-After`` (a proxy such as Kamailio's
dispatcher sends them to another node; a carrier retries), and it takes them again once the
loop has been under ``leave_s`` and the buffer under ``backlog_leave`` for ``calm_samples``
samples in a row. Calls already up are
never touched. (Asterisk's ``maxload``, FreeSWITCH's ``sessions-per-second``, Kamailio's
``pike`` do the same with fixed limits; a lag needs no tuning per machine.)

:class:`LagDetector` is the pure decision; :class:`LoopWatch` measures and tells the
:class:`~callcenter.voice.sip.admission.Admission`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from callcenter.voice.sip.admission import Admission

log = logging.getLogger(__name__)


@dataclass
class LagDetector:
    """Overloaded from an event-loop lag of ``enter_s`` or a SIP socket ``backlog_enter`` full
    (the pj thread not reading fast enough); calm again after ``calm_samples`` samples in a row
    under ``leave_s`` and ``backlog_leave`` (hysteresis, so that the state does not flap)."""

    enter_s: float = 0.25
    leave_s: float = 0.05
    calm_samples: int = 5
    backlog_enter: float = 0.5
    backlog_leave: float = 0.05
    overloaded: bool = False
    _calm: int = 0

    def observe(self, lag_s: float, backlog: float = 0.0) -> bool | None:
        """Feed one sample; True when overload starts, False when it ends, else None."""
        if not self.overloaded:
            if lag_s >= self.enter_s or backlog >= self.backlog_enter:
                self.overloaded, self._calm = True, 0
                return True
            return None
        calm = lag_s < self.leave_s and backlog < self.backlog_leave
        self._calm = self._calm + 1 if calm else 0
        if self._calm >= self.calm_samples:
            self.overloaded = False
            return False
        return None


class LoopWatch:
    """Samples the event loop's lag every ``interval_s`` and sets ``admission.overloaded``."""

    def __init__(
        self,
        admission: Admission,
        detector: LagDetector,
        interval_s: float = 0.05,
        backlog: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.admission = admission
        self.detector = detector
        self.interval_s = interval_s
        self.backlog = backlog  # how full the SIP socket's receive buffer is, 0..1
        self.episodes = 0  # times the engine went into overload
        self._task: asyncio.Task[None] | None = None
        self._since = 0.0
        self._worst = 0.0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sip-loop-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self.admission.overloaded = ""

    async def _run(self) -> None:
        while True:
            asked = time.monotonic()
            await asyncio.sleep(self.interval_s)
            now = time.monotonic()
            self.sample(now - asked - self.interval_s, now, self.backlog())

    def sample(self, lag_s: float, now: float, backlog: float = 0.0) -> None:
        change = self.detector.observe(lag_s, backlog)
        if self.detector.overloaded:
            self._worst = max(self._worst, lag_s)
        if change is True:
            self.episodes += 1
            self._since, self._worst = now, lag_s
            self.admission.overloaded = (
                f"engine overloaded (event loop {lag_s * 1000:.0f} ms late, SIP socket "
                f"{backlog:.0%} full)"
            )
            log.warning(
                "overloaded: the event loop runs %.0f ms late, the SIP socket is %.0f%% full; "
                "new calls get 503 until it catches up (calls up are kept). Add capacity "
                "(another engine node) or lower the offered rate.",
                lag_s * 1000,
                backlog * 100,
            )
        elif change is False:
            refused = self.admission.shed
            self.admission.overloaded, self.admission.shed = "", 0
            log.warning(
                "overload over after %.1f s (worst lag %.0f ms): %d new calls were refused "
                "with 503",
                now - self._since,
                self._worst * 1000,
                refused,
            )
