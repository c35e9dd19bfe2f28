"""Tasks assigned to one named agent (``TaskAssigned``): preview calls, promised call-backs."""

from __future__ import annotations

import pytest

from callcenter.acd import (
    AgentLoggedIn,
    AgentPaused,
    AgentStateReported,
    AgentStatsUpdated,
    CancelOffer,
    ConnectTask,
    DuplicateTask,
    InvalidEvent,
    OfferAccepted,
    OfferTask,
    QueueConfig,
    QueueStatsUpdated,
    ReportedState,
    TaskArrived,
    TaskAssigned,
    TaskCompleted,
    TaskTransferred,
    Tick,
    UnknownQueue,
)
from tests.unit.acd.acd_support import Harness, agents, only


def desk(**kw: object) -> Harness:
    q = QueueConfig("outbound", **kw)  # type: ignore[arg-type]
    return Harness([q], agents(("ann", {"outbound": 0}), ("bob", {"outbound": 0})))


def test_a_paused_previewing_agent_is_connected_then_wraps_up_and_stays_paused() -> None:
    h = desk(wrap_up_s=20)
    h.at(0, AgentLoggedIn("ann"))
    h.at(1, AgentPaused("ann", "preview"))
    out = h.at(10, TaskAssigned("p1", "outbound", "ann"))
    assert only(out, ConnectTask) == []  # the adapter connected it: nothing for it to do
    assert h.router.agent_state("ann") == "busy"
    assert h.router.task_status("p1") == "connected"
    h.at(70, TaskCompleted("p1"))
    assert h.router.agent_state("ann") == "wrap_up"
    h.at(91, Tick())
    assert h.router.agent_state("ann") == "paused"  # the preview pause outlasts the call


def test_an_assigned_task_is_not_in_the_queues_statistics_but_in_the_agents() -> None:
    h = desk(wrap_up_s=0)
    h.at(0, AgentLoggedIn("ann"))
    h.at(0, AgentPaused("ann", "preview"))
    h.at(10, TaskAssigned("p1", "outbound", "ann"))
    h.at(70, TaskCompleted("p1"))
    out = h.at(80, Tick())
    q = only(out, QueueStatsUpdated)[0].stats if only(out, QueueStatsUpdated) else None
    assert q is None or (q.offered, q.answered, q.aht_s) == (0, 0, 0.0)
    a = only(out, AgentStatsUpdated)[0].stats
    assert (a.tasks, a.talk_time_s) == (1, 60.0)


def test_an_available_agent_assigned_a_task_takes_no_queue_task_meanwhile() -> None:
    h = desk()
    h.at(0, AgentLoggedIn("ann"))
    h.at(5, TaskAssigned("p1", "outbound", "ann"))
    out = h.at(6, TaskArrived("c1", "outbound"))
    assert only(out, OfferTask) == []  # ann is busy, bob logged out
    out = h.at(30, TaskCompleted("p1"))
    assert [o.task_id for o in only(out, OfferTask)] == ["c1"]


def test_an_offer_ringing_for_the_agent_is_taken_back_and_goes_to_another() -> None:
    h = desk()
    h.at(0, AgentLoggedIn("ann"))
    h.at(1, AgentLoggedIn("bob"))
    h.at(2, AgentPaused("bob", "lunch"))
    h.at(3, TaskArrived("c1", "outbound"))
    out = h.at(4, TaskAssigned("p1", "outbound", "ann"))
    assert only(out, CancelOffer) == [CancelOffer("c1", "ann", "assigned task p1")]
    assert h.router.task_status("c1") == "waiting"
    out = h.at(5, OfferAccepted("c1", "ann"))  # a late answer of the withdrawn offer
    assert only(out, CancelOffer) and h.router.task_status("c1") == "waiting"


def test_a_phone_reported_busy_becomes_the_assigned_task() -> None:
    h = desk()
    h.at(0, AgentLoggedIn("ann"))
    h.at(1, AgentStateReported("ann", ReportedState.IN_CALL, "p1"))
    h.at(2, TaskAssigned("p1", "outbound", "ann"))
    h.at(30, TaskCompleted("p1"))
    assert h.router.agent_state("ann") == "available"


def test_an_idle_phone_completes_an_assigned_call_nobody_ended() -> None:
    h = desk()
    h.at(0, AgentLoggedIn("ann"))
    h.at(2, TaskAssigned("p1", "outbound", "ann"))
    h.at(40, AgentStateReported("ann", ReportedState.IDLE))
    assert h.router.task_status("p1") is None
    assert h.router.agent_state("ann") == "available"


def test_a_transferred_assigned_task_joins_the_line_like_any_other() -> None:
    h = Harness(
        [QueueConfig("outbound"), QueueConfig("billing")],
        agents(("ann", {"outbound": 0}), ("bob", {"billing": 0})),
    )
    h.at(0, AgentLoggedIn("ann"))
    h.at(0, AgentLoggedIn("bob"))
    h.at(1, TaskAssigned("p1", "outbound", "ann"))
    out = h.at(20, TaskTransferred("p1", "billing"))
    assert [(o.task_id, o.agent_id) for o in only(out, OfferTask)] == [("p1", "bob")]
    h.at(22, OfferAccepted("p1", "bob"))
    h.at(80, TaskCompleted("p1"))
    q = h.router.queue_stats("billing", 81)
    assert (q.offered, q.answered) == (1, 1)


def test_assignments_that_cannot_be_kept_are_refused_clearly() -> None:
    h = desk()
    with pytest.raises(InvalidEvent, match="logged out"):
        h.at(0, TaskAssigned("p1", "outbound", "ann"))
    h.at(1, AgentLoggedIn("ann"))
    with pytest.raises(UnknownQueue):
        h.at(2, TaskAssigned("p1", "nowhere", "ann"))
    h.at(3, TaskAssigned("p1", "outbound", "ann"))
    with pytest.raises(DuplicateTask):
        h.at(4, TaskAssigned("p1", "outbound", "ann"))
    with pytest.raises(InvalidEvent, match="capacity 1") as err:
        h.at(5, TaskAssigned("p2", "outbound", "ann"))
    assert "complete one of the agent's tasks" in str(err.value)
