"""What the campaign runner needs from a voice layer and from the ACD: two small protocols.

:class:`OutboundPort` places one call and returns how it ended. It is a coroutine per call
plus a progress callback, so a voice layer implements it with what it has:

- **SIP** (:class:`~callcenter.voice.sip.stack.SipStack`): ``leg = await stack.call(uri,
  caller_id)``; ``LegRinging`` -> ``await report(Ringing())``; after ``ring_timeout_s`` without
  ``LegAnswered`` hang up (no answer); ``LegAnswered`` + AMD on the first seconds of audio ->
  ``await report(Answered(human=...))``, then hand the leg to an agent of ``request.queue``
  (the ACD), to ``request.agent`` when set (preview dialing: the agent who chose the lead), or
  run the survey ``request.flow``; an opt-out key -> ``await report(OptedOut())``
  at once; each survey answer -> ``await report(AnswerGiven(q, v))``; ``LegEnded(code)`` ->
  :func:`result_from_sip` and return the :class:`CallOutcome`.
- **Twilio** (:func:`callcenter.voice.twilio.outbound.dial`): ``calls.create`` with
  ``timeout=ring_timeout_s`` and async AMD; the status callbacks ``ringing`` / ``answered`` /
  the AMD callback feed ``report``; ``completed`` / ``busy`` / ``no-answer`` / ``failed``
  resolve the coroutine through :func:`result_from_twilio`.

Either way the adapter writes the call's CDR (``CallLog(direction="outbound")``) and returns
its id in :attr:`CallOutcome.call_id`; the runner links the attempt to it. ``attempt_key`` is
unique per attempt: an adapter may use it to refuse placing the same attempt twice.

:class:`AgentPool` tells the runner how many agents of a queue are free, talking or in wrap-up
(the pacer's inputs). Pure data here; no I/O in this module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Result(StrEnum):
    """How an attempt ended (the ``attempts.outcome`` column)."""

    BUSY = "busy"
    NO_ANSWER = "no_answer"
    MACHINE = "machine"
    HUMAN = "human"  # a person answered and was served (agent or survey flow)
    FAILED = "failed"
    ABANDONED = "abandoned"  # a person answered and got no agent within 2 s


@dataclass(frozen=True)
class DialRequest:
    """One call the runner wants placed."""

    attempt_key: str
    campaign: str
    kind: str  # telemarketing | survey
    number: str  # E.164
    caller_id: str
    lead_fields: Mapping[str, str]
    ring_timeout_s: float  # never under 15 s (dialer.compliance.ring_timeout_s)
    flow: str | None = None  # survey flow / agent script
    queue: str | None = None  # the agents' queue (telemarketing)
    amd: bool = False  # screen answered calls for answering machines (the campaign's choice)
    # Preview dialing: the agent who chose the lead and waits for this call. A person who
    # answers goes to that agent (no queue, no ACD choice); None: the queue's agents.
    agent: str | None = None
    script: str = ""  # the campaign's agent script with this lead's fields in (screen pop)

    def screen_pop(self) -> dict[str, object]:
        """What the agent's desktop shows when the call reaches them."""
        pop: dict[str, object] = {"campaign": self.campaign, "number": self.number,
                                  "lead": dict(self.lead_fields)}
        return pop | ({"script": self.script} if self.script else {})


@dataclass(frozen=True)
class Ringing:
    """The called phone rings (180 / 183, Twilio ``ringing``)."""


@dataclass(frozen=True)
class Answered:
    """Someone picked up; ``human`` is the AMD verdict (True when no AMD ran)."""

    human: bool = True


@dataclass(frozen=True)
class OptedOut:
    """The called party pressed the opt-out key: the number goes on the DNC list at once."""

    digit: str = "9"


@dataclass(frozen=True)
class AnswerGiven:
    """A survey answer (question id and value), stored as it is given."""

    question: str
    value: str


CallProgress = Ringing | Answered | OptedOut | AnswerGiven
ProgressSink = Callable[[CallProgress], Awaitable[None]]


@dataclass(frozen=True)
class CallOutcome:
    """How the call ended. ``ring_s`` is dial-to-answer (or to give-up) time."""

    result: Result
    call_id: str | None = None  # the CDR's calls.id
    ring_s: float | None = None
    talk_s: float | None = None
    disposition: str | None = None  # set by the agent (telemarketing)
    cause: str = ""  # SIP status / Twilio CallStatus, for the record
    opted_out: bool = False
    answers: tuple[AnswerGiven, ...] = ()


class OutboundPort(Protocol):
    """Places calls for the dialer: one coroutine per call, resolved when the call ends."""

    async def place(self, request: DialRequest, report: ProgressSink) -> CallOutcome: ...


@dataclass(frozen=True)
class AgentLoad:
    """The agents of a queue as the pacer needs them (elapsed times in seconds)."""

    available: int = 0
    busy_elapsed: tuple[float, ...] = ()
    wrapup_elapsed: tuple[float, ...] = ()
    mean_wrap_s: float | None = None


class AgentPool(Protocol):
    def load(self, queue: str) -> AgentLoad: ...


@dataclass
class FixedAgents:
    """An :class:`AgentPool` with set numbers per queue (tests, previews, simulations)."""

    loads: dict[str, AgentLoad] = field(default_factory=dict)

    def load(self, queue: str) -> AgentLoad:
        return self.loads.get(queue, AgentLoad())


_BUSY = {486, 600}
_NO_ANSWER = {408, 480, 487}  # timeout, unavailable, cancelled by us at the ring timeout


def result_from_sip(code: int, answered: bool, human: bool = True) -> Result:
    """The attempt's result from the last SIP status of an outbound leg."""
    if answered:
        return Result.HUMAN if human else Result.MACHINE
    if code in _BUSY:
        return Result.BUSY
    if code in _NO_ANSWER:
        return Result.NO_ANSWER
    return Result.FAILED


def result_from_twilio(call_status: str, answered_by: str | None = None) -> Result:
    """The attempt's result from Twilio's final ``CallStatus`` and ``AnsweredBy``."""
    match call_status:
        case "busy":
            return Result.BUSY
        case "no-answer" | "canceled":
            return Result.NO_ANSWER
        case "completed":
            machine = answered_by is not None and answered_by.startswith(("machine", "fax"))
            return Result.MACHINE if machine else Result.HUMAN
        case _:
            return Result.FAILED
