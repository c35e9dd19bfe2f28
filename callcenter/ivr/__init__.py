"""IVR flows: the YAML flow language, its validator, and a pure interpreter.

- :func:`load_flow` reads and validates a flow file (raises :class:`FlowErrors`);
  :func:`check_flows` returns every :class:`FlowError` of many files.
- :class:`FlowSession` runs one call: ``handle(event) -> list[Action]``, with
  no I/O and no clock (time arrives in events). Events are in
  :mod:`callcenter.ivr.events`, actions in :mod:`callcenter.ivr.actions`.
- :func:`flow_to_dot` / :func:`render_svg` draw a flow for supervisors.

The language itself is documented in ``ivr_flows/README.md``.
"""

from callcenter.ivr.actions import (
    Action,
    AddToDoNotCall,
    CreateTicket,
    Enqueue,
    FlowEnded,
    Gather,
    HangUp,
    HttpRequest,
    Play,
    Record,
    RequestCallback,
    Say,
    SetVariable,
    SurveyAnswer,
    Transfer,
)
from callcenter.ivr.diagram import flow_to_dot, render_svg
from callcenter.ivr.errors import ExpressionError, FlowError, FlowErrors, FlowStateError
from callcenter.ivr.events import (
    CallerHungUp,
    CallStarted,
    DigitsReceived,
    Event,
    GatherTimeout,
    HttpResult,
    PromptFinished,
    QueueOutcome,
    QueueResult,
    RecordingFinished,
    TransferResult,
)
from callcenter.ivr.loader import check_flows, load_flow, parse_flow
from callcenter.ivr.session import FlowSession, PathStep
from callcenter.ivr.source import Flow
from callcenter.ivr.templates import Sensitive, reveal

__all__ = [
    "Action",
    "AddToDoNotCall",
    "CallStarted",
    "CallerHungUp",
    "CreateTicket",
    "DigitsReceived",
    "Enqueue",
    "Event",
    "ExpressionError",
    "Flow",
    "FlowEnded",
    "FlowError",
    "FlowErrors",
    "FlowSession",
    "FlowStateError",
    "Gather",
    "GatherTimeout",
    "HangUp",
    "HttpRequest",
    "HttpResult",
    "PathStep",
    "Play",
    "PromptFinished",
    "QueueOutcome",
    "QueueResult",
    "Record",
    "RecordingFinished",
    "RequestCallback",
    "Say",
    "Sensitive",
    "SetVariable",
    "SurveyAnswer",
    "Transfer",
    "TransferResult",
    "check_flows",
    "flow_to_dot",
    "load_flow",
    "parse_flow",
    "render_svg",
    "reveal",
]
