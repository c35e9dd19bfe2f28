"""Every shipped flow validates, and each of its paths does what the issue asks."""

from __future__ import annotations

from datetime import datetime

import pytest

from callcenter.ivr import (
    CallerHungUp,
    CreateTicket,
    DigitsReceived,
    Event,
    GatherTimeout,
    HttpResult,
    QueueOutcome,
    QueueResult,
    RecordingFinished,
    Say,
    check_flows,
)
from tests.unit.ivr.ivr_support import (
    CALLER,
    CHRISTMAS_10AM,
    DIALED,
    QUEUES,
    SHIPPED,
    SUNDAY_NOON,
    TUESDAY_10AM,
    notable,
    shipped,
    walk,
)

SHIPPED_NAMES = ["main", "after_hours", "csat_survey", "telemarketing_drop", "survey_outbound"]
D = DigitsReceived
T = GatherTimeout()
CRM_OK = HttpResult(True, 200, {"name": "Anna", "tier": "gold"})
CRM_DOWN = HttpResult(False, 0, error="timeout")
SERVED = QueueResult(QueueOutcome.SERVED, agent_id="a7")
VOICEMAIL = RecordingFinished("recordings/vm-1.wav", 12.0)
LOOKUP = "http GET https://crm.example.com/api/accounts/12345678"


def test_every_shipped_flow_validates() -> None:
    files = sorted(SHIPPED.glob("*.yaml"))
    assert {f.stem for f in files} == set(SHIPPED_NAMES)
    assert check_flows(files, QUEUES) == []


def test_shipped_flows_only_use_the_documented_queues() -> None:
    errors = check_flows([SHIPPED / "main.yaml"], {"support"})
    assert {e.message.split("'")[3] for e in errors} == {"sales", "billing"}


MAIN_PATHS: list[tuple[str, datetime, list[Event], list[str]]] = [
    (
        "sales, resolved",
        TUESDAY_10AM,
        [D("1"), D("1"), D("12345678"), CRM_OK, SERVED, D("1")],
        [LOOKUP, "enqueue sales", "hangup: main flow finished", "end"],
    ),
    (
        "support, not resolved -> ticket",
        TUESDAY_10AM,
        [D("1"), D("2"), D("12345678"), CRM_OK, SERVED, D("2")],
        [
            LOOKUP,
            "enqueue support",
            "ticket unresolved_call/high",
            "hangup: main flow finished",
            "end",
        ],
    ),
    (
        "billing, crm down",
        TUESDAY_10AM,
        [D("1"), D("3"), D("12345678"), CRM_DOWN, SERVED, D("1")],
        [LOOKUP, "enqueue billing", "hangup: main flow finished", "end"],
    ),
    (
        "bad account number, then a good one",
        TUESDAY_10AM,
        [D("1"), D("3"), D("12"), D("12345678"), CRM_OK, SERVED, D("1")],
        [LOOKUP, "enqueue billing", "hangup: main flow finished", "end"],
    ),
    (
        "no account number: routed without lookup",
        TUESDAY_10AM,
        [D("1"), D("1"), T, T, SERVED, D("1")],
        ["enqueue sales", "hangup: main flow finished", "end"],
    ),
    (
        "undecided caller goes to support",
        TUESDAY_10AM,
        [T, T, D("7"), T, D("0"), T, T, SERVED, T, T],
        ["enqueue support", "hangup: main flow finished", "end"],
    ),
    (
        "callback instead of waiting",
        TUESDAY_10AM,
        [D("1"), D("2"), T, T, QueueResult(QueueOutcome.CALLBACK)],
        ["enqueue support", f"callback support {CALLER}", "hangup: main flow finished", "end"],
    ),
    (
        "queue overflow -> voicemail ticket",
        TUESDAY_10AM,
        [D("1"), D("1"), T, T, QueueResult(QueueOutcome.OVERFLOW), VOICEMAIL],
        [
            "enqueue sales",
            "voicemail",
            "ticket voicemail/normal",
            "hangup: main flow finished",
            "end",
        ],
    ),
    (
        "closed on Sunday -> voicemail",
        SUNDAY_NOON,
        [D("1"), VOICEMAIL],
        ["voicemail", "ticket voicemail/normal", "hangup: main flow finished", "end"],
    ),
    (
        "closed on a holiday",
        CHRISTMAS_10AM,
        [D("2"), VOICEMAIL],
        ["voicemail", "ticket voicemail/normal", "hangup: main flow finished", "end"],
    ),
    (
        "caller hangs up in the queue",
        TUESDAY_10AM,
        [D("1"), D("1"), T, T, CallerHungUp()],
        ["enqueue sales", "end"],
    ),
]


