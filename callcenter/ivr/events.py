"""Events an adapter feeds into :meth:`FlowSession.handle`.

Every event may carry ``now`` (timezone-aware); ``CallStarted`` must. The
session keeps the latest ``now`` and never reads a clock itself.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from callcenter.ivr.templates import MASK


@dataclass(frozen=True, kw_only=True)
class CallStarted:
    """The call reached the flow. ``variables`` preset flow variables (an outbound
    campaign passes the lead's name, for example)."""

    now: datetime
    caller: str
    dialed: str
    call_id: str = ""
    variables: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class DigitsReceived:
    """Keys the caller pressed in answer to a ``Gather`` (without the finish key).

    Set ``sensitive`` when answering a ``Gather(sensitive=True)``: the digits
    are then masked in this event's repr.
    """

    digits: str
    now: datetime | None = None
    sensitive: bool = False

    def __repr__(self) -> str:
        shown = MASK if self.sensitive else repr(self.digits)
        return f"DigitsReceived(digits={shown}, now={self.now!r}, sensitive={self.sensitive})"


@dataclass(frozen=True)
class GatherTimeout:
    """A ``Gather`` ended with no keys pressed within its timeout."""

    now: datetime | None = None


@dataclass(frozen=True)
class PromptFinished:
    """A ``Say``/``Play`` finished. Informational: the session does not wait for it,
    because prompts are batched with the action that follows them."""

    now: datetime | None = None


class QueueOutcome(enum.StrEnum):
    SERVED = "served"
    """An agent talked to the caller and left; the caller is still on the line."""
    OVERFLOW = "overflow"
    """The queue was full, had no agents, or the caller waited ``max_wait_s``."""
    CALLBACK = "callback"
    """The caller pressed the callback key while waiting."""


@dataclass(frozen=True)
class QueueResult:
    """Answers ``Enqueue``. (A caller hanging up in the queue is ``CallerHungUp``.)"""

    outcome: QueueOutcome
    agent_id: str | None = None
    now: datetime | None = None


@dataclass(frozen=True)
class HttpResult:
    """Answers ``HttpRequest``: ``ok`` with the decoded JSON body, or a failure.

    The adapter sets ``ok=False`` for a timeout, a non-2xx status or a body that is
    not JSON; the flow then takes the node's ``on_failure`` route.
    """

    ok: bool
    status: int = 0
    json: Any = None
    error: str = ""
    now: datetime | None = None


@dataclass(frozen=True)
class RecordingFinished:
    """Answers ``Record``: where the recording is kept and how long it is."""

    recording: str
    duration_s: float = 0.0
    now: datetime | None = None


@dataclass(frozen=True)
class TransferResult:
    """Answers ``Transfer``: ``ok`` means the call left the flow."""

    ok: bool
    reason: str = ""
    now: datetime | None = None


@dataclass(frozen=True)
class CallerHungUp:
    """The caller hung up (at any point)."""

    now: datetime | None = None


Event = (
    CallStarted
    | DigitsReceived
    | GatherTimeout
    | PromptFinished
    | QueueResult
    | HttpResult
    | RecordingFinished
    | TransferResult
    | CallerHungUp
)
