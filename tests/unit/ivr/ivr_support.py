"""Helpers for driving flow sessions in tests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from callcenter.ivr import (
    Action,
    AddToDoNotCall,
    CallStarted,
    CreateTicket,
    Enqueue,
    Event,
    FlowEnded,
    FlowSession,
    Gather,
    HangUp,
    HttpRequest,
    Record,
    RequestCallback,
    SurveyAnswer,
    Transfer,
    load_flow,
)
from callcenter.ivr.source import Flow

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "ivr_flows"
FIXTURES = Path(__file__).resolve().parent / "flows"
QUEUES = frozenset({"sales", "support", "billing"})
BERLIN = ZoneInfo("Europe/Berlin")
TUESDAY_10AM = datetime(2025, 3, 4, 10, 0, tzinfo=BERLIN)
SUNDAY_NOON = datetime(2025, 3, 9, 12, 0, tzinfo=BERLIN)
CHRISTMAS_10AM = datetime(2025, 12, 25, 10, 0, tzinfo=BERLIN)  # a Thursday
CALLER = "+491701234567"
DIALED = "+493012345670"


def shipped(name: str) -> Flow:
    return load_flow(SHIPPED / f"{name}.yaml", QUEUES)


def start(
    flow: Flow, now: datetime = TUESDAY_10AM, **variables: object
) -> tuple[FlowSession, list[Action]]:
    session = FlowSession(flow)
    actions = session.handle(
        CallStarted(now=now, caller=CALLER, dialed=DIALED, call_id="call-1", variables=variables)
    )
    return session, actions


def walk(
    flow: Flow, events: Iterable[Event], now: datetime = TUESDAY_10AM, **variables: object
) -> tuple[FlowSession, list[Action]]:
    session, actions = start(flow, now, **variables)
    for event in events:
        assert session.ended is None, f"flow ended before {event!r}"
        actions += session.handle(event)
    return session, actions


def notable(actions: Iterable[Action]) -> list[str]:
    """The actions that matter to a path, in a compact form for table tests."""
    out: list[str] = []
    for a in actions:
        match a:
            case HttpRequest():
                out.append(f"http {a.method} {a.url}")
            case Enqueue():
                out.append(f"enqueue {a.queue}")
            case Transfer():
                out.append(f"transfer {a.target}")
            case Record():
                out.append("voicemail" if a.voicemail else "record")
            case CreateTicket():
                out.append(f"ticket {a.category}/{a.priority}")
            case SurveyAnswer():
                out.append(f"answer {a.question_id}={a.value}")
            case RequestCallback():
                out.append(f"callback {a.queue} {a.number}")
            case AddToDoNotCall():
                out.append(f"dnc {a.number}")
            case HangUp():
                out.append(f"hangup: {a.reason}")
            case FlowEnded():
                out.append("end")
    return out


def last_gather(actions: list[Action]) -> Gather:
    gathers = [a for a in actions if isinstance(a, Gather)]
    assert gathers, f"no Gather in {actions!r}"
    return gathers[-1]
