"""Live statistics per queue and per agent, as published on the bus and stored.

Definitions (the operator doc repeats them):

- ``offered``: tasks that entered the queue (arrivals, transfers and overflows in).
- ``service_level_pct``: answered within the threshold / (answered + abandoned after the
  threshold); abandons inside the threshold are left out, as most contact centers report.
- ``asa_s``: average wait of answered tasks, from their first enqueue.
- ``aht_s``: average talk + wrap-up time of completed tasks.
- ``abandon_pct``: abandoned / (answered + abandoned).
- ``occupancy_pct`` (agent): time busy or in wrap-up / time logged in.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class QueueStats:
    queue: str
    waiting: int
    longest_wait_s: float
    offered: int
    answered: int
    abandoned: int
    overflowed: int
    service_level_pct: float
    asa_s: float
    aht_s: float
    abandon_pct: float
    agents_staffed: int


@dataclass(frozen=True, slots=True)
class AgentStats:
    agent_id: str
    state: str
    tasks: int
    talk_time_s: float
    idle_since: float | None
    occupancy_pct: float
    no_answers: int
    #: Seconds since the agent's oldest task in progress was connected (None when none is).
    busy_for_s: float | None = None
    #: Seconds the agent has been in wrap-up (None when not in wrap-up).
    wrap_for_s: float | None = None
    #: The wrap-up time that applies to the agent's current or last queue.
    wrap_up_s: float | None = None


@dataclass(slots=True)
class QueueCounters:
    """Running totals of one queue; ``handle_ewma_s`` feeds the wait estimate."""

    sl_threshold_s: float
    handle_ewma_s: float
    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    abandoned_after_sl: int = 0
    overflowed: int = 0
    wait_answered_s: float = 0.0
    completed: int = 0
    talk_s: float = 0.0
    wrap_s: float = 0.0

    # Weight of the newest handle time in the moving average: ~ the last 100 tasks. A
    # shorter memory tracks changes faster but overestimates waits: a run of long calls
    # both raises the average and lengthens the line it is announced to.
    EWMA_ALPHA = 0.01

    def record_answer(self, waited_s: float) -> None:
        self.answered += 1
        self.wait_answered_s += waited_s
        if waited_s <= self.sl_threshold_s:
            self.answered_in_sl += 1

    def record_abandon(self, waited_s: float) -> None:
        self.abandoned += 1
        if waited_s > self.sl_threshold_s:
            self.abandoned_after_sl += 1

    def record_completion(self, talk_s: float, expected_wrap_s: float) -> None:
        self.completed += 1
        self.talk_s += talk_s
        a = self.EWMA_ALPHA
        self.handle_ewma_s = (1 - a) * self.handle_ewma_s + a * (talk_s + expected_wrap_s)

    def snapshot(
        self, queue: str, waiting: int, longest_wait_s: float, agents_staffed: int
    ) -> QueueStats:
        sl_base = self.answered + self.abandoned_after_sl
        ended = self.answered + self.abandoned
        return QueueStats(
            queue=queue,
            waiting=waiting,
            longest_wait_s=longest_wait_s,
            offered=self.offered,
            answered=self.answered,
            abandoned=self.abandoned,
            overflowed=self.overflowed,
            service_level_pct=100.0 * self.answered_in_sl / sl_base if sl_base else 100.0,
            asa_s=self.wait_answered_s / self.answered if self.answered else 0.0,
            aht_s=(self.talk_s + self.wrap_s) / self.completed if self.completed else 0.0,
            abandon_pct=100.0 * self.abandoned / ended if ended else 0.0,
            agents_staffed=agents_staffed,
        )


@dataclass(slots=True)
class AgentCounters:
    tasks: int = 0
    talk_s: float = 0.0
    wrap_s: float = 0.0
    logged_in_s: float = 0.0
    logged_in_since: float | None = None
    no_answers: int = 0

    def occupancy_pct(self, now: float, busy_now_s: float = 0.0) -> float:
        logged = self.logged_in_s
        if self.logged_in_since is not None:
            logged += now - self.logged_in_since
        if logged <= 0:
            return 0.0
        return min(100.0, 100.0 * (self.talk_s + self.wrap_s + busy_now_s) / logged)
