"""The runner's pure parts: the port's result mapping, pacer choice, how many calls to place,
the campaign life cycle and retry-rule overrides."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.store import Database
from dialer import compliance
from dialer.attempts import CampaignStats
from dialer.campaigns import TRANSITIONS, retry_policy_of
from dialer.pacing import PredictivePacer, ProgressivePacer
from dialer.ports import AgentLoad, FixedAgents, Result, result_from_sip, result_from_twilio
from dialer.retry import Outcome, RetryRule
from dialer.runner import CampaignRunner, _Call, _View, pacer_for
from dialer.store import Campaign


@pytest.mark.parametrize(
    ("code", "answered", "human", "result"),
    [
        (200, True, True, Result.HUMAN),
        (200, True, False, Result.MACHINE),
        (486, False, True, Result.BUSY),
        (600, False, True, Result.BUSY),
        (408, False, True, Result.NO_ANSWER),
        (480, False, True, Result.NO_ANSWER),
        (487, False, True, Result.NO_ANSWER),
        (503, False, True, Result.FAILED),
        (404, False, True, Result.FAILED),
    ],
)
def test_result_from_sip(code: int, answered: bool, human: bool, result: Result) -> None:
    assert result_from_sip(code, answered, human) is result


@pytest.mark.parametrize(
    ("status", "by", "result"),
    [
        ("completed", "human", Result.HUMAN),
        ("completed", None, Result.HUMAN),
        ("completed", "machine_end_beep", Result.MACHINE),
        ("completed", "fax", Result.MACHINE),
        ("busy", None, Result.BUSY),
        ("no-answer", None, Result.NO_ANSWER),
        ("canceled", None, Result.NO_ANSWER),
        ("failed", None, Result.FAILED),
    ],
)
def test_result_from_twilio(status: str, by: str | None, result: Result) -> None:
    assert result_from_twilio(status, by) is result


def test_pacer_per_dial_mode() -> None:
    assert isinstance(pacer_for("predictive"), PredictivePacer)
    assert isinstance(pacer_for("progressive"), ProgressivePacer)
    assert isinstance(pacer_for("preview"), ProgressivePacer)
    assert pacer_for("agentless") is None


def test_life_cycle_graph() -> None:
    reachable, todo = {"draft"}, ["draft"]
    while todo:
        for nxt in TRANSITIONS[todo.pop()] - reachable:
            reachable.add(nxt)
            todo.append(nxt)
    assert reachable == set(TRANSITIONS)
    assert TRANSITIONS["completed"] == TRANSITIONS["stopped"] == frozenset()
    assert "running" in TRANSITIONS["paused"] and "paused" in TRANSITIONS["running"]


def test_retry_overrides_keep_the_defaults() -> None:
    c = Campaign(
        retry_rules={
            "outcome": {"busy": {"delay_s": 60, "max_retries": 1}, "machine": None},
            "disposition": {"callback": {"delay_s": 600, "max_retries": 2}},
        }
    )
    policy = retry_policy_of(c)
    assert policy.by_outcome[Outcome.BUSY] == RetryRule(timedelta(seconds=60), 1)
    assert policy.by_outcome[Outcome.MACHINE] is None
    assert policy.by_outcome[Outcome.NO_ANSWER] == RetryRule(timedelta(hours=2), 4)
    assert policy.by_disposition["callback"] == RetryRule(timedelta(minutes=10), 2)
    assert policy.by_disposition["sale"] is None


def _view(mode: str, max_lines: int, abandoned: int = 0, human: int = 100) -> _View:
    c = Campaign(
        id=1,
        name="c",
        dial_mode=mode,
        max_lines=max_lines,
        abandon_target=0.03,
        queue="sales",
        window_start=time(9),
        window_end=time(20),
    )
    counts = compliance.AbandonCounts(human + abandoned, abandoned, human + abandoned, abandoned)
    return _View(
        c, CampaignStats(human + abandoned, human, 0, abandoned, 60.0, (5.0,), counts), pending=10
    )


def _runner(available: int, ringing: int = 0) -> CampaignRunner:
    runner = CampaignRunner(
        Database("sqlite://"),
        "c",
        port=None,  # type: ignore[arg-type]
        agents=FixedAgents({"sales": AgentLoad(available=available)}),
        monotonic=lambda: 100.0,
    )
    for i in range(ringing):
        runner._calls[i] = _Call(started=95.0)
    return runner


def test_calls_wanted() -> None:
    assert _runner(0).calls_wanted(_view("agentless", 5)) == 5
    assert _runner(0, ringing=3).calls_wanted(_view("agentless", 5)) == 2
    assert _runner(3, ringing=1).calls_wanted(_view("progressive", 10)) == 2
    assert _runner(8).calls_wanted(_view("progressive", 4)) == 4  # max lines
    assert _runner(8).calls_wanted(_view("predictive", 10, abandoned=4)) == 0  # 3.8 % > 3 %
    snap = _runner(2, ringing=1).snapshot(_view("predictive", 10), AgentLoad(2, (30.0,)))
    assert (snap.calls_ringing_elapsed, snap.agents_busy_elapsed, snap.ring_to_answer_s) == (
        (5.0,),
        (30.0,),
        (5.0,),
    )
    # Persons who answered, the abandoned ones among them (the rate is abandoned / this).
    dropped = _runner(2).snapshot(_view("predictive", 10, abandoned=4), AgentLoad(2))
    assert (dropped.answered_human, dropped.abandoned) == (104, 4)


@given(
    mode=st.sampled_from(["preview", "progressive", "predictive", "agentless"]),
    max_lines=st.integers(1, 50),
    available=st.integers(0, 60),
    ringing=st.integers(0, 60),
    abandoned=st.integers(0, 10),
)
def test_never_more_calls_than_free_lines(
    mode: str, max_lines: int, available: int, ringing: int, abandoned: int
) -> None:
    runner = _runner(available, ringing)
    wanted = runner.calls_wanted(_view(mode, max_lines, abandoned))
    assert 0 <= wanted <= max(0, max_lines - ringing)
    if abandoned > 3:  # over 3 % of ~100 live answers: nothing is dialed
        assert wanted == 0
