"""Router behaviour: offers, answers, timeouts, wrap-up, priorities, tiers, overflow."""

from __future__ import annotations

import pytest

from callcenter.acd import (
    ACDConfigError,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPaused,
    AgentProfile,
    AgentReady,
    AgentState,
    AgentStateChanged,
    AgentStatsUpdated,
    AnnouncePosition,
    CallbackRequested,
    CancelOffer,
    Channel,
    ConnectTask,
    DuplicateTask,
    OfferAccepted,
    OfferRejected,
    OfferTask,
    OfferTimedOut,
    OverflowKind,
    OverflowTarget,
    OverflowTask,
    PenaltyRule,
    QueueConfig,
    QueueStatsUpdated,
    Strategy,
    TaskAbandoned,
    TaskArrived,
    TaskCompleted,
    TaskTransferred,
    Tick,
    TimeWentBackwards,
    UnknownAgent,
    UnknownQueue,
    WrapUpEnded,
    WrapUpExtended,
)
from tests.unit.acd.acd_support import Harness, agents, only


def one_queue(**kw: object) -> Harness:
    q = QueueConfig("sales", **kw)  # type: ignore[arg-type]
    return Harness([q], agents(("ann", {"sales": 0}), ("bob", {"sales": 0})))


def test_task_goes_to_longest_idle_agent_and_connects() -> None:
    h = one_queue()
    h.at(0, AgentLoggedIn("bob"))
    h.at(1, AgentLoggedIn("ann"))
    out = h.at(5, TaskArrived("c1", "sales"))
    assert only(out, OfferTask) == [OfferTask("c1", "bob", "sales", 15.0, False)]
    out = h.at(8, OfferAccepted("c1", "bob"))
    assert only(out, ConnectTask) == [ConnectTask("c1", "bob", "sales", 3.0)]
    assert h.router.agent_state("bob") == "busy"


def test_task_status_follows_the_task() -> None:
    h = one_queue()
    h.at(0, TaskArrived("c1", "sales"))
    assert h.router.task_status("c1") == "waiting"
    h.at(1, AgentLoggedIn("bob"))
    assert h.router.task_status("c1") == "offered"
    h.at(2, OfferAccepted("c1", "bob"))
    assert h.router.task_status("c1") == "connected"
    h.at(3, TaskCompleted("c1"))
    assert h.router.task_status("c1") is None and h.router.task_status("nope") is None


def test_waiting_task_goes_to_agent_who_frees_and_fifo_among_equals() -> None:
    h = one_queue()
    h.at(0, AgentLoggedIn("ann"))
    h.at(1, TaskArrived("c1", "sales"))
    h.at(2, OfferAccepted("c1", "ann"))
    for i, t in enumerate([3, 4, 5], start=2):
        h.at(t, TaskArrived(f"c{i}", "sales"))
    assert h.router.position("c2") == 1 and h.router.position("c4") == 3
    out = h.at(10, TaskCompleted("c1"))
    assert only(out, OfferTask)[0].task_id == "c2"


def test_priority_first_then_fifo() -> None:
    h = one_queue()
    h.at(0, AgentLoggedIn("ann"))
    h.at(0, TaskArrived("busy", "sales"))
    h.at(0, OfferAccepted("busy", "ann"))
    h.at(1, TaskArrived("low-old", "sales", priority=0))
    h.at(2, TaskArrived("high-a", "sales", priority=5))
    h.at(3, TaskArrived("high-b", "sales", priority=5))
    order = []
    for t in (10, 20, 30):
        out = h.at(t, TaskCompleted(h.router._agents["ann"].tasks.copy().popitem()[0]))
        offer = only(out, OfferTask)[0]
        order.append(offer.task_id)
        h.at(t, OfferAccepted(offer.task_id, "ann"))
    assert order == ["high-a", "high-b", "low-old"]


