"""The announced wait estimate against the simulated truth.

A queue of 10 agents at ~93 % load (Poisson arrivals, exponential handle times, mean
120 s) runs through the router for 8 simulated hours. Every announcement's estimate is
compared with the wait that caller then actually had until an agent answered.
"""

from __future__ import annotations

import heapq
import itertools
import random
import statistics

import pytest

from callcenter.acd import (
    AgentLoggedIn,
    AgentProfile,
    AnnouncePosition,
    ConnectTask,
    OfferAccepted,
    OfferTask,
    QueueConfig,
    Router,
    TaskArrived,
    TaskCompleted,
    Tick,
    estimate_wait,
)

AGENTS = 10
AHT = 120.0


def simulate(seed: int, hours: float = 8.0) -> list[tuple[float, float, int]]:
    """(estimate, true remaining wait, position) for every announcement answered."""
    rng = random.Random(seed)
    q = QueueConfig("q", announce_every_s=30, expected_handle_s=AHT)
    router = Router([q], [AgentProfile(f"a{i}", {"q": 0}) for i in range(AGENTS)])
    seq = itertools.count()
    events: list[tuple[float, int, object]] = []
    for i in range(AGENTS):
        router.handle(AgentLoggedIn(f"a{i}"), 0.0)
    t, n = 0.0, 0
    rate = 0.93 * AGENTS / AHT
    while t < hours * 3600:
        t += rng.expovariate(rate)
        n += 1
        events.append((t, next(seq), TaskArrived(f"c{n}", "q")))
    heapq.heapify(events)
    announced: dict[str, list[tuple[float, float, int]]] = {}
    samples: list[tuple[float, float, int]] = []
    while events:
        now, _, event = heapq.heappop(events)
        for act in router.handle(event, now):  # type: ignore[arg-type]
            if isinstance(act, OfferTask):
                heapq.heappush(events, (now, next(seq), OfferAccepted(act.task_id, act.agent_id)))
            elif isinstance(act, ConnectTask):
                done = now + rng.expovariate(1 / AHT)
                heapq.heappush(events, (done, next(seq), TaskCompleted(act.task_id)))
                for at, est, pos in announced.pop(act.task_id, []):
                    samples.append((est, now - at, pos))
            elif isinstance(act, AnnouncePosition) and act.estimated_wait_s is not None:
                announced.setdefault(act.task_id, []).append(
                    (now, act.estimated_wait_s, act.position)
                )
        deadline = router.next_deadline()
        if deadline is not None and (not events or deadline < events[0][0]):
            heapq.heappush(events, (deadline, next(seq), Tick()))
    return samples


@pytest.fixture(scope="module")
def samples() -> list[tuple[float, float, int]]:
    return simulate(seed=7)


def test_estimate_formula() -> None:
    assert estimate_wait(3, 120.0, 4) == 90.0
    assert estimate_wait(0, 120.0, 4) == 0.0
    assert estimate_wait(2, 120.0, 0) is None


def test_estimate_is_unbiased_and_error_is_bounded(samples: list[tuple[float, float, int]]) -> None:
    assert len(samples) > 2000
    est = [s[0] for s in samples]
    true = [s[1] for s in samples]
    mean_true = statistics.fmean(true)
    bias = (statistics.fmean(est) - mean_true) / mean_true
    mae = statistics.fmean(abs(e - w) for e, w, _ in samples)
    # Measured (seed 7): bias +7 % (the estimate errs long), mean absolute error 27 % of
    # the mean wait; see docs/acd.md. Bounds leave room for other seeds (+8 %/26 %, +9 %/33 %).
    assert abs(bias) < 0.15, bias
    assert mae / mean_true < 0.40, mae / mean_true
    # The estimate must beat the naive guess "everyone waits the average".
    naive_mae = statistics.fmean(abs(mean_true - w) for w in true)
    assert mae < 0.85 * naive_mae


def test_error_shrinks_with_position(samples: list[tuple[float, float, int]]) -> None:
    def rel_mae(lo: int, hi: int) -> float:
        sel = [(e, w) for e, w, p in samples if lo <= p <= hi]
        return statistics.fmean(abs(e - w) for e, w in sel) / statistics.fmean(w for _, w in sel)

    assert rel_mae(8, 100) < rel_mae(1, 2)
