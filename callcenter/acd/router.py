"""The ACD router: a deterministic state machine, ``handle(event, now) -> list[Action]``.

It never reads a clock and does no I/O: time comes in as ``now`` and every decision goes
out as an action. Due timers (offer time-outs, end of wrap-up, reject and retry delays,
max wait, tier widening, announcements) fire at the start of each ``handle`` call at the
time they were due; ``next_deadline()`` tells the adapter when to send a ``Tick``.

A decision never scans: waiting tasks sit in per-group heaps (:mod:`.waiting`) and free
agents in per-group, per-tier strategy pools (:mod:`.strategies`). When a task arrives it
takes the pool's choice; when an agent frees it takes the best head among its groups.
So after every ``handle`` no task waits while an agent who may take it is free.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Iterable

from . import health
from ._records import AgentRecord, Group, Membership, QueueRuntime, TaskRecord, TaskStatus
from .actions import (
    Action,
    AgentStateChanged,
    AgentStatsUpdated,
    AnnouncePosition,
    QueueStatsUpdated,
)
from .errors import InvalidEvent, TimeWentBackwards, UnknownAgent, UnknownQueue
from .estimate import estimate_wait
from .events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPaused,
    AgentReady,
    AgentStateReported,
    CallbackRequested,
    Event,
    OfferAccepted,
    OfferRejected,
    OfferTimedOut,
    TaskAbandoned,
    TaskArrived,
    TaskAssigned,
    TaskCompleted,
    TaskTransferred,
    Tick,
    WrapUpEnded,
    WrapUpExtended,
)
from .model import AgentProfile, Channel, QueueConfig, validate_config
from .stats import AgentStats, QueueStats
from .strategies import Strategy
from .tasks import _EPSILON, TaskFlow

_OFFER, _WRAP, _BLOCK, _MAX_WAIT, _TIER, _ANNOUNCE = range(6)


class Router(TaskFlow):
    """Routes tasks of ``queues`` to ``agents``; ``seed`` fixes the random strategies."""

    def __init__(
        self,
        queues: Iterable[QueueConfig],
        agents: Iterable[AgentProfile] = (),
        *,
        seed: int = 0,
    ) -> None:
        queue_list = list(queues)
        agent_list = list(agents)
        validate_config(queue_list, agent_list)
        self._rng = random.Random(seed)
        self._queues = {q.name: QueueRuntime(q, self._rng) for q in queue_list}
        for q in self._queues.values():
            # The group of tasks that need only the queue's own skills always exists.
            required = q.required_with(())
            q.groups[required] = Group(q, required)
        self._agents: dict[str, AgentRecord] = {}
        self._tasks: dict[str, TaskRecord] = {}
        self._timers: list[tuple[float, int, int, object, int]] = []
        self._timer_seq = itertools.count()
        self._task_seq = itertools.count()
        self._now = float("-inf")
        self._touched: dict[AgentRecord, str] = {}
        self._dirty_queues: set[QueueRuntime] = set()
        self._dirty_agents: set[AgentRecord] = set()
        for profile in agent_list:
            self._register(profile)

    # ------------------------------------------------------------------ public surface
    def handle(self, event: Event, now: float) -> list[Action]:
        """Apply ``event`` at time ``now``; return what the adapters must do."""
        if now < self._now:
            raise TimeWentBackwards(self._now, now)
        self._now = now
        out: list[Action] = []
        if self._timers and self._timers[0][0] <= now:
            self._fire_timers(now, out)
        match event:
            case TaskArrived():
                self._task_arrived(event, now, out)
            case TaskAssigned(agent_id=agent_id):
                self._task_assigned(event, self._agent(agent_id), now, out)
            case OfferAccepted(task_id=task_id, agent_id=agent_id):
                self._offer_accepted(task_id, self._agent(agent_id), now, out)
            case TaskCompleted(task_id=task_id):
                self._task_completed(task_id, now, out)
            case OfferRejected(task_id=task_id, agent_id=agent_id):
                self._offer_declined(task_id, self._agent(agent_id), now, out, no_answer=False)
            case OfferTimedOut(task_id=task_id, agent_id=agent_id):
                self._offer_declined(task_id, self._agent(agent_id), now, out, no_answer=True)
            case TaskAbandoned(task_id=task_id):
                self._task_abandoned(task_id, now, out)
            case CallbackRequested(task_id=task_id):
                self._callback_requested(task_id)
            case TaskTransferred(task_id=task_id, queue=queue):
                self._task_transferred(task_id, self._queue(queue), now, out)
            case AgentLoggedIn(agent_id=agent_id, profile=profile):
                self._logged_in(agent_id, profile, now, out)
            case AgentLoggedOut(agent_id=agent_id):
                self._logged_out(self._agent(agent_id), now, out)
            case AgentPaused(agent_id=agent_id, reason=reason):
                self._paused(self._agent(agent_id), reason, now, out)
            case AgentReady(agent_id=agent_id, reason=reason):
                self._ready(self._agent(agent_id), now, out, reason)
            case WrapUpEnded(agent_id=agent_id):
                agent = self._agent(agent_id)
                if agent.wrap_until is not None:
                    self._end_wrap_up(agent, now, out, "wrap-up ended by the agent")
            case WrapUpExtended(agent_id=agent_id, extra_s=extra_s):
                self._extend_wrap_up(self._agent(agent_id), extra_s)
            case AgentStateReported():
                health.reconcile_report(self, event, now, out)
            case Tick():
                self._publish_stats(now, out)
        if self._touched:
            self._announce_agent_states(out)
        return out

    def next_deadline(self) -> float | None:
        """When the next timer falls due: send a ``Tick`` then (None: nothing pending)."""
        return self._timers[0][0] if self._timers else None

    def queue_stats(self, queue: str, now: float) -> QueueStats:
        q = self._queue(queue)
        longest = 0.0
        for g in q.groups.values():
            oldest = g.line.oldest()
            if oldest is not None:
                longest = max(longest, now - oldest.enqueued_at)
        staffed = sum(1 for a in q.members if self._agents[a].is_staffed())
        return q.counters.snapshot(q.name, q.waiting(), longest, staffed)

    def agent_stats(self, agent_id: str, now: float) -> AgentStats:
        a = self._agent(agent_id)
        c = a.counters
        busy_now = sum(now - t.connected_at for t in a.tasks.values())
        if a.wrap_until is not None:
            busy_now += now - a.wrap_started
        connected = [t.connected_at for t in a.tasks.values() if t.connected_at > 0.0]
        return AgentStats(
            agent_id=agent_id,
            state=a.derive_state().value,
            tasks=c.tasks,
            talk_time_s=c.talk_s,
            idle_since=a.idle_since if a.derive_state().value == "available" else None,
            occupancy_pct=c.occupancy_pct(now, busy_now),
            no_answers=c.no_answers,
            busy_for_s=now - min(connected) if connected else None,
            wrap_for_s=now - a.wrap_started if a.wrap_until is not None else None,
            wrap_up_s=self._wrap_up_s(a),
        )

    def _wrap_up_s(self, a: AgentRecord) -> float | None:
        if a.profile.wrap_up_s is not None:
            return a.profile.wrap_up_s
        queue = a.wrap_queue or (a.memberships[0].group.queue if a.memberships else None)
        return queue.config.wrap_up_s if queue is not None else None

    def task_status(self, task_id: str) -> str | None:
        """``waiting``, ``offered`` or ``connected``; None for a task the router does not hold."""
        task = self._tasks.get(task_id)
        return task.status.value if task is not None else None

    def agent_state(self, agent_id: str) -> str:
        return self._agent(agent_id).derive_state().value

    def pause_reason(self, agent_id: str) -> str | None:
        """Why the agent is paused (None: not paused); a paused agent may still be busy or in
        wrap-up, and the pause outlasts them."""
        a = self._agent(agent_id)
        return a.pause_reason if a.logged_in and a.paused else None

    def wrap_up_until(self, agent_id: str) -> float | None:
        """When the agent's wrap-up ends (on the router's clock; None: not in wrap-up)."""
        return self._agent(agent_id).wrap_until

    def position(self, task_id: str) -> int | None:
        """1-based place of a waiting task in its skill group's line (O(n log n))."""
        task = self._tasks.get(task_id)
        if task is None or task.status is not TaskStatus.WAITING or task.group is None:
            return None
        return task.group.line.tasks().index(task) + 1

    def check_invariants(self) -> list[str]:
        """What is inconsistent in the router's state right now (empty: all is well)."""
        return [p.description for p in health.find_problems(self, self._now)]

    def repair(self, now: float) -> list[Action]:
        """Fix every problem ``check_invariants`` finds; one ``StateRepaired`` per fix."""
        if now < self._now:
            raise TimeWentBackwards(self._now, now)
        self._now = now
        out: list[Action] = []
        health.repair(self, now, out)
        if self._touched:
            self._announce_agent_states(out)
        return out

    # ------------------------------------------------------------------ lookups
    def _next_task_seq(self) -> int:
        return next(self._task_seq)

    def _queue(self, name: str) -> QueueRuntime:
        q = self._queues.get(name)
        if q is None:
            raise UnknownQueue(name)
        return q

    def _agent(self, agent_id: str) -> AgentRecord:
        a = self._agents.get(agent_id)
        if a is None:
            raise UnknownAgent(agent_id)
        return a

    # ------------------------------------------------------------------ timers
    def _push_timer(self, due: float, kind: int, obj: object, stamp: int) -> None:
        heapq.heappush(self._timers, (due, next(self._timer_seq), kind, obj, stamp))

    def _fire_timers(self, now: float, out: list[Action]) -> None:
        timers = self._timers
        while timers and timers[0][0] <= now:
            due, _, kind, obj, stamp = heapq.heappop(timers)
            if kind == _OFFER:
                assert isinstance(obj, TaskRecord)
                if obj.status is TaskStatus.OFFERED and obj.offer_stamp == stamp:
                    self._offer_expired(obj, due, out)
            elif kind == _WRAP:
                assert isinstance(obj, AgentRecord)
                if obj.wrap_until is not None and obj.wrap_stamp == stamp:
                    self._end_wrap_up(obj, due, out, "wrap-up time over")
            elif kind == _BLOCK:
                assert isinstance(obj, AgentRecord)
                if obj.blocked_until is not None and obj.block_stamp == stamp:
                    obj.blocked_until = None
                    self._settle(obj, due, out)
            elif kind == _MAX_WAIT:
                assert isinstance(obj, TaskRecord)
                if (
                    obj.status is TaskStatus.WAITING
                    and obj.join_stamp == stamp
                    and not obj.callback
                ):
                    self._overflow(obj, "waited longer than max_wait_s", due, out)
            elif kind == _TIER:
                assert isinstance(obj, TaskRecord)
                if obj.status is TaskStatus.WAITING and obj.join_stamp == stamp:
                    agents = self._find_agents(obj, due)
                    if agents:
                        self._offer(obj, agents, due, out)
            elif kind == _ANNOUNCE:
                assert isinstance(obj, QueueRuntime)
                self._announce_round(obj, due, out)

    # ------------------------------------------------------------------ agents
    def _register(self, profile: AgentProfile) -> AgentRecord:
        a = AgentRecord(profile=profile)
        self._agents[profile.agent_id] = a
        for qname, penalty in profile.queues.items():
            q = self._queues[qname]
            q.members[profile.agent_id] = (penalty, q.next_position)
            q.next_position += 1
            for g in q.groups.values():
                self._add_membership(a, g, penalty, q.members[profile.agent_id][1])
        return a

    def _unregister(self, a: AgentRecord) -> None:
        for m in a.memberships:
            m.group.pool(m.penalty).discard(a.agent_id)
        for qname in a.profile.queues:
            self._queues[qname].members.pop(a.agent_id, None)
        del self._agents[a.agent_id]

    def _add_membership(self, a: AgentRecord, g: Group, penalty: int, position: int) -> bool:
        """Enrol ``a`` in group ``g`` if it has the skills; True if it was enrolled."""
        if not a.profile.has_skills(g.required):
            return False
        score = sum(a.profile.skills.get(name, 0) for name, _ in g.required)
        a.memberships.append(Membership(g, penalty, position, score))
        g.pool(penalty)
        if g.channel not in a.channels:
            a.channels = (*a.channels, g.channel)
        if a.is_staffed():
            g.staffed += 1
        if g.channel in a.pooled:
            self._pool_add(a, a.memberships[-1])
        return True

    def _pool_add(self, a: AgentRecord, m: Membership) -> None:
        m.group.pools[m.penalty].add(
            a.agent_id,
            a.idle_since,
            a.calls_by_queue.get(m.group.queue.name, 0),
            m.position,
            m.score,
            a.profile.weight,
        )

    def _unpool(self, a: AgentRecord) -> None:
        if a.pooled:
            agent_id = a.agent_id
            for m in a.memberships:
                m.group.pools[m.penalty].discard(agent_id)
            a.pooled = ()

    def _settle(self, a: AgentRecord, now: float, out: list[Action]) -> None:
        """Give a free agent the best waiting task, or put it in its pools to wait."""
        free = a.free_channels()
        if free:
            task = self._best_task_for(a, free, now)
            if task is not None:
                self._offer(task, [a], now, out)
                return
        if free == a.pooled:
            return
        self._unpool(a)
        if free:
            for m in a.memberships:
                if m.group.channel in free:
                    self._pool_add(a, m)
            a.pooled = free

    def _best_task_for(
        self, a: AgentRecord, free: tuple[Channel, ...], now: float
    ) -> TaskRecord | None:
        best: TaskRecord | None = None
        best_rank: tuple[float, float, float, int] | None = None
        for m in a.memberships:
            g = m.group
            line = g.line
            if not len(line) or g.channel not in free:
                continue
            task = line.head()
            assert task is not None
            cfg = g.queue.config
            if (
                cfg.max_penalty is not None
                and m.penalty > cfg.max_penalty
                and cfg.allowed_penalty(now - task.enqueued_at + _EPSILON) < m.penalty
            ):
                # Not yet allowed to reach this tier: the oldest task is the first that is.
                task = line.oldest()
                assert task is not None
                if cfg.allowed_penalty(now - task.enqueued_at + _EPSILON) < m.penalty:
                    continue
            rank = (
                -cfg.priority,
                -(task.priority + cfg.age_rate * (now - task.enqueued_at)),
                task.enqueued_at,
                task.seq,
            )
            if best_rank is None or rank < best_rank:
                best, best_rank = task, rank
        return best

    def _block(self, a: AgentRecord, seconds: float, now: float) -> None:
        if seconds <= 0:
            return
        a.blocked_until = now + seconds
        a.block_stamp += 1
        self._push_timer(a.blocked_until, _BLOCK, a, a.block_stamp)

    def _touch(self, a: AgentRecord, reason: str) -> None:
        self._touched[a] = reason
        self._dirty_agents.add(a)

    def _announce_agent_states(self, out: list[Action]) -> None:
        for a, reason in self._touched.items():
            state = a.derive_state()
            if state is not a.state:
                out.append(AgentStateChanged(a.agent_id, state, a.state, reason))
                a.state = state
        self._touched.clear()

    def _set_staffed(self, a: AgentRecord, staffed: bool, now: float, out: list[Action]) -> None:
        """Count the agent in (or out of) its groups' staffing; empty groups may overflow."""
        delta = 1 if staffed else -1
        for m in a.memberships:
            g = m.group
            g.staffed += delta
            if g.staffed == 0 and g.queue.config.leave_when_empty:
                for task in g.line.tasks():
                    if not task.callback:
                        self._overflow(task, "no agent left in the queue", now, out)

    def _logged_in(
        self, agent_id: str, profile: AgentProfile | None, now: float, out: list[Action]
    ) -> None:
        a = self._agents.get(agent_id)
        if profile is not None and (a is None or not a.logged_in):
            validate_config([q.config for q in self._queues.values()], [profile])
            if a is not None:
                self._unregister(a)
            a = self._register(profile)
        if a is None:
            raise UnknownAgent(agent_id)
        if a.logged_in:
            return
        a.logged_in = True
        a.paused = False
        a.idle_since = now
        a.counters.logged_in_since = now
        self._set_staffed(a, True, now, out)
        self._touch(a, "logged in")
        self._settle(a, now, out)

    def _logged_out(self, a: AgentRecord, now: float, out: list[Action]) -> None:
        if not a.logged_in:
            return
        self._unpool(a)
        if a.offer is not None:
            self._withdraw_offer(a, "agent logged out", now, out)
        if a.wrap_until is not None:
            self._end_wrap_up(a, now, out, "logged out", settle=False)
        a.blocked_until = None
        staffed = a.is_staffed()
        a.logged_in = False
        if staffed:
            self._set_staffed(a, False, now, out)
        c = a.counters
        if c.logged_in_since is not None:
            c.logged_in_s += now - c.logged_in_since
            c.logged_in_since = None
        self._touch(a, "logged out")

    def _paused(self, a: AgentRecord, reason: str, now: float, out: list[Action]) -> None:
        if not a.logged_in:
            raise InvalidEvent(
                f"agent {a.agent_id!r} is logged out", "log the agent in before pausing"
            )
        a.pause_reason = reason
        if a.paused:
            return
        a.paused = True
        self._unpool(a)
        if a.offer is not None:
            self._withdraw_offer(a, f"agent paused: {reason}", now, out)
        self._set_staffed(a, False, now, out)
        self._touch(a, f"paused: {reason}")

    def _ready(self, a: AgentRecord, now: float, out: list[Action], reason: str) -> None:
        if not a.logged_in:
            raise InvalidEvent(f"agent {a.agent_id!r} is logged out", "send AgentLoggedIn instead")
        if a.paused:
            a.paused = False
            a.pause_reason = ""
            a.no_answer_streak = 0
            self._set_staffed(a, True, now, out)
            self._touch(a, reason)
        if a.wrap_until is not None:
            self._end_wrap_up(a, now, out, reason, settle=False)
        self._settle(a, now, out)

    def _start_wrap_up(self, a: AgentRecord, q: QueueRuntime, now: float) -> None:
        wrap = a.profile.wrap_up_s if a.profile.wrap_up_s is not None else q.config.wrap_up_s
        if wrap <= 0 or not a.logged_in:
            return
        if a.wrap_until is not None:  # a second task ended during wrap-up: keep the longer
            a.wrap_until = max(a.wrap_until, now + wrap)
        else:
            a.wrap_until = now + wrap
            a.wrap_started = now
            a.wrap_queue = q
        a.wrap_stamp += 1
        self._unpool(a)
        self._push_timer(a.wrap_until, _WRAP, a, a.wrap_stamp)

    def _end_wrap_up(
        self, a: AgentRecord, now: float, out: list[Action], reason: str, settle: bool = True
    ) -> None:
        spent = now - a.wrap_started
        a.counters.wrap_s += spent
        if a.wrap_queue is not None:
            a.wrap_queue.counters.wrap_s += spent
        a.wrap_until = None
        a.wrap_queue = None
        a.idle_since = now
        self._touch(a, reason)
        if settle:
            self._settle(a, now, out)

    def _extend_wrap_up(self, a: AgentRecord, extra_s: float) -> None:
        if a.wrap_until is None or extra_s <= 0:
            return
        a.wrap_until += extra_s
        a.wrap_stamp += 1
        self._push_timer(a.wrap_until, _WRAP, a, a.wrap_stamp)

    # ------------------------------------------------------------------ statistics
    def _publish_stats(self, now: float, out: list[Action]) -> None:
        for q in sorted(self._dirty_queues, key=lambda q: q.name):
            out.append(QueueStatsUpdated(self.queue_stats(q.name, now)))
        for a in sorted(self._dirty_agents, key=lambda a: a.agent_id):
            out.append(AgentStatsUpdated(self.agent_stats(a.agent_id, now)))
        self._dirty_queues.clear()
        self._dirty_agents.clear()

    def _announce_round(self, q: QueueRuntime, now: float, out: list[Action]) -> None:
        """Tell every caller waiting in ``q`` its place and expected wait, then re-arm.

        One round sorts each skill group's line once (O(n log n)) and announces to all
        its callers: O(log n) per announcement, instead of a scan per caller.
        """
        every = q.config.announce_every_s
        assert every is not None
        handle_s = q.counters.handle_ewma_s
        for g in q.groups.values():
            position = 0
            for task in g.line.tasks():
                position += 1
                if task.callback or now - task.joined_at < every / 2:
                    continue  # nobody on the line, or the queue's welcome has just played
                out.append(
                    AnnouncePosition(
                        task.task_id, position, estimate_wait(position, handle_s, g.staffed)
                    )
                )
        if q.waiting():
            self._push_timer(now + every, _ANNOUNCE, q, 0)
        else:
            q.announcing = False

    def _arm_announcements(self, task: TaskRecord, q: QueueRuntime, now: float) -> None:
        every = q.config.announce_every_s
        if every is None or task.callback:
            return
        if not q.announcing:
            q.announcing = True
            self._push_timer(now + every, _ANNOUNCE, q, 0)


__all__ = ["Router", "Strategy"]