def test_priority_ageing_lets_an_old_task_overtake() -> None:
    # age_rate 0.1 point/s: after 60 s, a priority-0 task counts as 6 > 5.
    h = one_queue(age_rate=0.1)
    h.at(0, AgentLoggedIn("ann"))
    h.at(0, TaskArrived("busy", "sales"))
    h.at(0, OfferAccepted("busy", "ann"))
    h.at(1, TaskArrived("old", "sales", priority=0))
    h.at(59, TaskArrived("vip", "sales", priority=5))
    out = h.at(70, TaskCompleted("busy"))
    assert only(out, OfferTask)[0].task_id == "old"


def test_no_answer_requeues_in_place_and_blocks_agent_for_retry_delay() -> None:
    h = one_queue(no_answer_timeout_s=10, retry_delay_s=5)
    h.at(0, AgentLoggedIn("ann"))
    h.at(1, TaskArrived("c1", "sales"))
    out = h.at(11, Tick())
    assert only(out, CancelOffer) == [CancelOffer("c1", "ann", "no answer within 10 s")]
    assert h.router.position("c1") == 1
    assert h.router.next_deadline() == 16
    out = h.at(16, Tick())
    assert only(out, OfferTask) == [OfferTask("c1", "ann", "sales", 10, False)]


def test_auto_pause_after_k_no_answers_with_reason() -> None:
    q = QueueConfig("sales", no_answer_timeout_s=10, retry_delay_s=0)
    h = Harness([q], [AgentProfile("ann", {"sales": 0}, max_no_answers=2)])
    h.at(0, AgentLoggedIn("ann"))
    h.at(0, TaskArrived("c1", "sales"))
    h.at(10, Tick())  # first no-answer: offered again at once (retry delay 0)
    out = h.at(20, Tick())
    changes = only(out, AgentStateChanged)
    assert changes[-1].state is AgentState.PAUSED
    assert "auto-pause: 2 offers unanswered" in changes[-1].reason
    assert h.router.position("c1") == 1


def test_reject_delay_then_offer_again() -> None:
    q = QueueConfig("sales")
    h = Harness([q], [AgentProfile("ann", {"sales": 0}, reject_delay_s=7)])
    h.at(0, AgentLoggedIn("ann"))
    h.at(0, TaskArrived("c1", "sales"))
    assert only(h.at(1, OfferRejected("c1", "ann")), OfferTask) == []
    assert only(h.at(8, Tick()), OfferTask)[0].agent_id == "ann"


def test_offer_timed_out_reported_by_adapter_counts_as_no_answer() -> None:
    h = one_queue()
    h.at(0, AgentLoggedIn("ann"))
    h.at(0, TaskArrived("c1", "sales"))
    h.at(3, OfferTimedOut("c1", "ann"))
    assert h.router.agent_stats("ann", 3).no_answers == 1
    # a late accept of the reclaimed offer is refused, not connected
    out = h.at(4, OfferAccepted("c1", "ann"))
    assert only(out, ConnectTask) == [] and only(out, CancelOffer)


def test_wrap_up_ends_by_itself_and_can_be_extended_or_ended() -> None:
    h = one_queue(wrap_up_s=30)
    h.at(0, AgentLoggedIn("ann"))
    h.at(0, TaskArrived("c1", "sales"))
    h.at(1, OfferAccepted("c1", "ann"))
    h.at(2, TaskArrived("c2", "sales"))
    h.at(60, TaskCompleted("c1"))
    assert h.router.agent_state("ann") == "wrap_up"
    h.at(70, WrapUpExtended("ann", 20))
    assert only(h.at(95, Tick()), OfferTask) == []  # old end (90) no longer applies
    assert only(h.at(110, Tick()), OfferTask)[0].task_id == "c2"
    h.at(111, OfferAccepted("c2", "ann"))
    h.at(120, TaskCompleted("c2"))
    h.at(121, TaskArrived("c3", "sales"))
    assert only(h.at(125, WrapUpEnded("ann")), OfferTask)[0].task_id == "c3"


