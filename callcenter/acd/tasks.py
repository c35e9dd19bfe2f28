"""A task's way through the router: join, wait, offer, answer, end; or overflow.

``TaskFlow`` is the task half of :class:`Router` (the agent half lives in ``router.py``).
Every path a task can take ends in one of three outcomes, counted in the queue's
statistics: answered (``ConnectTask``), abandoned (``TaskAbandoned``) or overflowed out
of the router (``OverflowTask`` to voicemail or ticket). Overflow to another queue and to a
callback keep the task in the router with its original enqueue time: its place is kept.
A task assigned to a named agent (``TaskAssigned``: a preview call) skips the line and the
offer and stays out of the queue's statistics; its agent's talk time and wrap-up count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._records import AgentRecord, Group, QueueRuntime, TaskRecord, TaskStatus
from .actions import Action, CancelOffer, ConnectTask, OfferTask, OverflowTask
from .errors import DuplicateTask, InvalidEvent, UnknownQueue
from .events import TaskArrived, TaskAssigned
from .model import OverflowKind
from .strategies import Strategy

_OFFER, _WRAP, _BLOCK, _MAX_WAIT, _TIER, _ANNOUNCE = range(6)

# A hair of tolerance so that a timer due at enqueued_at + after_s widens the tier even
# when the subtraction rounds a little short.
_EPSILON = 1e-9


class TaskFlow:
    _queues: dict[str, QueueRuntime]
    _agents: dict[str, AgentRecord]
    _tasks: dict[str, TaskRecord]
    _dirty_queues: set[QueueRuntime]

    if TYPE_CHECKING:

        def _push_timer(self, due: float, kind: int, obj: object, stamp: int) -> None: ...
        def _settle(self, a: AgentRecord, now: float, out: list[Action]) -> None: ...
        def _unpool(self, a: AgentRecord) -> None: ...
        def _touch(self, a: AgentRecord, reason: str) -> None: ...
        def _block(self, a: AgentRecord, seconds: float, now: float) -> None: ...
        def _start_wrap_up(self, a: AgentRecord, q: QueueRuntime, now: float) -> None: ...
        def _arm_announcements(self, task: TaskRecord, q: QueueRuntime, now: float) -> None: ...
        def _paused(self, a: AgentRecord, reason: str, now: float, out: list[Action]) -> None: ...
        def _next_task_seq(self) -> int: ...

    # ------------------------------------------------------------------ entering
    def _task_arrived(self, e: TaskArrived, now: float, out: list[Action]) -> None:
        if e.task_id in self._tasks:
            raise DuplicateTask(e.task_id)
        q = self._queues.get(e.queue)
        if q is None:
            raise UnknownQueue(e.queue)
        task = TaskRecord(
            task_id=e.task_id,
            queue=q,
            priority=e.priority,
            extra_skills=tuple(sorted(e.skills.items())),
            enqueued_at=now if e.enqueued_at is None else min(e.enqueued_at, now),
            seq=self._next_task_seq(),
            callback=e.callback,
        )
        self._tasks[e.task_id] = task
        self._join(task, q, now, out)

    def _task_assigned(
        self, e: TaskAssigned, a: AgentRecord, now: float, out: list[Action]
    ) -> None:
        if e.task_id in self._tasks:
            raise DuplicateTask(e.task_id)
        q = self._queues.get(e.queue)
        if q is None:
            raise UnknownQueue(e.queue)
        if not a.logged_in:
            raise InvalidEvent(
                f"agent {a.agent_id!r} is logged out",
                "log the agent in before assigning them a task",
            )
        channel = q.config.channel
        held = a.load.get(channel, 0)
        if held >= a.capacity(channel):
            raise InvalidEvent(
                f"agent {a.agent_id!r} holds {held} {channel.value} task(s), "
                f"capacity {a.capacity(channel)}",
                "complete one of the agent's tasks first, or raise the agent's capacity",
            )
        if a.offer is not None:
            self._withdraw_offer(a, f"assigned task {e.task_id}", now, out)
        # The call the phone reported (if any) is this task from now on.
        a.external_busy = False
        task = TaskRecord(
            task_id=e.task_id,
            queue=q,
            priority=0,
            extra_skills=(),
            enqueued_at=now,
            seq=self._next_task_seq(),
            callback=False,
            joined_at=now,
            assigned=True,
        )
        self._tasks[e.task_id] = task
        self._attach(task, a, now)
        # No ConnectTask: the adapter connected the call itself before telling the router.
        self._touch(a, f"connected to task {e.task_id} assigned to them")
        self._settle(a, now, out)

    def _join(self, task: TaskRecord, q: QueueRuntime, now: float, out: list[Action]) -> None:
        """Put ``task`` in queue ``q`` (arrival, transfer or overflow), keeping its place."""
        cfg = q.config
        task.queue = q
        task.joined_at = now
        task.join_stamp += 1
        task.assigned = False  # transferred into a line: a queue's task like any other
        task.status = TaskStatus.WAITING
        q.counters.offered += 1
        self._dirty_queues.add(q)
        required = q.required_with(task.extra_skills)
        group = q.groups.get(required)
        if group is None:
            group = self._new_group(q, required, now, out)
        task.group = group
        if cfg.max_length is not None and q.waiting() >= cfg.max_length:
            self._overflow(task, f"queue full ({cfg.max_length} waiting)", now, out)
            return
        if not cfg.join_when_empty and group.staffed == 0:
            self._overflow(task, "no agent staffed for the task's skills", now, out)
            return
        if cfg.max_wait_s is not None and not task.callback:
            self._push_timer(now + cfg.max_wait_s, _MAX_WAIT, task, task.join_stamp)
        if cfg.max_penalty is not None:
            for rule in cfg.penalty_rules:
                due = task.enqueued_at + rule.after_s
                if due > now and rule.max_penalty > cfg.max_penalty:
                    self._push_timer(due, _TIER, task, task.join_stamp)
        self._arm_announcements(task, q, now)
        self._enqueue(task, now, out)

    def _new_group(
        self, q: QueueRuntime, required: tuple[tuple[str, int], ...], now: float, out: list[Action]
    ) -> Group:
        """A skill group seen for the first time: enrol the queue's members who qualify."""
        group = Group(q, required)
        q.groups[required] = group
        for agent_id, (penalty, position) in q.members.items():
            a = self._agents[agent_id]
            if self._add_membership(a, group, penalty, position):
                self._settle(a, now, out)  # the agent may be free on a channel new to it
        return group

    if TYPE_CHECKING:

        def _add_membership(
            self, a: AgentRecord, g: Group, penalty: int, position: int
        ) -> bool: ...

    def _enqueue(self, task: TaskRecord, now: float, out: list[Action]) -> None:
        """Offer ``task`` to the strategy's choice of free agent, or line it up."""
        task.status = TaskStatus.WAITING
        agents = self._find_agents(task, now)
        if agents:
            self._offer(task, agents, now, out)
        else:
            assert task.group is not None
            task.group.line.push(task)
            self._dirty_queues.add(task.queue)

    def _find_agents(self, task: TaskRecord, now: float) -> list[AgentRecord]:
        g = task.group
        assert g is not None
        cfg = g.queue.config
        allowed = cfg.allowed_penalty(now - task.enqueued_at + _EPSILON)
        for penalty in g.tiers:
            if penalty > allowed:
                break
            pool = g.pools[penalty]
            if not len(pool):
                continue
            if cfg.strategy is Strategy.RING_ALL:
                return [self._agents[a] for a in pool.drain()]
            agent_id = pool.pick()
            assert agent_id is not None
            return [self._agents[agent_id]]
        return []

    # ------------------------------------------------------------------ offering
    def _offer(
        self, task: TaskRecord, agents: list[AgentRecord], now: float, out: list[Action]
    ) -> None:
        if task.line_stamp >= 0:
            assert task.group is not None
            task.group.line.discard(task)
        q = task.queue
        timeout = q.config.no_answer_timeout_s
        task.status = TaskStatus.OFFERED
        task.offered_at = now
        task.offer_stamp += 1
        task.offered_to = agents
        for a in agents:
            self._unpool(a)
            a.offer = task
            self._touch(a, f"offered task {task.task_id}")
            out.append(OfferTask(task.task_id, a.agent_id, q.name, timeout, task.callback))
        self._push_timer(now + timeout, _OFFER, task, task.offer_stamp)
        self._dirty_queues.add(q)

    def _offer_accepted(self, task_id: str, a: AgentRecord, now: float, out: list[Action]) -> None:
        task = self._tasks.get(task_id)
        if task is None or task.status is not TaskStatus.OFFERED or a not in task.offered_to:
            if task is None or task.agent is not a:
                out.append(CancelOffer(task_id, a.agent_id, "the offer no longer stands"))
            return
        q = task.queue
        losers = [other for other in task.offered_to if other is not a]
        for other in task.offered_to:
            if other is not a:
                other.offer = None
                out.append(CancelOffer(task_id, other.agent_id, f"answered by {a.agent_id}"))
                self._touch(other, f"task {task_id} answered by {a.agent_id}")
        task.offered_to = []
        a.offer = None
        self._attach(task, a, now)
        a.no_answer_streak = 0
        waited = now - task.enqueued_at
        q.counters.record_answer(waited)
        self._dirty_queues.add(q)
        self._touch(a, f"connected to task {task_id}")
        out.append(ConnectTask(task_id, a.agent_id, q.name, waited))
        for other in losers:
            self._settle(other, now, out)
        self._settle(a, now, out)  # free capacity left on this or another channel

    def _attach(self, task: TaskRecord, a: AgentRecord, now: float) -> None:
        """Connect ``task`` to ``a``: the agent holds it on its channel."""
        q = task.queue
        channel = q.config.channel
        task.status = TaskStatus.CONNECTED
        task.agent = a
        task.connected_at = now
        a.load[channel] = a.load.get(channel, 0) + 1
        a.tasks[task.task_id] = task
        a.calls_by_queue[q.name] = a.calls_by_queue.get(q.name, 0) + 1

    def _offer_declined(
        self, task_id: str, a: AgentRecord, now: float, out: list[Action], *, no_answer: bool
    ) -> None:
        task = self._tasks.get(task_id)
        if task is None or task.status is not TaskStatus.OFFERED or a not in task.offered_to:
            return  # stale: the offer was already reclaimed
        self._decline(task, a, now, out, no_answer=no_answer, cancel=False)
        if not task.offered_to:
            self._requeue(task, now, out)
        self._settle(a, now, out)

    def _decline(
        self,
        task: TaskRecord,
        a: AgentRecord,
        now: float,
        out: list[Action],
        *,
        no_answer: bool,
        cancel: bool,
    ) -> None:
        """Take ``a`` off ``task``'s offer, with the penalty for not answering."""
        task.offered_to = [o for o in task.offered_to if o is not a]
        a.offer = None
        if cancel:
            out.append(
                CancelOffer(
                    task.task_id,
                    a.agent_id,
                    f"no answer within {task.queue.config.no_answer_timeout_s:g} s",
                )
            )
        if no_answer:
            a.no_answer_streak += 1
            a.counters.no_answers += 1
            limit = a.profile.max_no_answers
            if limit and a.no_answer_streak >= limit:
                self._paused(a, f"auto-pause: {a.no_answer_streak} offers unanswered", now, out)
            else:
                self._block(a, task.queue.config.retry_delay_s, now)
                self._touch(a, f"did not answer task {task.task_id}")
        else:
            self._block(a, a.profile.reject_delay_s, now)
            self._touch(a, f"rejected task {task.task_id}")

    def _offer_expired(self, task: TaskRecord, now: float, out: list[Action]) -> None:
        """Reclaim an offer nobody answered in time; the task keeps its place."""
        declined = list(task.offered_to)
        for a in declined:
            self._decline(task, a, now, out, no_answer=True, cancel=True)
        self._requeue(task, now, out)
        # Settle after requeueing, so a ringing-out agent is not offered the same task at
        # once: it is blocked for the retry delay or paused.
        for a in declined:
            self._settle(a, now, out)

    def _withdraw_offer(self, a: AgentRecord, reason: str, now: float, out: list[Action]) -> None:
        """The agent cannot take the offer any more (paused, logged out): reclaim it."""
        task = a.offer
        assert task is not None
        task.offered_to = [o for o in task.offered_to if o is not a]
        a.offer = None
        out.append(CancelOffer(task.task_id, a.agent_id, reason))
        self._touch(a, reason)
        if not task.offered_to:
            self._requeue(task, now, out)

    def _requeue(self, task: TaskRecord, now: float, out: list[Action]) -> None:
        """Back to the line at the task's original place (same key: FIFO is kept)."""
        cfg = task.queue.config
        task.status = TaskStatus.WAITING
        if (
            cfg.max_wait_s is not None
            and not task.callback
            and now - task.joined_at >= cfg.max_wait_s
        ):
            self._overflow(task, "waited longer than max_wait_s", now, out)
            return
        self._enqueue(task, now, out)

    # ------------------------------------------------------------------ ending
    def _release(self, task: TaskRecord, now: float) -> AgentRecord:
        """Take a connected task off its agent; count talk time; start wrap-up."""
        a = task.agent
        assert a is not None
        q = task.queue
        channel = q.config.channel
        talk = now - task.connected_at
        a.load[channel] -= 1
        del a.tasks[task.task_id]
        a.counters.tasks += 1
        a.counters.talk_s += talk
        wrap = a.profile.wrap_up_s if a.profile.wrap_up_s is not None else q.config.wrap_up_s
        if not task.assigned:
            q.counters.record_completion(talk, wrap)
        task.agent = None
        if not a.tasks:
            a.idle_since = now
        self._start_wrap_up(a, q, now)
        self._touch(a, f"task {task.task_id} ended")
        self._dirty_queues.add(q)
        return a

    def _task_completed(self, task_id: str, now: float, out: list[Action]) -> None:
        task = self._tasks.get(task_id)
        if task is None:
            return  # already ended (e.g. repaired after the voice layer reported idle)
        if task.status is not TaskStatus.CONNECTED:
            raise InvalidEvent(
                f"task {task_id!r} is {task.status.value}, not connected",
                "send TaskAbandoned for a task that ends before an agent answers",
            )
        a = self._release(task, now)
        self._end(task)
        self._settle(a, now, out)

    def _task_abandoned(self, task_id: str, now: float, out: list[Action]) -> None:
        task = self._tasks.get(task_id)
        if task is None or task.status is TaskStatus.CONNECTED:
            return  # already answered or ended: the hang-up ends the call, not the wait
        if task.status is TaskStatus.WAITING:
            assert task.group is not None
            task.group.line.discard(task)
        else:
            for a in task.offered_to:
                a.offer = None
                out.append(CancelOffer(task_id, a.agent_id, "the customer hung up"))
                self._touch(a, f"task {task_id} abandoned while offered")
        offered = task.offered_to
        task.offered_to = []
        task.queue.counters.record_abandon(now - task.enqueued_at)
        self._dirty_queues.add(task.queue)
        self._end(task)
        for a in offered:
            self._settle(a, now, out)

    def _callback_requested(self, task_id: str) -> None:
        task = self._tasks.get(task_id)
        if task is None or task.status is TaskStatus.CONNECTED:
            return
        task.callback = True
        task.join_stamp += 1  # a callback waits as long as it takes: no max-wait overflow

    def _task_transferred(
        self, task_id: str, q: QueueRuntime, now: float, out: list[Action]
    ) -> None:
        task = self._tasks.get(task_id)
        if task is None:
            raise InvalidEvent(f"task {task_id!r} is not in the router", "send TaskArrived")
        freed: list[AgentRecord] = []
        if task.status is TaskStatus.WAITING:
            assert task.group is not None
            task.group.line.discard(task)
        elif task.status is TaskStatus.OFFERED:
            for a in task.offered_to:
                a.offer = None
                out.append(CancelOffer(task_id, a.agent_id, f"transferred to {q.name}"))
                self._touch(a, f"task {task_id} transferred")
                freed.append(a)
            task.offered_to = []
        else:
            freed.append(self._release(task, now))
        self._dirty_queues.add(task.queue)
        self._join(task, q, now, out)
        for a in freed:
            self._settle(a, now, out)

    def _overflow(self, task: TaskRecord, reason: str, now: float, out: list[Action]) -> None:
        q = task.queue
        target = q.config.overflow
        assert target is not None  # validate_config requires one wherever overflow can happen
        if task.line_stamp >= 0:
            assert task.group is not None
            task.group.line.discard(task)
        q.counters.overflowed += 1
        self._dirty_queues.add(q)
        out.append(OverflowTask(task.task_id, q.name, target, reason))
        match target.kind:
            case OverflowKind.QUEUE:
                assert target.queue is not None
                self._join(task, self._queues[target.queue], now, out)
            case OverflowKind.CALLBACK:
                task.callback = True
                task.join_stamp += 1
                self._enqueue(task, now, out)
            case OverflowKind.VOICEMAIL | OverflowKind.TICKET:
                self._end(task)

    def _end(self, task: TaskRecord) -> None:
        task.status = TaskStatus.ENDED
        task.group = None
        del self._tasks[task.task_id]


__all__ = ["TaskFlow"]