@pytest.mark.parametrize(
    ("events", "expected", "now"),
    [(p[2], p[3], p[1]) for p in MAIN_PATHS],
    ids=[p[0] for p in MAIN_PATHS],
)
def test_main_paths(events: list[Event], expected: list[str], now: datetime) -> None:
    session, actions = walk(shipped("main"), events, now)
    assert notable(actions) == expected
    assert session.ended is not None


def test_main_speaks_german_after_choosing_2_and_names_the_holiday() -> None:
    _, actions = walk(shipped("main"), [D("2")], CHRISTMAS_10AM)
    says = [a for a in actions if isinstance(a, Say)]
    assert says[-1].language == "de-DE"
    assert says[0].text.startswith("Christmas Day Wir haben gerade geschlossen")


def test_main_escalation_summary_is_rendered_from_the_call() -> None:
    _, actions = walk(shipped("main"), [D("1"), D("2"), D("12345678"), CRM_OK, SERVED, D("2")])
    ticket = next(a for a in actions if isinstance(a, CreateTicket))
    assert ticket.summary == (
        f"Caller {CALLER} (Anna, account 12345678, language en-US) says "
        "the support call call-1 did not resolve the issue."
    )
    assert ticket.caller == CALLER and ticket.call_id == "call-1"


def test_after_hours_voicemail_becomes_a_ticket_with_the_recording() -> None:
    session, actions = walk(shipped("after_hours"), [VOICEMAIL], SUNDAY_NOON)
    ticket = next(a for a in actions if isinstance(a, CreateTicket))
    assert ticket.recording == "recordings/vm-1.wav"
    assert ticket.summary == f"Voicemail from {CALLER} to {DIALED} on 2025-03-09 at 11:00 (en-US)."
    assert notable(actions)[-2:] == ["hangup: flow returned", "end"]


OTHER_PATHS: list[tuple[str, list[Event], list[str]]] = [
    ("csat_survey", [D("5")], ["answer satisfaction=5", "hangup: survey finished", "end"]),
    ("csat_survey", [D("3")], ["answer satisfaction=3", "hangup: survey finished", "end"]),
    (
        "csat_survey",
        [D("2")],
        ["answer satisfaction=2", "ticket complaint/high", "hangup: survey finished", "end"],
    ),
    (
        "csat_survey",
        [D("9"), D("1")],
        ["answer satisfaction=1", "ticket complaint/high", "hangup: survey finished", "end"],
    ),
    ("csat_survey", [T, T], ["hangup: survey finished", "end"]),
    ("telemarketing_drop", [D("9")], [f"dnc {DIALED}", "hangup: drop message played", "end"]),
    ("telemarketing_drop", [D("1"), T], ["hangup: drop message played", "end"]),
    ("telemarketing_drop", [T], ["hangup: drop message played", "end"]),
    (
        "survey_outbound",
        [D("1"), D("4"), D("8"), D("1")],
        [
            "answer satisfaction=4",
            "answer recommend=8",
            "answer wants_contact=1",
            f"callback sales {DIALED}",
            "hangup: survey finished",
            "end",
        ],
    ),
    (
        "survey_outbound",
        [D("1"), D("5"), D("0"), D("2")],
        [
            "answer satisfaction=5",
            "answer recommend=0",
            "answer wants_contact=2",
            "hangup: survey finished",
            "end",
        ],
    ),
    (
        "survey_outbound",
        [D("1"), D("3"), T, T, T],
        ["answer satisfaction=3", "hangup: survey finished", "end"],
    ),
    ("survey_outbound", [D("9")], [f"dnc {DIALED}", "hangup: survey finished", "end"]),
    ("survey_outbound", [T, T], ["hangup: survey finished", "end"]),
    ("survey_outbound", [D("1"), D("7"), T, D("#")], ["hangup: survey finished", "end"]),
]


@pytest.mark.parametrize(
    ("flow", "events", "expected"),
    OTHER_PATHS,
    ids=[f"{p[0]}-{i}" for i, p in enumerate(OTHER_PATHS)],
)
def test_other_paths(flow: str, events: list[Event], expected: list[str]) -> None:
    session, actions = walk(shipped(flow), events, customer_name="Bob")
    assert notable(actions) == expected
    assert session.ended is not None


def test_drop_message_repeats_the_number_on_1() -> None:
    _, actions = walk(shipped("telemarketing_drop"), [D("1")])
    number_says = [a for a in actions if isinstance(a, Say) and "+49 30 1234 5670" in a.text]
    assert len(number_says) == 2


def test_outbound_survey_greets_the_lead_by_name() -> None:
    _, actions = walk(shipped("survey_outbound"), [], customer_name="Bob")
    assert isinstance(actions[0], Say) and actions[0].text.startswith("Hello Bob,")