def test_the_pause_reason_the_wrap_up_end_and_a_resume_with_its_reason() -> None:
    h = one_queue(wrap_up_s=30)
    h.at(0, AgentLoggedIn("ann"))
    assert h.router.pause_reason("ann") is None and h.router.wrap_up_until("ann") is None
    h.at(1, AgentPaused("ann", "desktop closed"))
    assert h.router.pause_reason("ann") == "desktop closed"
    h.at(2, AgentPaused("ann", "meeting"))  # paused again: the new reason stands
    assert h.router.pause_reason("ann") == "meeting"
    changed = only(h.at(3, AgentReady("ann", "desktop open again")), AgentStateChanged)
    assert [c.reason for c in changed] == ["desktop open again"]
    assert h.router.pause_reason("ann") is None
    h.at(4, TaskArrived("c1", "sales"))
    h.at(5, OfferAccepted("c1", "ann"))
    h.at(10, TaskCompleted("c1"))
    assert h.router.wrap_up_until("ann") == 40
    h.at(11, WrapUpExtended("ann", 15))
    assert h.router.wrap_up_until("ann") == 55
    h.at(12, AgentLoggedOut("ann"))
    assert h.router.pause_reason("ann") is None and h.router.wrap_up_until("ann") is None


def test_required_skills_and_min_levels() -> None:
    q = QueueConfig("fr", required_skills={"french": 3})
    h = Harness(
        [q],
        [
            AgentProfile("weak", {"fr": 0}, skills={"french": 2}),
            AgentProfile("strong", {"fr": 0}, skills={"french": 4, "billing": 1}),
        ],
    )
    h.at(0, AgentLoggedIn("weak"))
    h.at(1, AgentLoggedIn("strong"))
    assert only(h.at(2, TaskArrived("c1", "fr")), OfferTask)[0].agent_id == "strong"
    h.at(3, OfferAccepted("c1", "strong"))
    # a task needing billing 2 waits: nobody qualifies
    assert only(h.at(4, TaskArrived("c2", "fr", skills={"billing": 2})), OfferTask) == []
    assert h.router.position("c2") == 1


def test_best_skill_strategy_prefers_the_most_skilled() -> None:
    q = QueueConfig("fr", strategy=Strategy.BEST_SKILL, required_skills={"french": 1})
    h = Harness(
        [q],
        [
            AgentProfile("a", {"fr": 0}, skills={"french": 2}),
            AgentProfile("b", {"fr": 0}, skills={"french": 5}),
        ],
    )
    h.at(0, AgentLoggedIn("a"))
    h.at(1, AgentLoggedIn("b"))
    assert only(h.at(2, TaskArrived("c1", "fr")), OfferTask)[0].agent_id == "b"


def test_penalty_tiers_widen_after_wait() -> None:
    q = QueueConfig("sales", max_penalty=0, penalty_rules=(PenaltyRule(30, 1),))
    h = Harness([q], agents(("core", {"sales": 0}), ("backup", {"sales": 1})))
    h.at(0, AgentLoggedIn("core"))
    h.at(0, AgentLoggedIn("backup"))
    h.at(0, TaskArrived("c0", "sales"))
    h.at(0, OfferAccepted("c0", "core"))
    assert only(h.at(1, TaskArrived("c1", "sales")), OfferTask) == []
    assert only(h.at(20, Tick()), OfferTask) == []
    out = h.at(31, Tick())
    assert only(out, OfferTask) == [OfferTask("c1", "backup", "sales", 15.0, False)]


def test_lower_penalty_preferred_when_no_limit() -> None:
    q = QueueConfig("sales")
    h = Harness([q], agents(("backup", {"sales": 2}), ("core", {"sales": 0})))
    h.at(0, AgentLoggedIn("backup"))
    h.at(5, AgentLoggedIn("core"))
    assert only(h.at(6, TaskArrived("c1", "sales")), OfferTask)[0].agent_id == "core"


