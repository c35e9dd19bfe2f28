"""The interpreter on a flow using every node type: values, masking, sub-flows, guards."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from callcenter.ivr import (
    CallerHungUp,
    CallStarted,
    CreateTicket,
    DigitsReceived,
    Enqueue,
    FlowEnded,
    FlowSession,
    FlowStateError,
    GatherTimeout,
    HangUp,
    HttpRequest,
    HttpResult,
    Play,
    PromptFinished,
    QueueOutcome,
    QueueResult,
    RecordingFinished,
    Say,
    Sensitive,
    SetVariable,
    TransferResult,
    load_flow,
    parse_flow,
    reveal,
)
from tests.unit.ivr.ivr_support import CALLER, FIXTURES, notable, start, walk

NEW_YORK = ZoneInfo("America/New_York")
WEEKDAY = datetime(2025, 3, 4, 15, 0, tzinfo=ZoneInfo("UTC"))  # 10:00 in New York, Tuesday
SATURDAY = datetime(2025, 3, 8, 15, 0, tzinfo=NEW_YORK)
THANKSGIVING = datetime(2025, 11, 27, 10, 0, tzinfo=NEW_YORK)
SINK = load_flow(FIXTURES / "valid" / "kitchen_sink.yaml")
VIP = HttpResult(True, 200, {"customer": {"vip": True, "name": "Ada"}})
NORMAL = HttpResult(True, 200, {"customer": {"vip": False, "name": "Bo"}})


def test_sensitive_digits_are_masked_everywhere_but_the_http_body() -> None:
    session, actions = walk(SINK, [DigitsReceived("4711", sensitive=True)], WEEKDAY)
    request = actions[-1]
    assert isinstance(request, HttpRequest)
    assert request.body is not None and isinstance(request.body["pin"], Sensitive)
    assert reveal(request.body) == {"pin": "4711", "caller": CALLER, "note": "call call-1"}
    assert request.url == "https://auth.example.com/verify?caller=%2B491701234567"
    dumped = (
        repr(actions)
        + repr(session.path)
        + repr(session.variables)
        + repr(DigitsReceived("4711", sensitive=True))
    )
    assert "4711" not in dumped
    assert "****" in repr(session.path)


def test_gather_pattern_and_retries() -> None:
    session, actions = walk(SINK, [DigitsReceived("12a4")], WEEKDAY)
    assert session.waiting_at == "pin"
    assert isinstance(actions[-1].prompts[0], Say)
    assert actions[-1].prompts[0].text == "Sorry, that is not a valid choice."
    _, actions = walk(SINK, [GatherTimeout(), GatherTimeout()], WEEKDAY)
    assert notable(actions) == ["hangup: done", "end"]


def test_set_expressions_and_vip_transfer() -> None:
    session, actions = walk(SINK, [DigitsReceived("4711", sensitive=True), VIP], WEEKDAY)
    assert {
        "tries": 1,
        "pin_length": 4,
        "greeting": "Hi Ada",
        "vip": True,
    }.items() <= session.variables.items()
    assert SetVariable("tries", 1) in actions
    assert notable(actions)[-1] == "transfer sip:vip-desk@example.com"
    done = session.handle(TransferResult(ok=True))
    assert done == [FlowEnded("transferred to sip:vip-desk@example.com", None)]
    assert session.handle(DigitsReceived("1")) == []  # late events are ignored


def test_failed_transfer_falls_back_to_the_queue_with_hold_music() -> None:
    session, _ = walk(SINK, [DigitsReceived("4711", sensitive=True), VIP], WEEKDAY)
    actions = session.handle(TransferResult(ok=False, reason="busy"))
    enqueue = actions[-1]
    assert isinstance(enqueue, Enqueue) and enqueue.queue == "support"
    assert enqueue.hold_music == str(FIXTURES / "valid" / "beep.wav")
    assert enqueue.callback_key == "*"


@pytest.mark.parametrize("now", [SATURDAY, THANKSGIVING])
def test_weekend_and_holiday_go_to_voicemail_and_ticket(now: datetime) -> None:
    session, actions = walk(
        SINK,
        [DigitsReceived("4711", sensitive=True), NORMAL, RecordingFinished("rec/1.wav", 3)],
        now,
    )
    ticket = next(a for a in actions if isinstance(a, CreateTicket))
    assert (ticket.category, ticket.priority, ticket.recording) == (
        "complaint",
        "urgent",
        "rec/1.wav",
    )
    assert ticket.summary == "Hi Bo: message rec/1.wav"
    assert any(isinstance(a, Play) for a in actions)  # the voicemail prompt's audio


def test_survey_failure_opts_out() -> None:
    _, actions = walk(
        SINK,
        [
            DigitsReceived("4711", sensitive=True),
            NORMAL,
            QueueResult(QueueOutcome.SERVED),
            DigitsReceived("9"),
            DigitsReceived("9"),
            DigitsReceived("9"),
        ],
        WEEKDAY,
    )
    assert notable(actions)[-3:] == [f"dnc {CALLER}", "hangup: done", "end"]


def test_queue_callback() -> None:
    _, actions = walk(
        SINK,
        [DigitsReceived("4711", sensitive=True), NORMAL, QueueResult(QueueOutcome.CALLBACK)],
        WEEKDAY,
    )
    assert notable(actions)[-3:] == [f"callback support {CALLER}", "hangup: done", "end"]


def test_subflow_returns_to_the_caller_flow_or_hangs_up_inside() -> None:
    failing = [DigitsReceived("4711", sensitive=True), HttpResult(False, 503)]
    session, actions = walk(SINK, [*failing, DigitsReceived("1")], WEEKDAY)
    assert notable(actions)[-2:] == ["hangup: done", "end"]
    assert [s.flow for s in session.path][-3:] == ["sub", "sub", "kitchen_sink"]
    assert session.variables["http_status"] == 503
    _, actions = walk(SINK, [*failing, DigitsReceived("2")], WEEKDAY)
    assert notable(actions)[-2:] == ["hangup: left in subflow", "end"]


def test_caller_hang_up_ends_without_a_hangup_action() -> None:
    session, _ = start(SINK, WEEKDAY)
    assert session.handle(CallerHungUp()) == [FlowEnded("caller hung up", None)]
    assert session.ended is not None


def test_events_that_do_not_answer_the_waiting_node_are_ignored() -> None:
    session, _ = start(SINK, WEEKDAY)
    assert session.handle(HttpResult(True)) == []
    assert session.handle(PromptFinished()) == []
    assert session.waiting_at == "pin"


def test_misuse_is_a_flow_state_error() -> None:
    with pytest.raises(FlowStateError, match="before CallStarted"):
        FlowSession(SINK).handle(DigitsReceived("1"))
    with pytest.raises(FlowStateError, match="timezone-aware"):
        FlowSession(SINK).handle(CallStarted(now=datetime(2025, 1, 1), caller="1", dialed="2"))
    session, _ = start(SINK, WEEKDAY)
    with pytest.raises(FlowStateError, match="twice"):
        session.handle(CallStarted(now=WEEKDAY, caller="1", dialed="2"))


def test_a_loop_without_input_is_cut_off_at_runtime(tmp_path) -> None:  # noqa: ANN001
    # The validator rejects this flow; an engine that skipped validation must still not hang.
    path = FIXTURES / "invalid" / "loop_without_input.yaml"
    session = FlowSession(parse_flow(path), max_steps=50)
    actions = session.handle(CallStarted(now=WEEKDAY, caller="1", dialed="2"))
    assert isinstance(actions[-2], HangUp) and "more than 50 steps" in actions[-2].reason
    assert isinstance(actions[-1], FlowEnded)


def test_runtime_expression_errors_count_as_false_and_are_recorded(tmp_path) -> None:  # noqa: ANN001
    flow_file = tmp_path / "f.yaml"
    flow_file.write_text(
        "variables: {code: ''}\nnodes:\n  check:\n    type: condition\n    branches:\n"
        "      - when: int(code) > 5\n        next: big\n    else: small\n"
        "  big:\n    type: hangup\n    reason: big\n  small:\n    type: hangup\n"
        "    reason: small\n"
    )
    session, actions = start(load_flow(flow_file), WEEKDAY)
    assert notable(actions) == ["hangup: small", "end"]
    assert any("expression error" in step.detail for step in session.path)
