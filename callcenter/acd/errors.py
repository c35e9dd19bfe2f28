"""Errors the ACD raises at its boundary: each says what was wrong and what to do."""

from __future__ import annotations


class ACDError(Exception):
    """Base class of every error raised by :mod:`callcenter.acd`."""


class ACDConfigError(ACDError):
    """A queue or agent configuration cannot work as written."""

    def __init__(self, subject: str, problem: str, fix: str) -> None:
        self.subject = subject
        self.problem = problem
        self.fix = fix
        super().__init__(f"{subject}: {problem} ({fix})")


class UnknownQueue(ACDError):
    """An event names a queue the router was not configured with."""

    def __init__(self, queue: str) -> None:
        self.queue = queue
        super().__init__(
            f"unknown queue {queue!r}: configure it in the Router's queues before routing to it"
        )


class UnknownAgent(ACDError):
    """An event names an agent the router has no profile for."""

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        super().__init__(
            f"unknown agent {agent_id!r}: pass its AgentProfile to the Router or to AgentLoggedIn"
        )


class DuplicateTask(ACDError):
    """A task id arrived twice while the first task is still in the router."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        super().__init__(
            f"task {task_id!r} is already in the router: use TaskTransferred to move it"
        )


class TimeWentBackwards(ACDError):
    """``now`` passed to ``Router.handle`` is earlier than a previous call's."""

    def __init__(self, previous: float, now: float) -> None:
        self.previous = previous
        self.now = now
        super().__init__(
            f"now={now} is earlier than the previous now={previous}: feed the router a "
            "monotonic clock (time.monotonic, or the event log's timestamps in order)"
        )


class InvalidEvent(ACDError):
    """An event that cannot apply to the router's current state (not a race: a bug)."""

    def __init__(self, problem: str, fix: str) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem} ({fix})")