def test_max_wait_overflows_to_other_queue_keeping_place() -> None:
    target = OverflowTarget(OverflowKind.QUEUE, "support")
    qs = [
        QueueConfig("sales", max_wait_s=60, overflow=target),
        QueueConfig("support"),
    ]
    h = Harness(qs, agents(("sam", {"support": 0})))
    h.at(0, AgentLoggedIn("sam"))
    h.at(0, TaskArrived("busy", "support"))
    h.at(0, OfferAccepted("busy", "sam"))
    h.at(1, TaskArrived("early", "sales"))
    h.at(5, TaskArrived("later", "support"))
    out = h.at(61, Tick())
    assert only(out, OverflowTask)[0].target == target
    # 'early' keeps its enqueue time (1 s), so it is ahead of 'later' (5 s)
    assert h.router.position("early") == 1 and h.router.position("later") == 2


def test_max_length_and_join_when_empty_overflow() -> None:
    vm = OverflowTarget(OverflowKind.VOICEMAIL)
    q = QueueConfig("sales", max_length=1, join_when_empty=False, overflow=vm)
    h = Harness([q], agents(("ann", {"sales": 0})))
    out = h.at(0, TaskArrived("c1", "sales"))
    assert only(out, OverflowTask)[0].reason.startswith("no agent staffed")
    h.at(1, AgentLoggedIn("ann"))
    h.at(1, TaskArrived("c2", "sales"))
    h.at(1, OfferAccepted("c2", "ann"))
    h.at(2, TaskArrived("c3", "sales"))
    out = h.at(3, TaskArrived("c4", "sales"))
    assert only(out, OverflowTask)[0].reason == "queue full (1 waiting)"
    assert h.router.queue_stats("sales", 3).overflowed == 2


def test_leave_when_empty_overflows_waiting_tasks() -> None:
    ticket = OverflowTarget(OverflowKind.TICKET)
    q = QueueConfig("sales", leave_when_empty=True, overflow=ticket)
    h = Harness([q], agents(("ann", {"sales": 0})))
    h.at(0, AgentLoggedIn("ann"))
    h.at(0, TaskArrived("c1", "sales"))
    h.at(0, OfferAccepted("c1", "ann"))
    h.at(1, TaskArrived("c2", "sales"))
    out = h.at(2, AgentPaused("ann", "lunch"))
    assert [o.task_id for o in only(out, OverflowTask)] == ["c2"]


def test_callback_keeps_its_place_and_is_offered_as_callback() -> None:
    q = QueueConfig("sales", max_wait_s=30, overflow=OverflowTarget(OverflowKind.VOICEMAIL))
    h = Harness([q], agents(("ann", {"sales": 0})))
    h.at(0, AgentLoggedIn("ann"))
    h.at(0, TaskArrived("busy", "sales"))
    h.at(0, OfferAccepted("busy", "ann"))
    h.at(1, TaskArrived("c1", "sales"))
    h.at(2, TaskArrived("c2", "sales"))
    h.at(3, CallbackRequested("c1"))
    h.at(4, TaskArrived("c3", "sales"))
    assert only(h.at(40, Tick()), OverflowTask)[0].task_id == "c2"  # c1 waits as a callback
    offer = only(h.at(50, TaskCompleted("busy")), OfferTask)[0]
    assert offer.task_id == "c1" and offer.callback


def test_callback_overflow_target_keeps_place() -> None:
    q = QueueConfig("sales", max_wait_s=30, overflow=OverflowTarget(OverflowKind.CALLBACK))
    h = Harness([q], agents(("ann", {"sales": 0})))
    h.at(0, AgentLoggedIn("ann"))
    h.at(0, TaskArrived("busy", "sales"))
    h.at(0, OfferAccepted("busy", "ann"))
    h.at(1, TaskArrived("c1", "sales"))
    h.at(20, TaskArrived("c2", "sales"))
    h.at(31, Tick())
    assert h.router.position("c1") == 1
    assert only(h.at(40, TaskCompleted("busy")), OfferTask)[0] == OfferTask(
        "c1", "ann", "sales", 15.0, True
    )


