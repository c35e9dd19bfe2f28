"""Back-office tickets, the pure core: escalation, life cycle, SLA clocks, routing, mail rules.

No I/O and no clock reads: time comes in as ``now``; ``callcenter.backoffice`` applies the
actions to the store, the bus, mail and chat.

- :mod:`.escalation`: which call outcomes (IVR ``escalate`` node, unresolved disposition,
  long-wait abandon, voicemail, low survey score, repeat caller) become a ticket
  (:func:`escalate` -> :class:`Escalation` with an idempotency key) and which open ticket of
  the customer they join (:func:`ticket_to_join`).
- :mod:`.lifecycle`: :class:`TicketLifecycle` ``.handle(event, now) -> list[Action]`` over
  new / open / pending customer / resolved / closed, reopen, merge, SLA checks.
- :mod:`.sla`: :class:`SlaPlan` per priority on business hours or 24x7, :class:`SlaClock`.
- :mod:`.routing`: the :class:`TaskAssigner` interface and :class:`LeastLoadedAssigner`.
- :mod:`.mail_rules`: ticket tags in subjects, reply threading, auto-reply and loop detection.
"""

from .escalation import (
    CallAbandoned,
    CallDispositioned,
    CallerCalledAgain,
    Customer,
    Escalation,
    EscalationEvent,
    EscalationRules,
    IvrEscalated,
    SurveyScored,
    VoicemailLeft,
    escalate,
    ticket_to_join,
)
from .lifecycle import (
    CLOCK_RUNS,
    TRANSITIONS,
    Action,
    AgentReplied,
    Assigned,
    CallbackOffered,
    CustomerWrote,
    Escalated,
    Event,
    Merged,
    MergedInto,
    PriorityChanged,
    PriorityRequested,
    SlaBreached,
    StatusChanged,
    StatusRequested,
    Tick,
    TicketLifecycle,
    TicketState,
)
from .model import (
    Channel,
    InvalidTransition,
    Priority,
    SlaConfigError,
    Status,
    TicketError,
    ticket_ref,
)
from .routing import Assignment, BackofficeTask, LeastLoadedAssigner, TaskAssigner
from .sla import SlaClock, SlaPlan, SlaPlans, add_calendar_seconds, calendar_seconds

__all__ = [
    "CLOCK_RUNS",
    "TRANSITIONS",
    "Action",
    "AgentReplied",
    "Assigned",
    "Assignment",
    "BackofficeTask",
    "CallAbandoned",
    "CallDispositioned",
    "CallbackOffered",
    "CallerCalledAgain",
    "Channel",
    "Customer",
    "CustomerWrote",
    "Escalated",
    "Escalation",
    "EscalationEvent",
    "EscalationRules",
    "Event",
    "InvalidTransition",
    "IvrEscalated",
    "LeastLoadedAssigner",
    "Merged",
    "MergedInto",
    "Priority",
    "PriorityChanged",
    "PriorityRequested",
    "SlaBreached",
    "SlaClock",
    "SlaConfigError",
    "SlaPlan",
    "SlaPlans",
    "Status",
    "StatusChanged",
    "StatusRequested",
    "SurveyScored",
    "TaskAssigner",
    "TicketError",
    "TicketLifecycle",
    "TicketState",
    "Tick",
    "VoicemailLeft",
    "add_calendar_seconds",
    "calendar_seconds",
    "escalate",
    "ticket_ref",
    "ticket_to_join",
]
