"""Escalation rules: which call outcomes become a complaint ticket, and with what.

Each event describes something that happened to a call; :func:`escalate` returns the
:class:`Escalation` to file, or ``None``. An escalation carries an idempotency key derived
from the call and the rule, so a retried or replayed event files the same escalation again
and the store turns it into the one ticket it already made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .model import Channel, Priority, Status


@dataclass(frozen=True)
class Customer:
    number: str | None = None
    email: str | None = None
    name: str = ""


@dataclass(frozen=True)
class EscalationRules:
    unresolved_dispositions: frozenset[str] = frozenset({"unresolved", "complaint", "callback"})
    abandon_after_s: float | None = 60.0
    survey_threshold: int | None = 2
    repeat_caller_s: float | None = None
    voicemail: bool = True


# --- events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IvrEscalated:
    """The IVR's ``escalate`` node ran (``callcenter.ivr.CreateTicket``)."""

    call_id: str
    caller: str
    category: str
    priority: Priority
    summary: str
    waiting_since: datetime
    recording: str | None = None


@dataclass(frozen=True)
class CallDispositioned:
    call_id: str
    caller: str
    disposition: str
    agent: str
    waiting_since: datetime
    notes: str = ""
    recording: str | None = None


@dataclass(frozen=True)
class CallAbandoned:
    call_id: str
    caller: str
    queue: str
    waited_s: float
    waiting_since: datetime


@dataclass(frozen=True)
class VoicemailLeft:
    call_id: str
    caller: str
    recording: str
    waiting_since: datetime


@dataclass(frozen=True)
class SurveyScored:
    call_id: str
    caller: str
    survey: str
    score: int
    answers: tuple[tuple[str, int], ...] = ()
    waiting_since: datetime | None = None


@dataclass(frozen=True)
class CallerCalledAgain:
    call_id: str
    caller: str
    previous_call_id: str
    previous_at: datetime
    waiting_since: datetime


EscalationEvent = (
    IvrEscalated
    | CallDispositioned
    | CallAbandoned
    | VoicemailLeft
    | SurveyScored
    | CallerCalledAgain
)


# --- result ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Escalation:
    key: str
    """Idempotency key: the same escalation always has the same key."""
    source: str
    customer: Customer
    category: str
    priority: Priority
    summary: str
    waiting_since: datetime
    channel: Channel = Channel.PHONE
    call_id: str | None = None
    recording: str | None = None
    agent: str | None = None
    notes: str = ""
    survey_answers: tuple[tuple[str, int], ...] = ()


def escalate(event: EscalationEvent, rules: EscalationRules, now: datetime) -> Escalation | None:
    """The escalation ``event`` calls for under ``rules``, or ``None``."""
    match event:
        case IvrEscalated():
            return Escalation(
                f"ivr:{event.call_id}",
                "ivr",
                Customer(event.caller),
                event.category,
                event.priority,
                event.summary,
                event.waiting_since,
                call_id=event.call_id,
                recording=event.recording,
            )
        case CallDispositioned() if event.disposition in rules.unresolved_dispositions:
            return Escalation(
                f"disposition:{event.call_id}",
                "disposition",
                Customer(event.caller),
                event.disposition,
                Priority.NORMAL,
                f"Not resolved on the call ({event.disposition})",
                event.waiting_since,
                call_id=event.call_id,
                recording=event.recording,
                agent=event.agent,
                notes=event.notes,
            )
        case CallAbandoned() if (
            rules.abandon_after_s is not None and event.waited_s >= rules.abandon_after_s
        ):
            return Escalation(
                f"abandon:{event.call_id}",
                "abandon",
                Customer(event.caller),
                "callback",
                Priority.HIGH,
                f"Call back: hung up after waiting {event.waited_s:.0f} s in {event.queue}",
                event.waiting_since,
                call_id=event.call_id,
            )
        case VoicemailLeft() if rules.voicemail:
            return Escalation(
                f"voicemail:{event.call_id}",
                "voicemail",
                Customer(event.caller),
                "voicemail",
                Priority.NORMAL,
                "Voicemail left",
                event.waiting_since,
                call_id=event.call_id,
                recording=event.recording,
            )
        case SurveyScored() if (
            rules.survey_threshold is not None and event.score <= rules.survey_threshold
        ):
            return Escalation(
                f"survey:{event.call_id}:{event.survey}",
                "survey",
                Customer(event.caller),
                "complaint",
                Priority.HIGH,
                f"Survey {event.survey}: score {event.score}",
                event.waiting_since or now,
                call_id=event.call_id,
                survey_answers=event.answers,
            )
        case CallerCalledAgain() if (
            rules.repeat_caller_s is not None
            and now - event.previous_at <= timedelta(seconds=rules.repeat_caller_s)
        ):
            return Escalation(
                f"repeat:{event.call_id}",
                "repeat_caller",
                Customer(event.caller),
                "repeat",
                Priority.NORMAL,
                f"Called again after {event.previous_call_id}",
                event.waiting_since,
                call_id=event.call_id,
            )
    return None


def ticket_to_join(candidates: Sequence[tuple[int, Status]]) -> int | None:
    """Of a customer's tickets (number, status), the open one a new escalation joins:
    the newest that is neither resolved nor closed; ``None`` means open a new ticket."""
    live = [n for n, status in candidates if status not in (Status.RESOLVED, Status.CLOSED)]
    return max(live) if live else None
