"""The automatic call distributor: which waiting task goes to which agent, and when.

A pure state machine (no I/O, no clock): feed events to ``Router.handle(event, now)`` and
carry out the actions it returns. A call, a chat and a ticket are all tasks on a channel.

- Configuration: :class:`QueueConfig`, :class:`AgentProfile`, :class:`OverflowTarget`,
  :class:`PenaltyRule`, :class:`Strategy` (longest-idle, fewest-calls, rrmemory, ring-all,
  linear, random, wrandom, best-skill).
- Events in: ``TaskArrived``, ``TaskAssigned``, ``TaskAbandoned``, ``CallbackRequested``,
  ``TaskTransferred``, ``TaskCompleted``, ``AgentLoggedIn``, ``AgentLoggedOut``,
  ``AgentReady``, ``AgentPaused``, ``OfferAccepted``, ``OfferRejected``, ``OfferTimedOut``,
  ``WrapUpEnded``, ``WrapUpExtended``, ``AgentStateReported``, ``Tick``.
- Actions out: ``OfferTask``, ``CancelOffer``, ``ConnectTask``, ``OverflowTask``,
  ``AnnouncePosition``, ``AgentStateChanged``, ``StateRepaired``, ``QueueStatsUpdated``,
  ``AgentStatsUpdated``.
- Staffing: Erlang B, C and A in :mod:`callcenter.acd.erlang`.
- Replay of an event log under another strategy: :mod:`callcenter.acd.replay`.
"""

from .actions import (
    Action,
    AgentStateChanged,
    AgentStatsUpdated,
    AnnouncePosition,
    CancelOffer,
    ConnectTask,
    OfferTask,
    OverflowTask,
    QueueStatsUpdated,
    StateRepaired,
)
from .errors import (
    ACDConfigError,
    ACDError,
    DuplicateTask,
    InvalidEvent,
    TimeWentBackwards,
    UnknownAgent,
    UnknownQueue,
)
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
from .model import (
    AgentProfile,
    AgentState,
    Channel,
    OverflowKind,
    OverflowTarget,
    PenaltyRule,
    QueueConfig,
    ReportedState,
)
from .router import Router
from .stats import AgentStats, QueueStats
from .strategies import Strategy

__all__ = [
    "ACDConfigError",
    "ACDError",
    "Action",
    "AgentLoggedIn",
    "AgentLoggedOut",
    "AgentPaused",
    "AgentProfile",
    "AgentReady",
    "AgentState",
    "AgentStateChanged",
    "AgentStateReported",
    "AgentStats",
    "AgentStatsUpdated",
    "AnnouncePosition",
    "CallbackRequested",
    "CancelOffer",
    "Channel",
    "ConnectTask",
    "DuplicateTask",
    "Event",
    "InvalidEvent",
    "OfferAccepted",
    "OfferRejected",
    "OfferTask",
    "OfferTimedOut",
    "OverflowKind",
    "OverflowTarget",
    "OverflowTask",
    "PenaltyRule",
    "QueueConfig",
    "QueueStats",
    "QueueStatsUpdated",
    "ReportedState",
    "Router",
    "StateRepaired",
    "Strategy",
    "TaskAbandoned",
    "TaskArrived",
    "TaskAssigned",
    "TaskCompleted",
    "TaskTransferred",
    "Tick",
    "TimeWentBackwards",
    "UnknownAgent",
    "UnknownQueue",
    "WrapUpEnded",
    "WrapUpExtended",
    "estimate_wait",
]
