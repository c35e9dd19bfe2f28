"""Replay a recorded event log through the router under a chosen strategy.

The log is JSON Lines, one object per line, in time order. ``t`` is seconds (any
origin), ``type`` names the event, the other keys are the event's fields::

    {"type": "Config", "queues": [{"name": "sales", "wrap_up_s": 10}],
     "agents": [{"agent_id": "ann", "queues": {"sales": 0}, "skills": {"fr": 2}}]}
    {"t": 0.0, "type": "AgentLoggedIn", "agent_id": "ann"}
    {"t": 4.2, "type": "TaskArrived", "task_id": "c1", "queue": "sales", "handle_s": 185}
    {"t": 30.0, "type": "TaskAbandoned", "task_id": "c2"}

The first line may be a ``Config`` (queue and agent configuration; keys as in
``QueueConfig`` and ``AgentProfile``). What the customers and agents did independently of
routing is replayed as recorded: arrivals, hang-ups (applied only if the caller is still
waiting), callback requests, log-ins, log-outs, pauses. What depends on routing is
simulated: an offered agent answers after ``answer_delay_s`` and the call lasts its
``handle_s`` (from the arrival line, else from the recorded ``OfferAccepted`` and
``TaskCompleted`` lines of that task, else the queue's ``expected_handle_s``). So the same
log gives comparable service level, ASA and abandon figures under each strategy.
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from .actions import ConnectTask, OfferTask
from .errors import ACDConfigError
from .events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPaused,
    AgentReady,
    CallbackRequested,
    Event,
    OfferAccepted,
    TaskAbandoned,
    TaskArrived,
    TaskCompleted,
    TaskTransferred,
    Tick,
)
from .model import AgentProfile, Channel, OverflowKind, OverflowTarget, PenaltyRule, QueueConfig
from .router import Router
from .strategies import Strategy

_REPLAYED: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        TaskArrived,
        TaskAbandoned,
        CallbackRequested,
        TaskTransferred,
        AgentLoggedIn,
        AgentLoggedOut,
        AgentPaused,
        AgentReady,
    )
}


class ReplayError(ACDConfigError):
    """A line of the event log cannot be read."""


@dataclass(frozen=True, slots=True)
class ReplayReport:
    strategy: str
    offered: int
    answered: int
    abandoned: int
    overflowed: int
    service_level_pct: float
    asa_s: float
    abandon_pct: float

    def format(self) -> str:
        return (
            f"strategy {self.strategy}: {self.offered} tasks, {self.answered} answered, "
            f"{self.abandoned} abandoned, {self.overflowed} overflowed\n"
            f"service level {self.service_level_pct:.1f} %  ASA {self.asa_s:.1f} s  "
            f"abandon {self.abandon_pct:.1f} %"
        )


@dataclass(frozen=True, slots=True)
class EventLog:
    queues: list[QueueConfig]
    agents: list[AgentProfile]
    events: list[tuple[float, Event]]
    handle_s: dict[str, float]


def _queue_config(raw: dict[str, Any]) -> QueueConfig:
    data = dict(raw)
    if "strategy" in data:
        data["strategy"] = Strategy.parse(data["strategy"])
    if "channel" in data:
        data["channel"] = Channel(data["channel"])
    if "overflow" in data and data["overflow"] is not None:
        o = data["overflow"]
        data["overflow"] = OverflowTarget(OverflowKind(o["kind"]), o.get("queue"))
    if "penalty_rules" in data:
        data["penalty_rules"] = tuple(PenaltyRule(**r) for r in data["penalty_rules"])
    return QueueConfig(**data)


def _agent_profile(raw: dict[str, Any]) -> AgentProfile:
    data = dict(raw)
    if "capacity" in data:
        data["capacity"] = {Channel(k): v for k, v in data["capacity"].items()}
    return AgentProfile(**data)


def read_log(lines: Iterable[str], source: str = "<log>") -> EventLog:
    queues: list[QueueConfig] = []
    agents: list[AgentProfile] = []
    events: list[tuple[float, Event]] = []
    accepted_at: dict[str, float] = {}
    handle_s: dict[str, float] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            raw = json.loads(line)
            kind = raw.pop("type")
            if kind == "Config":
                queues = [_queue_config(q) for q in raw.get("queues", [])]
                agents = [_agent_profile(a) for a in raw.get("agents", [])]
                continue
            t = float(raw.pop("t"))
            if kind == "TaskArrived" and "handle_s" in raw:
                handle_s[raw["task_id"]] = float(raw.pop("handle_s"))
            if kind == "OfferAccepted":
                accepted_at[raw["task_id"]] = t
                continue
            if kind == "TaskCompleted":
                if raw["task_id"] in accepted_at:
                    handle_s.setdefault(raw["task_id"], t - accepted_at[raw["task_id"]])
                continue
            cls = _REPLAYED.get(kind)
            if cls is None:
                continue  # routing outcomes of the recorded run: simulated instead
            names = {f.name for f in fields(cls)}
            unknown = set(raw) - names
            if unknown:
                raise ValueError(f"unknown fields {sorted(unknown)} for {kind}")
            events.append((t, cls(**raw)))
        except (ValueError, KeyError, TypeError) as exc:
            raise ReplayError(where, f"cannot read the event: {exc}", "see docs/acd.md") from exc
    if not queues:
        raise ReplayError(source, "no Config line with queues", "start the log with a Config")
    return EventLog(queues, agents, events, handle_s)


def load_log(path: str | Path) -> EventLog:
    with open(path, encoding="utf-8") as fh:
        return read_log(fh, str(path))


def replay(
    log: EventLog,
    strategy: Strategy | None = None,
    *,
    answer_delay_s: float = 3.0,
    seed: int = 0,
) -> ReplayReport:
    """Run ``log`` through a router whose queues all use ``strategy`` (None: as configured)."""
    queues = [replace(q, strategy=strategy) if strategy else q for q in log.queues]
    router = Router(queues, log.agents, seed=seed)
    expected = {q.name: q.expected_handle_s for q in queues}
    task_queue: dict[str, str] = {}
    seq = itertools.count()
    pending: list[tuple[float, int, Event]] = [(t, next(seq), e) for t, e in log.events]
    heapq.heapify(pending)
    ticks: set[float] = set()
    while pending:
        t, _, event = heapq.heappop(pending)
        if isinstance(event, Tick):
            ticks.discard(t)
        if isinstance(event, TaskArrived):
            task_queue[event.task_id] = event.queue
        for action in router.handle(event, t):
            if isinstance(action, OfferTask):
                accept = OfferAccepted(action.task_id, action.agent_id)
                heapq.heappush(pending, (t + answer_delay_s, next(seq), accept))
            elif isinstance(action, ConnectTask):
                length = log.handle_s.get(action.task_id, expected[action.queue])
                done = TaskCompleted(action.task_id)
                heapq.heappush(pending, (t + length, next(seq), done))
        deadline = router.next_deadline()
        if deadline is not None and deadline not in ticks:
            ticks.add(deadline)
            heapq.heappush(pending, (deadline, next(seq), Tick()))
    return _report(router, queues, strategy, t if log.events else 0.0)


def _report(
    router: Router, queues: list[QueueConfig], strategy: Strategy | None, now: float
) -> ReplayReport:
    stats = [router.queue_stats(q.name, now) for q in queues]
    offered = sum(s.offered for s in stats)
    answered = sum(s.answered for s in stats)
    abandoned = sum(s.abandoned for s in stats)
    overflowed = sum(s.overflowed for s in stats)
    counters = [router._queues[q.name].counters for q in queues]
    in_sl = sum(c.answered_in_sl for c in counters)
    sl_base = answered + sum(c.abandoned_after_sl for c in counters)
    wait = sum(c.wait_answered_s for c in counters)
    ended = answered + abandoned
    return ReplayReport(
        strategy=strategy.value if strategy else "as configured",
        offered=offered,
        answered=answered,
        abandoned=abandoned,
        overflowed=overflowed,
        service_level_pct=100.0 * in_sl / sl_base if sl_base else 100.0,
        asa_s=wait / answered if answered else 0.0,
        abandon_pct=100.0 * abandoned / ended if ended else 0.0,
    )
