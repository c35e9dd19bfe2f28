"""Back-office routing: which agent takes a waiting chat or ticket.

The engine's ACD routes voice; back-office tasks go through the small :class:`TaskAssigner`
interface so that the ACD can take them over (a ticket or a chat is a task on a channel with
its own per-agent capacity). :class:`LeastLoadedAssigner` is the built-in implementation:
waiting tasks in priority then arrival order, each to the present agent with the lowest share
of their capacity on that channel in use; a task that names a preferred agent (a reopened
ticket goes back to who handled it) waits for that agent while they are present.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from .model import Priority


@dataclass(frozen=True)
class BackofficeTask:
    id: str
    channel: str  # "chat" or "ticket", as in callcenter.acd.Channel
    priority: Priority
    queued_at: datetime
    preferred_agent: str | None = None


@dataclass(frozen=True)
class Assignment:
    task: BackofficeTask
    agent: str


class TaskAssigner(Protocol):
    def agent_present(self, agent: str, capacity: Mapping[str, int]) -> list[Assignment]: ...
    def agent_gone(self, agent: str) -> list[BackofficeTask]: ...
    def submit(self, task: BackofficeTask) -> list[Assignment]: ...
    def finish(self, task_id: str) -> list[Assignment]: ...
    def withdraw(self, task_id: str) -> None: ...
    def is_present(self, agent: str) -> bool: ...
    def can_serve(self, channel: str) -> bool: ...


@dataclass
class LeastLoadedAssigner:
    capacity: dict[str, dict[str, int]] = field(default_factory=dict)
    waiting: list[BackofficeTask] = field(default_factory=list)
    active: dict[str, tuple[BackofficeTask, str]] = field(default_factory=dict)

    def agent_present(self, agent: str, capacity: Mapping[str, int]) -> list[Assignment]:
        self.capacity[agent] = dict(capacity)
        return self._dispatch()

    def agent_gone(self, agent: str) -> list[BackofficeTask]:
        """The agent left: their tasks are returned (the caller decides to requeue them)."""
        self.capacity.pop(agent, None)
        mine = [task for task, who in self.active.values() if who == agent]
        for task in mine:
            del self.active[task.id]
        return mine

    def submit(self, task: BackofficeTask) -> list[Assignment]:
        if task.id not in self.active and all(t.id != task.id for t in self.waiting):
            self.waiting.append(task)
        return self._dispatch()

    def finish(self, task_id: str) -> list[Assignment]:
        self.active.pop(task_id, None)
        self.withdraw(task_id)
        return self._dispatch()

    def withdraw(self, task_id: str) -> None:
        self.waiting = [t for t in self.waiting if t.id != task_id]

    def is_present(self, agent: str) -> bool:
        return agent in self.capacity

    def can_serve(self, channel: str) -> bool:
        """Someone present has capacity on ``channel`` at all (busy or not)."""
        return any(caps.get(channel, 0) > 0 for caps in self.capacity.values())

    def load(self, agent: str, channel: str) -> int:
        return sum(1 for t, who in self.active.values() if who == agent and t.channel == channel)

    def _free(self, agent: str, channel: str) -> bool:
        return self.load(agent, channel) < self.capacity.get(agent, {}).get(channel, 0)

    def _choose(self, task: BackofficeTask) -> str | None:
        preferred = task.preferred_agent
        if preferred is not None and preferred in self.capacity:
            return preferred if self._free(preferred, task.channel) else None
        free = [a for a in self.capacity if self._free(a, task.channel)]
        if not free:
            return None
        return min(
            free, key=lambda a: (self.load(a, task.channel) / self.capacity[a][task.channel], a)
        )

    def _dispatch(self) -> list[Assignment]:
        out: list[Assignment] = []
        order = sorted(self.waiting, key=lambda t: (-t.priority.rank, t.queued_at, t.id))
        for task in order:
            agent = self._choose(task)
            if agent is None:
                continue
            self.waiting.remove(task)
            self.active[task.id] = (task, agent)
            out.append(Assignment(task, agent))
        return out
