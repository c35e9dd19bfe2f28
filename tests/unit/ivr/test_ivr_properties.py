"""Hypothesis: random caller behaviour never crashes a flow, and every call ends."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callcenter.ivr import (
    Action,
    CallerHungUp,
    CallStarted,
    DigitsReceived,
    Enqueue,
    Event,
    FlowEnded,
    FlowSession,
    Gather,
    GatherTimeout,
    HttpRequest,
    HttpResult,
    QueueOutcome,
    QueueResult,
    Record,
    RecordingFinished,
    Transfer,
    TransferResult,
    load_flow,
)
from callcenter.ivr.actions import WAITING_ACTIONS
from tests.unit.ivr.ivr_support import FIXTURES, QUEUES, SHIPPED

FLOWS = {p.stem: load_flow(p, QUEUES) for p in sorted(SHIPPED.glob("*.yaml"))}
FLOWS["kitchen_sink"] = load_flow(FIXTURES / "valid" / "kitchen_sink.yaml")
MAX_EVENTS = 60
"""Every shipped flow must end within this many events once the caller stops typing."""

keys = st.text(alphabet="0123456789*#", min_size=0, max_size=12)
# One move answers whatever the session waits for; the draw picks among the answers.
moves = st.tuples(st.one_of(keys, st.none()), st.integers(0, 99))
starts = st.datetimes(
    min_value=datetime(2024, 1, 1),
    max_value=datetime(2027, 12, 31),
    timezones=st.just(ZoneInfo("Europe/Berlin")),
)


def answer(action: Action, digits: str | None, pick: int) -> Event:
    match action:
        case Gather():
            return (
                GatherTimeout()
                if digits is None
                else DigitsReceived(digits, sensitive=action.sensitive)
            )
        case Enqueue():
            return QueueResult(list(QueueOutcome)[pick % len(QueueOutcome)])
        case HttpRequest():
            return HttpResult(pick % 2 == 0, 200, {"name": "X", "customer": {"vip": pick % 3 == 0}})
        case Record():
            return RecordingFinished(f"rec/{pick}.wav", float(pick))
        case Transfer():
            return TransferResult(pick % 2 == 0, "busy")
    raise AssertionError(f"not a waiting action: {action!r}")


def check_batch(actions: list[Action]) -> None:
    """Each batch waits for exactly one thing or ends the flow, and that comes last."""
    special = [i for i, a in enumerate(actions) if isinstance(a, (*WAITING_ACTIONS, FlowEnded))]
    assert special == [len(actions) - 1], actions


@pytest.mark.parametrize("name", sorted(FLOWS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=st.lists(moves, max_size=25), now=starts, hang_up_at=st.integers(0, 40))
def test_random_callers_never_crash_and_every_call_ends(
    name: str, plan: list[tuple[str | None, int]], now: datetime, hang_up_at: int
) -> None:
    session = FlowSession(FLOWS[name])
    actions = session.handle(
        CallStarted(now=now, caller="+4930111", dialed="+4930222", call_id="c")
    )
    check_batch(actions)
    step = 0
    # The caller follows the plan, then stays silent; silence must end every flow.
    while session.ended is None:
        assert step < len(plan) + MAX_EVENTS, f"{name} did not end: {session.path[-5:]}"
        digits, pick = plan[step] if step < len(plan) else (None, step)
        now += timedelta(seconds=5)
        if step == hang_up_at and hang_up_at % 7 == 0:
            actions = session.handle(CallerHungUp(now=now))
        else:
            actions = session.handle(answer(actions[-1], digits, pick))
        check_batch(actions)
        step += 1
    assert isinstance(actions[-1], FlowEnded)
    assert session.handle(GatherTimeout()) == []
