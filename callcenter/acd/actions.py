"""Actions ``Router.handle`` returns: what the adapters must now do or publish."""

from __future__ import annotations

from dataclasses import dataclass

from .model import AgentState, OverflowTarget
from .stats import AgentStats, QueueStats


@dataclass(frozen=True, slots=True)
class OfferTask:
    """Ring the agent (or show the chat / ticket). ``callback``: the agent must dial out."""

    task_id: str
    agent_id: str
    queue: str
    timeout_s: float
    callback: bool = False


@dataclass(frozen=True, slots=True)
class CancelOffer:
    """Stop ringing this agent for this task."""

    task_id: str
    agent_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class ConnectTask:
    """Bridge the customer and the agent. ``waited_s`` counts from the first enqueue."""

    task_id: str
    agent_id: str
    queue: str
    waited_s: float


@dataclass(frozen=True, slots=True)
class OverflowTask:
    task_id: str
    queue: str
    target: OverflowTarget
    reason: str


@dataclass(frozen=True, slots=True)
class AnnouncePosition:
    """Tell a waiting caller its place; ``estimated_wait_s`` is None with nobody staffed."""

    task_id: str
    position: int
    estimated_wait_s: float | None


@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    agent_id: str
    state: AgentState
    previous: AgentState
    reason: str


@dataclass(frozen=True, slots=True)
class StateRepaired:
    """The router corrected its own state; ``subject`` is an agent or task id."""

    subject: str
    reason: str


@dataclass(frozen=True, slots=True)
class QueueStatsUpdated:
    stats: QueueStats


@dataclass(frozen=True, slots=True)
class AgentStatsUpdated:
    stats: AgentStats


Action = (
    OfferTask
    | CancelOffer
    | ConnectTask
    | OverflowTask
    | AnnouncePosition
    | AgentStateChanged
    | StateRepaired
    | QueueStatsUpdated
    | AgentStatsUpdated
)
