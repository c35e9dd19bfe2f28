"""ACD routing benchmark: our indexed router against a naive scan router, same run.

Setup: 10,000 agents in 20 queues (2-3 queues each, penalty tiers 0/1, language skills
with levels), 100,000 waiting tasks with priorities 0-3 and, for a quarter of them, an
extra skill requirement. Every agent is busy; the measured loop is the steady state of a
busy contact center: a random agent completes its task (the router picks the next task
for that agent: one routing decision), the agent accepts the offer, and a new task
arrives so the line stays at 100,000.

Printed: routing decisions per second (decisions / time spent in the ``handle`` calls
that made them), p50/p99 latency of those calls, and the throughput of the whole loop
(completions, accepts, arrivals and the driver itself included).
The naive router decides the same way (queue membership, skills, priority, then age,
longest-idle agent) by scanning every waiting task or every agent at each decision.

Run:  .venv/bin/python bench/acd_bench.py  [--agents 10000 --tasks 100000 --decisions 50000]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from dataclasses import dataclass, field

from callcenter.acd import (
    AgentLoggedIn,
    AgentProfile,
    OfferAccepted,
    OfferTask,
    QueueConfig,
    Router,
    Strategy,
    TaskArrived,
    TaskCompleted,
)

LANGS = ["en", "fr", "de", "es", "it"]
N_QUEUES = 20


def build_config(n_agents: int, rng: random.Random) -> tuple[list[QueueConfig], list[AgentProfile]]:
    queues = [
        QueueConfig(
            name=f"q{i}",
            strategy=Strategy.LONGEST_IDLE,
            required_skills={LANGS[i % len(LANGS)]: 1},
            priority=i % 3,
        )
        for i in range(N_QUEUES)
    ]
    agents = []
    for a in range(n_agents):
        qs = rng.sample(range(N_QUEUES), rng.choice([2, 3]))
        skills = {LANGS[q % len(LANGS)]: rng.randint(1, 5) for q in qs}
        if rng.random() < 0.5:
            skills["billing"] = rng.randint(1, 3)
        agents.append(
            AgentProfile(
                agent_id=f"a{a}",
                queues={f"q{q}": rng.choice([0, 0, 1]) for q in qs},
                skills=skills,
                max_no_answers=0,
            )
        )
    return queues, agents


def new_task(i: int, rng: random.Random) -> TaskArrived:
    extra = {"billing": rng.randint(1, 2)} if rng.random() < 0.25 else {}
    return TaskArrived(f"t{i}", f"q{rng.randrange(N_QUEUES)}", rng.randint(0, 3), extra)


# ---------------------------------------------------------------------- naive baseline
@dataclass
class NaiveAgent:
    profile: AgentProfile
    idle_since: float = 0.0
    task: str | None = None
    offered: str | None = None


@dataclass
class NaiveRouter:
    """Decides like Router (without tiers/timers) by scanning lists: O(n) per decision."""

    queues: dict[str, QueueConfig]
    agents: dict[str, NaiveAgent] = field(default_factory=dict)
    waiting: list[tuple[TaskArrived, float, int]] = field(default_factory=list)
    seq: int = 0

    def _eligible(self, a: NaiveAgent, t: TaskArrived) -> bool:
        q = self.queues[t.queue]
        if t.queue not in a.profile.queues:
            return False
        need = dict(q.required_skills)
        for k, v in t.skills.items():
            need[k] = max(need.get(k, 0), v)
        return a.profile.has_skills(need.items())

    def _free(self, a: NaiveAgent, now: float) -> list[OfferTask]:
        best = None
        best_key = None
        for i, (t, enq, seq) in enumerate(self.waiting):
            if self._eligible(a, t):
                key = (-self.queues[t.queue].priority, -t.priority, enq, seq)
                if best_key is None or key < best_key:
                    best, best_key = i, key
        if best is None:
            a.idle_since = now
            return []
        t, _, _ = self.waiting.pop(best)
        a.offered = t.task_id
        return [OfferTask(t.task_id, a.profile.agent_id, t.queue, 1e9)]

    def login(self, profile: AgentProfile, now: float) -> None:
        self.agents[profile.agent_id] = NaiveAgent(profile, now)

    def arrive(self, t: TaskArrived, now: float) -> list[OfferTask]:
        best = None
        for a in self.agents.values():
            if (
                a.task is None
                and a.offered is None
                and self._eligible(a, t)
                and (best is None or a.idle_since < best.idle_since)
            ):
                best = a
        if best is None:
            self.seq += 1
            self.waiting.append((t, now, self.seq))
            return []
        best.offered = t.task_id
        return [OfferTask(t.task_id, best.profile.agent_id, t.queue, 1e9)]

    def accept(self, task_id: str, agent_id: str) -> None:
        a = self.agents[agent_id]
        a.offered, a.task = None, task_id

    def complete(self, agent_id: str, now: float) -> list[OfferTask]:
        a = self.agents[agent_id]
        a.task = None
        return self._free(a, now)


# ---------------------------------------------------------------------- driver
def run_router(n_agents: int, n_tasks: int, decisions: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    queues, agents = build_config(n_agents, rng)
    router = Router(queues, agents, seed=seed)
    now = 0.0
    busy: dict[str, str] = {}  # agent -> task
    for p in agents:
        router.handle(AgentLoggedIn(p.agent_id), now)
    i = 0
    while len(busy) < n_agents * 0.98 or i < n_tasks + n_agents:
        now += 0.001
        for act in router.handle(new_task(i, rng), now):
            if isinstance(act, OfferTask):
                router.handle(OfferAccepted(act.task_id, act.agent_id), now)
                busy[act.agent_id] = act.task_id
        i += 1
        if i > 3 * (n_tasks + n_agents):
            break
    waiting_at_start = sum(router.queue_stats(q.name, now).waiting for q in queues)
    gc.collect()
    gc.freeze()  # the long-lived set-up objects leave the collector's generations
    busy_agents = list(busy)
    latencies: list[int] = []
    made = 0
    t0 = time.perf_counter()
    while made < decisions:
        now += 0.001
        agent_id = busy_agents[rng.randrange(len(busy_agents))]
        task_id = busy.pop(agent_id, None)
        if task_id is None:
            continue
        s = time.perf_counter_ns()
        actions = router.handle(TaskCompleted(task_id), now)
        latency = time.perf_counter_ns() - s
        for act in actions:
            if isinstance(act, OfferTask):
                made += 1
                latencies.append(latency)
                router.handle(OfferAccepted(act.task_id, act.agent_id), now)
                busy[act.agent_id] = act.task_id
        router.handle(new_task(i, rng), now)
        i += 1
    elapsed = time.perf_counter() - t0
    problems = router.check_invariants() if n_agents <= 2000 else []
    return _summary(made, elapsed, latencies, waiting_at_start, bool(problems))


def run_naive(n_agents: int, n_tasks: int, decisions: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    queues, agents = build_config(n_agents, rng)
    naive = NaiveRouter({q.name: q for q in queues})
    now = 0.0
    busy: dict[str, str] = {}
    for p in agents:
        naive.login(p, now)
    i = 0
    while len(busy) < n_agents * 0.98 or i < n_tasks + n_agents:
        now += 0.001
        for act in naive.arrive(new_task(i, rng), now):
            naive.accept(act.task_id, act.agent_id)
            busy[act.agent_id] = act.task_id
        i += 1
        if i > 3 * (n_tasks + n_agents):
            break
    waiting_at_start = len(naive.waiting)
    gc.collect()
    gc.freeze()
    busy_agents = list(busy)
    latencies: list[int] = []
    made = 0
    t0 = time.perf_counter()
    while made < decisions:
        now += 0.001
        agent_id = busy_agents[rng.randrange(len(busy_agents))]
        if busy.pop(agent_id, None) is None:
            continue
        s = time.perf_counter_ns()
        actions = naive.complete(agent_id, now)
        latency = time.perf_counter_ns() - s
        for act in actions:
            made += 1
            latencies.append(latency)
            naive.accept(act.task_id, act.agent_id)
            busy[act.agent_id] = act.task_id
        naive.arrive(new_task(i, rng), now)
        i += 1
    elapsed = time.perf_counter() - t0
    return _summary(made, elapsed, latencies, waiting_at_start, False)


def _summary(
    made: int, elapsed: float, latencies: list[int], waiting: int, broken: bool
) -> dict[str, float]:
    lat = sorted(latencies)
    return {
        "decisions": made,
        "per_s": made / (sum(lat) / 1e9),
        "loop_per_s": made / elapsed,
        "p50_us": lat[len(lat) // 2] / 1000,
        "p99_us": lat[min(len(lat) - 1, int(len(lat) * 0.99))] / 1000,
        "mean_us": statistics.fmean(lat) / 1000,
        "waiting": waiting,
        "broken": broken,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=10_000)
    ap.add_argument("--tasks", type=int, default=100_000)
    ap.add_argument("--decisions", type=int, default=50_000)
    ap.add_argument("--naive-decisions", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print("command:", " ".join([".venv/bin/python", *sys.argv]))
    print(f"setup: {args.agents} agents, {args.tasks} waiting tasks, {N_QUEUES} queues")
    for name, fn, n in (
        ("router", run_router, args.decisions),
        ("naive scan", run_naive, args.naive_decisions),
    ):
        r = fn(args.agents, args.tasks, n, args.seed)
        print(
            f"{name:>10}: {r['decisions']:>6} decisions, {r['per_s']:>10,.0f} decisions/s, "
            f"p50 {r['p50_us']:>9.1f} us, p99 {r['p99_us']:>9.1f} us, "
            f"loop with accepts and arrivals {r['loop_per_s']:>9,.0f} decisions/s "
            f"(waiting at start {r['waiting']:,})"
        )


if __name__ == "__main__":
    main()
