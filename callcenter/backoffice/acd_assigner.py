"""Back-office routing by the ACD: tickets and chats are tasks on their own channels.

:class:`AcdAssigner` implements the back office's :class:`~callcenter.tickets.TaskAssigner`
with the engine's ACD :class:`~callcenter.acd.Router`: two queues, ``backoffice-ticket`` and
``backoffice-chat`` (strategy fewest tasks), priority with FIFO among equals, and per-agent
capacity per channel. It is its own router instance: an agent's voice and back-office
capacities are not yet one record. Offers are accepted at once (nobody rings for a ticket), so
each ``OfferTask`` becomes an :class:`Assignment`. A task that prefers an agent (a reopened
ticket goes back to who handled it) requires that agent's personal skill while they are here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from callcenter import acd
from callcenter.tickets.routing import Assignment, BackofficeTask

QUEUES = {"ticket": "backoffice-ticket", "chat": "backoffice-chat"}
_CHANNELS = {"ticket": acd.Channel.TICKET, "chat": acd.Channel.CHAT}


def _personal(agent: str) -> str:
    return f"agent:{agent}"


class AcdAssigner:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.router = acd.Router(
            [
                acd.QueueConfig(
                    name=name,
                    channel=_CHANNELS[channel],
                    strategy=acd.Strategy.FEWEST_CALLS,
                    no_answer_timeout_s=3600,
                )
                for channel, name in QUEUES.items()
            ]
        )
        self.tasks: dict[str, BackofficeTask] = {}
        self.active: dict[str, str] = {}  # task id -> agent
        self.present: dict[str, dict[str, int]] = {}

    def _apply(self, event: acd.Event) -> list[Assignment]:
        out: list[Assignment] = []
        pending = [event]
        while pending:
            for action in self.router.handle(pending.pop(0), self.clock()):
                if isinstance(action, acd.OfferTask):
                    pending.append(acd.OfferAccepted(action.task_id, action.agent_id))
                elif isinstance(action, acd.ConnectTask):
                    self.active[action.task_id] = action.agent_id
                    out.append(Assignment(self.tasks[action.task_id], action.agent_id))
        return out

    def agent_present(self, agent: str, capacity: Mapping[str, int]) -> list[Assignment]:
        if agent in self.present:
            self._apply(acd.AgentLoggedOut(agent))
        self.present[agent] = dict(capacity)
        profile = acd.AgentProfile(
            agent_id=agent,
            queues={name: 0 for name in QUEUES.values()},
            skills={_personal(agent): 1},
            capacity={_CHANNELS[c]: n for c, n in capacity.items() if c in _CHANNELS},
            max_no_answers=0,
            reject_delay_s=0,
        )
        return self._apply(acd.AgentLoggedIn(agent, profile))  # logged in means available

    def agent_gone(self, agent: str) -> list[BackofficeTask]:
        """The agent left: their tasks end here and are returned for the caller to requeue."""
        mine = [task_id for task_id, who in self.active.items() if who == agent]
        for task_id in mine:
            del self.active[task_id]
            self._apply(acd.TaskCompleted(task_id))
        if self.present.pop(agent, None) is not None:
            self._apply(acd.AgentLoggedOut(agent))
        return [self.tasks.pop(task_id) for task_id in mine]

    def submit(self, task: BackofficeTask) -> list[Assignment]:
        if task.id in self.tasks:
            return []
        self.tasks[task.id] = task
        waited = max(0.0, (datetime.now(UTC) - task.queued_at).total_seconds())
        skills = {}
        if task.preferred_agent is not None and task.preferred_agent in self.present:
            skills = {_personal(task.preferred_agent): 1}
        return self._apply(
            acd.TaskArrived(
                task.id,
                QUEUES[task.channel],
                priority=task.priority.rank,
                skills=skills,
                enqueued_at=self.clock() - waited,
            )
        )

    def finish(self, task_id: str) -> list[Assignment]:
        task = self.tasks.pop(task_id, None)
        if task is None:
            return []
        if self.active.pop(task_id, None) is not None:
            return self._apply(acd.TaskCompleted(task_id))
        self._apply(acd.TaskAbandoned(task_id))
        return []

    def withdraw(self, task_id: str) -> None:
        if task_id in self.tasks and task_id not in self.active:
            del self.tasks[task_id]
            self._apply(acd.TaskAbandoned(task_id))

    def is_present(self, agent: str) -> bool:
        return agent in self.present

    def can_serve(self, channel: str) -> bool:
        return any(caps.get(channel, 0) > 0 for caps in self.present.values())
