"""Events the adapters feed to ``Router.handle``: what happened, in the domain's words.

Agent-side events come from the agent desktop or the phone (login, pause, answering an
offer); task-side events from the voice layer, the chat server or the ticket system.
``Tick`` lets timers fire when nothing else happens (``Router.next_deadline`` says when).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .model import AgentProfile, ReportedState

_NO_SKILLS: Mapping[str, int] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class TaskArrived:
    """A call, chat or ticket enters ``queue``.

    ``enqueued_at`` is the time the customer first started waiting, when that was earlier
    (a callback registered on another node, a task moved between nodes); it keeps the
    task's place. ``skills`` adds required skills (name -> minimum level) to the queue's.
    """

    task_id: str
    queue: str
    priority: int = 0
    skills: Mapping[str, int] = field(default_factory=lambda: _NO_SKILLS)
    enqueued_at: float | None = None
    callback: bool = False


@dataclass(frozen=True, slots=True)
class TaskAssigned:
    """A task for one named agent, connected to them by the adapter: a preview call the
    agent chose, a call-back the agent promised.

    The router makes no routing decision and sends no ``ConnectTask`` (the adapter connected
    the call before telling it): it holds the task so that the agent shows busy,
    takes no other task on that channel meanwhile, has the talk time counted, and gets the
    queue's wrap-up after ``TaskCompleted``. The queue's service statistics (offered,
    answered, waits) leave it out: the customer never waited in its line. A paused agent
    (pausing to preview a lead) may be assigned a task; the pause outlasts it.
    """

    task_id: str
    queue: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class TaskAbandoned:
    """The customer hung up (or the chat closed) before being connected."""

    task_id: str


@dataclass(frozen=True, slots=True)
class CallbackRequested:
    """Fair virtual hold: the caller hangs up and keeps the place; an agent calls back."""

    task_id: str


@dataclass(frozen=True, slots=True)
class TaskTransferred:
    """A waiting or connected task moves to ``queue``, keeping its original enqueue time.

    Transferring to the task's own queue is a requeue.
    """

    task_id: str
    queue: str


@dataclass(frozen=True, slots=True)
class TaskCompleted:
    """The agent finished the task; wrap-up starts."""

    task_id: str


@dataclass(frozen=True, slots=True)
class AgentLoggedIn:
    """The agent logs in; ``profile`` (optional) replaces the configured profile."""

    agent_id: str
    profile: AgentProfile | None = None


@dataclass(frozen=True, slots=True)
class AgentLoggedOut:
    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentReady:
    """The agent ends a pause (and any wrap-up) and may take tasks again; ``reason`` is why,
    as the state change tells it (the agent's own "ready", or a presence signal's)."""

    agent_id: str
    reason: str = "ready"


@dataclass(frozen=True, slots=True)
class AgentPaused:
    agent_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class OfferAccepted:
    task_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class OfferRejected:
    task_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class OfferTimedOut:
    """The adapter saw the agent's phone ring out (the router also times offers out itself)."""

    task_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class WrapUpEnded:
    """The agent ends wrap-up early ("ready")."""

    agent_id: str


@dataclass(frozen=True, slots=True)
class WrapUpExtended:
    """The agent needs ``extra_s`` more seconds of wrap-up."""

    agent_id: str
    extra_s: float


@dataclass(frozen=True, slots=True)
class AgentStateReported:
    """The voice layer's view of the agent's phone; the router repairs any disagreement."""

    agent_id: str
    state: ReportedState
    task_id: str | None = None


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed: fire due timers and publish statistics that changed."""


Event = (
    TaskArrived
    | TaskAssigned
    | TaskAbandoned
    | CallbackRequested
    | TaskTransferred
    | TaskCompleted
    | AgentLoggedIn
    | AgentLoggedOut
    | AgentReady
    | AgentPaused
    | OfferAccepted
    | OfferRejected
    | OfferTimedOut
    | WrapUpEnded
    | WrapUpExtended
    | AgentStateReported
    | Tick
)
