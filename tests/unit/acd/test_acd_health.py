"""Self-healing: the voice layer's reports and Router.check_invariants / repair."""

from __future__ import annotations

from callcenter.acd import (
    AgentLoggedIn,
    AgentStateReported,
    CancelOffer,
    ConnectTask,
    OfferAccepted,
    OfferTask,
    QueueConfig,
    ReportedState,
    StateRepaired,
    TaskArrived,
)
from tests.unit.acd.acd_support import Harness, agents, only


def busy_ann() -> Harness:
    h = Harness([QueueConfig("sales")], agents(("ann", {"sales": 0}), ("bob", {"sales": 0})))
    h.at(0, AgentLoggedIn("ann"))
    h.at(0, TaskArrived("c1", "sales"))
    h.at(1, OfferAccepted("c1", "ann"))
    return h


def test_idle_report_completes_a_call_that_ended_unseen() -> None:
    h = busy_ann()
    h.at(2, TaskArrived("c2", "sales"))
    out = h.at(30, AgentStateReported("ann", ReportedState.IDLE))
    assert only(out, StateRepaired)[0].subject == "c1"
    assert "ended unseen" in only(out, StateRepaired)[0].reason
    assert only(out, OfferTask)[0].task_id == "c2"


def test_idle_report_reclaims_a_lost_offer_after_grace() -> None:
    h = Harness([QueueConfig("sales")], agents(("ann", {"sales": 0})))
    h.at(0, AgentLoggedIn("ann"))
    h.at(0, TaskArrived("c1", "sales"))
    assert only(h.at(1, AgentStateReported("ann", ReportedState.IDLE)), StateRepaired) == []
    out = h.at(5, AgentStateReported("ann", ReportedState.IDLE))
    assert "offer reclaimed" in only(out, StateRepaired)[0].reason
    assert only(out, CancelOffer)[0].reason == "the phone is not ringing"


def test_in_call_report_connects_an_unreported_answer() -> None:
    h = Harness([QueueConfig("sales")], agents(("ann", {"sales": 0})))
    h.at(0, AgentLoggedIn("ann"))
    h.at(0, TaskArrived("c1", "sales"))
    out = h.at(3, AgentStateReported("ann", ReportedState.IN_CALL, "c1"))
    assert only(out, ConnectTask)[0].task_id == "c1"


def test_in_call_outside_acd_makes_agent_unavailable_until_idle() -> None:
    h = Harness([QueueConfig("sales")], agents(("ann", {"sales": 0})))
    h.at(0, AgentLoggedIn("ann"))
    h.at(1, AgentStateReported("ann", ReportedState.IN_CALL))
    assert h.router.agent_state("ann") == "busy"  # supervisors see the call
    assert only(h.at(2, TaskArrived("c1", "sales")), OfferTask) == []
    out = h.at(9, AgentStateReported("ann", ReportedState.IDLE))
    assert only(out, OfferTask)[0].task_id == "c1"


def test_offline_report_logs_out_and_ends_the_call() -> None:
    h = busy_ann()
    out = h.at(9, AgentStateReported("ann", ReportedState.OFFLINE))
    reasons = [r.reason for r in only(out, StateRepaired)]
    assert any("offline" in r for r in reasons) and len(reasons) == 2
    assert h.router.agent_state("ann") == "logged_out"


def test_repair_fixes_corrupted_bookkeeping_with_one_event_per_problem() -> None:
    h = busy_ann()
    h.at(2, TaskArrived("c2", "sales"))
    r = h.router
    ann = r._agents["ann"]
    # Corrupt: ann forgets her call and her load says she is free.
    ann.tasks.clear()
    ann.load.clear()
    problems = r.check_invariants()
    assert problems, "corruption must be detected"
    out = r.repair(3)
    assert len(only(out, StateRepaired)) == len(problems)
    assert r.check_invariants() == []
    # c1 was put back to its place (it was connected to nobody) and offered again
    assert {o.task_id for o in only(out, OfferTask)} <= {"c1", "c2"}


def test_repair_on_healthy_state_does_nothing() -> None:
    h = busy_ann()
    assert h.router.repair(5) == []
