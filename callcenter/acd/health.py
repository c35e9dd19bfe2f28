"""Self-healing: find what is inconsistent in the router's state and repair it.

Agents stuck "offered" or "busy" until someone restarts the queue module are the defect
users of Asterisk and FreeSWITCH queues report most. Here three mechanisms prevent it:
offers time out on their own (``Router``), the voice layer's view of each phone
(``AgentStateReported``) is reconciled with the router's, and ``Router.check_invariants``
/ ``Router.repair`` check the bookkeeping itself. Every correction is a ``StateRepaired``
action with its reason, so the bus and the database show what was fixed and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._records import AgentRecord, TaskRecord, TaskStatus
from .actions import Action, CancelOffer, StateRepaired
from .events import AgentStateReported
from .model import Channel, ReportedState
from .strategies import Strategy, make_pool
from .waiting import WaitingLine

if TYPE_CHECKING:
    from .router import Router

# An idle report this soon after an offer is a race with the ringing, not a lost offer.
OFFER_REPORT_GRACE_S = 2.0


@dataclass(frozen=True, slots=True)
class Problem:
    subject: str
    description: str


def find_problems(router: Router, now: float) -> list[Problem]:
    problems: list[Problem] = []
    add = problems.append
    tasks = router._tasks
    for agent_id, a in router._agents.items():
        held: dict[Channel, int] = {}
        for t in a.tasks.values():
            held[t.queue.config.channel] = held.get(t.queue.config.channel, 0) + 1
        for channel in set(held) | set(a.load):
            n_held, n_load = held.get(channel, 0), a.load.get(channel, 0)
            if n_held != n_load:
                add(
                    Problem(
                        agent_id,
                        f"agent {agent_id} counts {n_load} {channel} tasks but holds {n_held}",
                    )
                )
            if n_held > a.capacity(channel):
                add(
                    Problem(
                        agent_id,
                        f"agent {agent_id} holds {n_held} {channel} tasks, "
                        f"capacity {a.capacity(channel)}",
                    )
                )
        for t in a.tasks.values():
            if t.status is not TaskStatus.CONNECTED or t.agent is not a:
                add(
                    Problem(
                        agent_id,
                        f"agent {agent_id} holds task {t.task_id} which is {t.status.value}",
                    )
                )
        if a.offer is not None:
            t = a.offer
            if (
                tasks.get(t.task_id) is not t
                or t.status is not TaskStatus.OFFERED
                or (a not in t.offered_to)
            ):
                add(
                    Problem(
                        agent_id,
                        f"agent {agent_id} is offered task {t.task_id} which is not offered to it",
                    )
                )
        free = a.free_channels()
        if set(free) != set(a.pooled):
            add(
                Problem(
                    agent_id,
                    f"agent {agent_id} is pooled for {sorted(a.pooled)} "
                    f"but free for {sorted(free)}",
                )
            )
        for m in a.memberships:
            pooled = m.group.channel in a.pooled
            if (agent_id in m.group.pools[m.penalty]) != pooled:
                add(
                    Problem(
                        agent_id,
                        f"agent {agent_id} pool entry in queue "
                        f"{m.group.queue.name} disagrees with its state",
                    )
                )
        if free and router._best_task_for(a, free, now) is not None:
            add(Problem(agent_id, f"agent {agent_id} is free while a task it may take waits"))
    waiting_by_group: dict[int, int] = {}
    for task_id, t in tasks.items():
        if t.status is TaskStatus.WAITING:
            if t.line_stamp < 0 or t.group is None:
                add(Problem(task_id, f"task {task_id} is waiting but in no line"))
            else:
                waiting_by_group[id(t.group)] = waiting_by_group.get(id(t.group), 0) + 1
        elif t.status is TaskStatus.OFFERED:
            if not t.offered_to:
                add(Problem(task_id, f"task {task_id} is offered to nobody"))
            if len(t.offered_to) > 1 and t.queue.config.strategy is not Strategy.RING_ALL:
                add(Problem(task_id, f"task {task_id} is offered to {len(t.offered_to)} agents"))
            for a in t.offered_to:
                if a.offer is not t:
                    add(
                        Problem(
                            task_id,
                            f"task {task_id} is offered to {a.agent_id} who is not ringing for it",
                        )
                    )
        elif t.status is TaskStatus.CONNECTED and (
            t.agent is None or t.agent.tasks.get(task_id) is not t
        ):
            add(Problem(task_id, f"task {task_id} is connected to no agent holding it"))
    for q in router._queues.values():
        for g in q.groups.values():
            if len(g.line) != waiting_by_group.get(id(g), 0):
                add(
                    Problem(
                        q.name,
                        f"queue {q.name} line counts {len(g.line)} waiting "
                        f"but {waiting_by_group.get(id(g), 0)} tasks wait",
                    )
                )
    return problems


def repair(router: Router, now: float, out: list[Action]) -> None:
    """Rebuild derived state from the task records, which are the reference."""
    problems = find_problems(router, now)
    if not problems:
        return
    for p in problems:
        out.append(StateRepaired(p.subject, p.description))
    tasks = router._tasks
    # 1. Agents' holdings follow the connected tasks.
    for a in router._agents.values():
        a.tasks = {
            t.task_id: t
            for t in tasks.values()
            if t.status is TaskStatus.CONNECTED and t.agent is a
        }
        a.load = {}
        for t in a.tasks.values():
            ch = t.queue.config.channel
            a.load[ch] = a.load.get(ch, 0) + 1
        router._touch(a, "state repaired")
    # 2. Offers must be mutual; a connected task whose agent lost it goes back to its place.
    orphans = []
    for t in tasks.values():
        if t.status is TaskStatus.CONNECTED and (t.agent is None or t.task_id not in t.agent.tasks):
            t.agent = None
            orphans.append(t)
        if t.status is TaskStatus.OFFERED:
            t.offered_to = [a for a in t.offered_to if a.offer is t]
            if not t.offered_to:
                orphans.append(t)
    for a in router._agents.values():
        offer = a.offer
        if offer is not None and (
            tasks.get(offer.task_id) is not offer
            or offer.status is not TaskStatus.OFFERED
            or a not in offer.offered_to
        ):
            a.offer = None
            out.append(CancelOffer(offer.task_id, a.agent_id, "offer repaired away"))
    # 3. Lines and pools are rebuilt from scratch, then every free agent is settled.
    for q in router._queues.values():
        for g in q.groups.values():
            g.line = WaitingLine(q.config.age_rate)
            for penalty in list(g.pools):
                g.pools[penalty] = make_pool(q.config.strategy, q.rng, q.rr_memory)
    for a in router._agents.values():
        a.pooled = ()
    for t in sorted(tasks.values(), key=lambda t: t.seq):
        if t.status is TaskStatus.WAITING:
            assert t.group is not None
            t.group.line.push(t)
    for t in orphans:
        t.status = TaskStatus.WAITING
        router._enqueue(t, now, out)
    for agent_id in sorted(router._agents):
        router._settle(router._agents[agent_id], now, out)


def reconcile_report(router: Router, e: AgentStateReported, now: float, out: list[Action]) -> None:
    """Make the router agree with what the voice layer says the agent's phone is doing."""
    a = router._agent(e.agent_id)
    voice_tasks = [t for t in a.tasks.values() if t.queue.config.channel is Channel.VOICE]
    offer = a.offer if a.offer and a.offer.queue.config.channel is Channel.VOICE else None
    match e.state:
        case ReportedState.OFFLINE:
            if not a.logged_in:
                return
            for t in voice_tasks:
                _complete_unseen(router, a, t, "the phone went offline during the call", now, out)
            out.append(StateRepaired(a.agent_id, "the phone is offline: agent logged out"))
            router._logged_out(a, now, out)
        case ReportedState.IDLE:
            for t in voice_tasks:
                _complete_unseen(router, a, t, "the phone is idle: the call ended unseen", now, out)
            if offer is not None and now - offer.offered_at >= OFFER_REPORT_GRACE_S:
                out.append(
                    StateRepaired(
                        a.agent_id,
                        f"the phone is idle while offered task {offer.task_id}: offer reclaimed",
                    )
                )
                router._withdraw_offer(a, "the phone is not ringing", now, out)
            if a.external_busy:
                a.external_busy = False
                router._touch(a, "the phone is idle again")
            router._settle(a, now, out)
        case ReportedState.IN_CALL:
            if offer is not None and e.task_id == offer.task_id:
                out.append(
                    StateRepaired(
                        offer.task_id,
                        "the agent answered but the answer was not reported: connected",
                    )
                )
                router._offer_accepted(offer.task_id, a, now, out)
            elif not voice_tasks and not a.external_busy and a.logged_in:
                a.external_busy = True
                router._unpool(a)
                if a.offer is not None:
                    router._withdraw_offer(a, "the agent is on another call", now, out)
                router._touch(a, "busy on a call the ACD did not route")
        case ReportedState.RINGING:
            pass


def _complete_unseen(
    router: Router, a: AgentRecord, task: TaskRecord, reason: str, now: float, out: list[Action]
) -> None:
    out.append(StateRepaired(task.task_id, f"{reason}; task completed"))
    router._release(task, now)
    router._end(task)