def test_transfer_and_requeue_keep_original_enqueue_time() -> None:
    qs = [QueueConfig("sales"), QueueConfig("billing")]
    h = Harness(qs, agents(("ann", {"sales": 0}), ("bea", {"billing": 0})))
    h.at(0, AgentLoggedIn("ann"))
    h.at(0, AgentLoggedIn("bea"))
    h.at(0, TaskArrived("x", "billing"))
    h.at(0, OfferAccepted("x", "bea"))
    h.at(10, TaskArrived("c1", "sales"))
    h.at(12, OfferAccepted("c1", "ann"))
    h.at(20, TaskArrived("b1", "billing"))
    h.at(30, TaskTransferred("c1", "billing"))
    assert h.router.position("c1") == 1 and h.router.position("b1") == 2
    out = h.at(40, TaskCompleted("x"))
    connect = only(out, OfferTask)[0]
    assert connect.task_id == "c1"
    out = h.at(41, OfferAccepted("c1", "bea"))
    assert only(out, ConnectTask)[0].waited_s == 31.0


def test_ring_all_offers_everyone_and_cancels_the_rest() -> None:
    q = QueueConfig("sales", strategy=Strategy.RING_ALL)
    h = Harness([q], agents(("a", {"sales": 0}), ("b", {"sales": 0}), ("c", {"sales": 0})))
    for name in "abc":
        h.at(0, AgentLoggedIn(name))
    offers = only(h.at(1, TaskArrived("c1", "sales")), OfferTask)
    assert sorted(o.agent_id for o in offers) == ["a", "b", "c"]
    out = h.at(2, OfferAccepted("c1", "b"))
    assert sorted(c.agent_id for c in only(out, CancelOffer)) == ["a", "c"]
    assert h.router.agent_state("a") == "available"


def test_chat_capacity_lets_an_agent_hold_several() -> None:
    q = QueueConfig("chat", channel=Channel.CHAT)
    cap = {Channel.VOICE: 1, Channel.CHAT: 2}
    h = Harness([q], [AgentProfile("ann", {"chat": 0}, capacity=cap)])
    h.at(0, AgentLoggedIn("ann"))
    for i in range(3):
        h.at(i, TaskArrived(f"ch{i}", "chat"))
    h.at(5, OfferAccepted("ch0", "ann"))
    out = h.at(6, OfferAccepted("ch1", "ann"))
    assert only(out, OfferTask) == []  # two chats: at capacity
    assert h.router.position("ch2") == 1
    assert only(h.at(9, TaskCompleted("ch0")), OfferTask)[0].task_id == "ch2"


def test_abandon_while_waiting_and_while_offered() -> None:
    h = one_queue()
    h.at(0, AgentLoggedIn("ann"))
    h.at(0, TaskArrived("c1", "sales"))
    out = h.at(5, TaskAbandoned("c1"))
    assert only(out, CancelOffer) == [CancelOffer("c1", "ann", "the customer hung up")]
    h.at(5, TaskArrived("c2", "sales"))
    h.at(6, OfferAccepted("c2", "ann"))
    h.at(7, TaskArrived("c3", "sales"))
    h.at(40, TaskAbandoned("c3"))
    s = h.router.queue_stats("sales", 40)
    assert (s.abandoned, s.answered, s.waiting) == (2, 1, 0)
    assert s.abandon_pct == pytest.approx(200 / 3)
    # abandoned after 33 s > 20 s: counts against the service level
    assert s.service_level_pct == pytest.approx(50.0)


