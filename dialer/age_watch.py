"""What a pacer learns across snapshots when the dialer keeps a figure to itself.

Between two snapshots ``dt`` apart, an agent still talking (or in wrap-up), or a line still
ringing, shows an age exactly ``dt`` older; an age with no such successor belongs to one that
ended in between, about ``dt / 2`` after it was last seen. Ages are matched, not counted from
the campaign's counters, so what is learned holds whatever an outsider counts as answered.
Ones that start and end between two snapshots are missed; a clock that stands still or goes
back teaches nothing. Pure.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


class AgeTracker:
    """The ages of one state at the last snapshot, and which of them ended since."""

    def __init__(self) -> None:
        self._now: float | None = None
        self._ages: FloatArray = np.zeros(0)

    def step(self, now: float | None, ages: FloatArray) -> tuple[FloatArray, float] | None:
        """(last ages of the ones that ended, ``dt``), or None when nothing can be learned."""
        ended = None
        if now is not None and self._now is not None and now > self._now:
            dt = now - self._now
            ended = _unmatched(self._ages + dt, np.sort(ages), tol=0.05 + 0.01 * dt) - dt, dt
        self._now, self._ages = now, np.sort(ages)
        return ended


class DurationWatch:
    """Durations of one agent state (talk, wrap-up), for a dialer that gives no mean."""

    def __init__(self) -> None:
        self._ages = AgeTracker()
        self.ended = 0
        self.total = 0.0

    def update(self, now: float | None, ages: FloatArray) -> None:
        if (step := self._ages.step(now, ages)) is not None:
            last, dt = step
            self.ended += last.size
            self.total += float(last.sum()) + last.size * dt / 2

    def mean(self) -> float | None:
        return self.total / self.ended if self.ended else None


class RingWatch:
    """Ring times of answered calls, for a dialer that gives none: of the ringing calls gone
    since the last snapshot, as many as the answered counters rose by are taken as answered,
    the youngest first (unanswered calls ring to the end)."""

    def __init__(self) -> None:
        self._ages = AgeTracker()
        self._answered = 0
        self._seen: deque[float] = deque(maxlen=1000)

    def update(self, now: float | None, ages: FloatArray, answered: int) -> None:
        if (step := self._ages.step(now, ages)) is not None:
            last, dt = step
            k = min(max(answered - self._answered, 0), last.size)
            self._seen.extend(np.maximum(last[:k] + dt / 2, 0.0).tolist())
        self._answered = answered

    def sample(self) -> FloatArray:
        return np.array(self._seen, dtype=np.float64)


def _unmatched(expected: FloatArray, seen: FloatArray, tol: float) -> FloatArray:
    """The items of sorted ``expected`` with no item of sorted ``seen`` within ``tol``."""
    out: list[float] = []
    j = 0
    for x in expected:
        while j < seen.size and seen[j] < x - tol:
            j += 1  # a new one (or one that does not match any)
        if j < seen.size and seen[j] <= x + tol:
            j += 1
        else:
            out.append(float(x))
    return np.array(out, dtype=np.float64)
