"""Actions :meth:`FlowSession.handle` returns, for an adapter to perform in order.

Each maps onto one TwiML verb and one pjsua2 operation. A list of actions
is "play these, notify those, then do the last one"; at most one action in a
list waits for an answer, and it is always the last before ``FlowEnded``:

============== ======================================= ============================
action         TwiML / pjsua2                          event expected back
============== ======================================= ============================
Say            <Say> / espeak-ng WAV + AudioMediaPlayer (none; PromptFinished optional)
Play           <Play> / AudioMediaPlayer               (none; PromptFinished optional)
Gather         <Gather> / DTMF collection              DigitsReceived or GatherTimeout
Enqueue        <Enqueue> / ACD queue                   QueueResult
Transfer       <Dial> / xfer or B2BUA bridge           TransferResult
Record         <Record> / AudioMediaRecorder           RecordingFinished
HttpRequest    (server side) / (server side)           HttpResult
HangUp         <Hangup> / call.hangup()                (none)
============== ======================================= ============================

``SurveyAnswer``, ``CreateTicket``, ``RequestCallback``, ``AddToDoNotCall`` and
``SetVariable`` are notifications for the engine (store, tickets, ACD, dialer);
they expect nothing back. ``FlowEnded`` is always the last action of a session.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Say:
    text: str
    language: str
    voice: str | None = None


@dataclass(frozen=True)
class Play:
    file: str
    """An absolute path (resolved against the flow file) or a URL."""


Prompt = Say | Play


@dataclass(frozen=True)
class Gather:
    """Play ``prompts`` (the caller may barge in) and collect keys.

    Input ends after ``num_digits`` keys, at ``finish_key`` (not included in the
    digits), or ``timeout_s`` after the last key; no key at all is a GatherTimeout.
    """

    prompts: tuple[Prompt, ...]
    timeout_s: float
    num_digits: int | None = None
    max_digits: int = 20
    finish_key: str | None = None
    sensitive: bool = False
    """Do not log, record or display the digits; answer with DigitsReceived(sensitive=True)."""


@dataclass(frozen=True)
class Enqueue:
    queue: str
    priority: int = 0
    skills: tuple[str, ...] = ()
    announce_position: bool = True
    announce_wait_time: bool = True
    announce_every_s: float = 60.0
    announcements: tuple[Prompt, ...] = ()
    hold_music: str | None = None
    max_wait_s: float | None = None
    callback_key: str | None = None


@dataclass(frozen=True)
class Transfer:
    target: str
    """A SIP URI (``sip:desk@example.com``) or a phone number (``+4930123456``)."""
    timeout_s: float = 30.0


@dataclass(frozen=True)
class Record:
    max_s: int
    beep: bool = True
    finish_key: str | None = "#"
    voicemail: bool = False


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    timeout_s: float
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, object] | None = None
    """Values may be ``Sensitive``; serialise with ``templates.reveal(body)``."""


@dataclass(frozen=True)
class SurveyAnswer:
    survey: str
    question_id: str
    value: int


@dataclass(frozen=True)
class CreateTicket:
    category: str
    priority: str
    summary: str
    caller: str
    call_id: str
    recording: str | None = None


@dataclass(frozen=True)
class RequestCallback:
    """Ask the ACD to call ``number`` back from ``queue`` instead of the caller waiting."""

    queue: str
    number: str
    priority: int = 0


@dataclass(frozen=True)
class AddToDoNotCall:
    number: str
    reason: str = "caller opted out"


@dataclass(frozen=True)
class SetVariable:
    """A flow variable changed (for the IVR path in the call record)."""

    name: str
    value: object


@dataclass(frozen=True)
class HangUp:
    reason: str


@dataclass(frozen=True)
class FlowEnded:
    """The session is over; nothing more will be returned."""

    reason: str
    node: str | None = None


Action = (
    Say
    | Play
    | Gather
    | Enqueue
    | Transfer
    | Record
    | HttpRequest
    | SurveyAnswer
    | CreateTicket
    | RequestCallback
    | AddToDoNotCall
    | SetVariable
    | HangUp
    | FlowEnded
)
WAITING_ACTIONS = (Gather, Enqueue, Transfer, Record, HttpRequest)