def test_pause_and_logout_reclaim_offers() -> None:
    h = one_queue()
    h.at(0, AgentLoggedIn("ann"))
    h.at(0, AgentLoggedIn("bob"))
    h.at(1, TaskArrived("c1", "sales"))
    out = h.at(2, AgentPaused("ann", "coffee"))
    assert only(out, CancelOffer)[0].reason == "agent paused: coffee"
    assert only(out, OfferTask)[0].agent_id == "bob"
    out = h.at(3, AgentLoggedOut("bob"))
    assert only(out, CancelOffer)[0].agent_id == "bob"
    assert h.router.position("c1") == 1
    assert only(h.at(4, AgentReady("ann")), OfferTask)[0].agent_id == "ann"


def test_statistics_are_emitted_on_tick() -> None:
    h = one_queue(wrap_up_s=10)
    h.at(0, AgentLoggedIn("ann"))
    h.at(0, TaskArrived("c1", "sales"))
    h.at(30, OfferAccepted("c1", "ann"))
    h.at(90, TaskCompleted("c1"))
    out = h.at(100, Tick())
    q = only(out, QueueStatsUpdated)[0].stats
    assert (q.answered, q.asa_s, q.service_level_pct, q.aht_s) == (1, 30.0, 0.0, 70.0)
    a = only(out, AgentStatsUpdated)[0].stats
    assert a.tasks == 1 and a.talk_time_s == 60.0
    assert a.occupancy_pct == pytest.approx(70.0)
    assert only(h.at(101, Tick()), QueueStatsUpdated) == []  # nothing changed since


def test_announcements_carry_position_and_estimate() -> None:
    h = one_queue(announce_every_s=30, expected_handle_s=120)
    h.at(0, AgentLoggedIn("ann"))
    h.at(0, AgentLoggedIn("bob"))
    for i in range(4):
        h.at(i, TaskArrived(f"c{i}", "sales"))
        h.at(i, OfferAccepted(f"c{i}", "ann" if i == 0 else "bob")) if i < 2 else None
    out = h.at(31, Tick())
    ann = only(out, AnnouncePosition)
    assert [(a.task_id, a.position) for a in ann] == [("c2", 1), ("c3", 2)]
    assert ann[1].estimated_wait_s == pytest.approx(2 * 120 / 2)


def test_errors_are_specific() -> None:
    h = one_queue()
    with pytest.raises(UnknownQueue, match="configure it"):
        h.at(0, TaskArrived("c1", "nope"))
    with pytest.raises(UnknownAgent):
        h.at(0, AgentLoggedIn("zed"))
    h.at(0, TaskArrived("c1", "sales"))
    with pytest.raises(DuplicateTask):
        h.at(0, TaskArrived("c1", "sales"))
    with pytest.raises(TimeWentBackwards):
        h.router.handle(Tick(), -1)


def test_config_errors_say_what_to_fix() -> None:
    with pytest.raises(ACDConfigError, match="set overflow"):
        Harness([QueueConfig("q", max_wait_s=5)])
    loop_a = QueueConfig("a", max_wait_s=5, overflow=OverflowTarget(OverflowKind.QUEUE, "b"))
    loop_b = QueueConfig("b", max_wait_s=5, overflow=OverflowTarget(OverflowKind.QUEUE, "a"))
    with pytest.raises(ACDConfigError, match="loops back"):
        Harness([loop_a, loop_b])
    with pytest.raises(ACDConfigError, match="unknown queue"):
        Harness([QueueConfig("q")], [AgentProfile("x", {"nope": 0})])


def test_login_with_new_profile_replaces_memberships() -> None:
    qs = [QueueConfig("sales"), QueueConfig("billing")]
    h = Harness(qs, agents(("ann", {"sales": 0})))
    h.at(0, TaskArrived("b1", "billing"))
    out = h.at(1, AgentLoggedIn("ann", AgentProfile("ann", {"billing": 0})))
    assert only(out, OfferTask)[0].task_id == "b1"
