"""The waiting line of one skill group: tasks ordered by effective priority, then age.

Priority ageing keeps the heap valid without re-keying. A task's effective priority at
time ``now`` is ``priority + age_rate * (now - enqueued_at)``. Ordering by it, highest
first, is ordering by ``priority - age_rate * enqueued_at``: the ``age_rate * now`` term
is the same for every task of the queue, so it does not change the order as time passes.
The heap key is therefore ``age_rate * enqueued_at - priority`` (smallest first), then
``enqueued_at`` and the arrival sequence: FIFO among equal priorities, in O(log n).

A second heap orders the same tasks purely by age: it answers "longest wait" and gives
agents on widened penalty tiers the oldest task that has reached their tier.

Removal is lazy: a task leaves by bumping its ``line_stamp``; stale entries are dropped
when they reach the top, and the heaps are compacted when stale entries dominate.
"""

from __future__ import annotations

import heapq
import itertools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._records import TaskRecord

_Entry = tuple[float, float, int, int, "TaskRecord"]
_AgeEntry = tuple[float, int, int, "TaskRecord"]

# One counter for every line: a stamp identifies one stay of one task in one line, so an
# entry left behind in another line never matches the task's current stamp.
_stamps = itertools.count(1)


class WaitingLine:
    __slots__ = ("age_rate", "_heap", "_by_age", "_live")

    def __init__(self, age_rate: float) -> None:
        self.age_rate = age_rate
        self._heap: list[_Entry] = []
        self._by_age: list[_AgeEntry] = []
        self._live = 0

    def __len__(self) -> int:
        return self._live

    def push(self, task: TaskRecord) -> None:
        stamp = next(_stamps)
        task.line_stamp = stamp
        enq = task.enqueued_at
        heapq.heappush(
            self._heap, (self.age_rate * enq - task.priority, enq, task.seq, stamp, task)
        )
        heapq.heappush(self._by_age, (enq, task.seq, stamp, task))
        self._live += 1
        if len(self._heap) > 3 * self._live + 1024 or len(self._by_age) > 3 * self._live + 1024:
            self._compact()

    def discard(self, task: TaskRecord) -> None:
        """Take ``task`` out of the line (it must be in it)."""
        task.line_stamp = -1
        self._live -= 1
        # Served tasks are usually the oldest: dropping stale tops here keeps the age heap
        # near its live size without waiting for a compaction.
        by_age = self._by_age
        while by_age and by_age[0][3].line_stamp != by_age[0][2]:
            heapq.heappop(by_age)

    def head(self) -> TaskRecord | None:
        """The task to serve first, without removing it."""
        heap = self._heap
        while heap:
            entry = heap[0]
            if entry[4].line_stamp == entry[3]:
                return entry[4]
            heapq.heappop(heap)
        return None

    def oldest(self) -> TaskRecord | None:
        """The task that has waited longest, without removing it."""
        heap = self._by_age
        while heap:
            entry = heap[0]
            if entry[3].line_stamp == entry[2]:
                return entry[3]
            heapq.heappop(heap)
        return None

    def tasks(self) -> list[TaskRecord]:
        """Every waiting task, in serving order (O(n log n): for announcements and checks)."""
        live = [e for e in self._heap if e[4].line_stamp == e[3]]
        live.sort(key=lambda e: e[:3])
        return [e[4] for e in live]

    def _compact(self) -> None:
        self._heap = [e for e in self._heap if e[4].line_stamp == e[3]]
        heapq.heapify(self._heap)
        self._by_age = [e for e in self._by_age if e[3].line_stamp == e[2]]
        heapq.heapify(self._by_age)
