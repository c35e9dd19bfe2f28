"""The ticket life cycle: transitions, reopen, merge, SLA pause, raise and breach."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.tickets import (
    CLOCK_RUNS,
    TRANSITIONS,
    AgentReplied,
    Assigned,
    CallbackOffered,
    CustomerWrote,
    Escalated,
    InvalidTransition,
    Merged,
    MergedInto,
    Priority,
    PriorityChanged,
    PriorityRequested,
    SlaBreached,
    Status,
    StatusChanged,
    StatusRequested,
    Tick,
    TicketLifecycle,
    TicketState,
)
from tests.unit.tickets.tickets_support import PLANS_24X7, T0


def fresh(priority: Priority = Priority.NORMAL) -> TicketLifecycle:
    return TicketLifecycle(TicketState.new(7, priority, T0), PLANS_24X7)


def test_agent_reply_opens_and_asking_pauses_until_the_customer_answers() -> None:
    t = fresh()
    acts = t.handle(AgentReplied("ann"), T0 + timedelta(minutes=5))
    assert acts == [StatusChanged(7, Status.NEW, Status.OPEN, "ann replied")]
    assert t.state.first_response_at == T0 + timedelta(minutes=5)
    t.handle(AgentReplied("ann", awaiting_customer=True), T0 + timedelta(minutes=10))
    assert t.state.status is Status.PENDING_CUSTOMER and not t.state.clock.running
    assert t.due_at() is None
    t.handle(Tick(), T0 + timedelta(days=30))  # waiting on the customer: no breach
    assert t.state.breached == frozenset()
    t.handle(CustomerWrote(), T0 + timedelta(days=30))
    assert t.state.status is Status.OPEN
    assert t.elapsed(T0 + timedelta(days=30)) == 600


def test_customer_reply_reopens_a_resolved_ticket_and_offers_a_callback() -> None:
    t = fresh()
    t.handle(AgentReplied("ann"), T0)
    t.handle(StatusRequested(Status.RESOLVED, "ann"), T0 + timedelta(minutes=1))
    acts = t.handle(CustomerWrote(), T0 + timedelta(hours=2))
    assert StatusChanged(7, Status.RESOLVED, Status.OPEN, "reopened: the customer replied") in acts
    assert CallbackOffered(7, "ann") in acts
    assert t.state.clock.running


def test_invalid_transition_is_refused_and_state_is_unchanged() -> None:
    t = fresh()
    t.handle(StatusRequested(Status.CLOSED, "sup"), T0)
    before = t.state
    with pytest.raises(InvalidTransition, match=r"T-7 is closed: cannot become pending_customer"):
        t.handle(StatusRequested(Status.PENDING_CUSTOMER, "sup"), T0)
    assert t.state == before


def test_merge_closes_the_duplicate_and_freezes_it() -> None:
    t = fresh()
    acts = t.handle(MergedInto(3, "sup"), T0)
    assert Merged(7, 3) in acts and t.state.status is Status.CLOSED
    with pytest.raises(InvalidTransition, match="work on T-3"):
        t.handle(CustomerWrote(), T0)
    with pytest.raises(InvalidTransition, match="itself"):
        fresh().handle(MergedInto(7, "sup"), T0)


def test_nearing_breach_raises_priority_once_then_breach_notifies_once() -> None:
    t = fresh()
    assert t.handle(Tick(), T0 + timedelta(minutes=47)) == []
    acts = t.handle(Tick(), T0 + timedelta(minutes=49))  # 80 % of the 1 h first response
    assert acts == [PriorityChanged(7, Priority.NORMAL, Priority.HIGH, "nearing an SLA breach")]
    acts = t.handle(Tick(), T0 + timedelta(minutes=61))
    assert [type(a) for a in acts] == [SlaBreached]
    assert acts[0].target == "first_response"  # type: ignore[union-attr]
    assert t.handle(Tick(), T0 + timedelta(minutes=90)) == []
    # The raise does not tighten the ticket's own targets: it is still measured by 'normal'.
    assert t.plan.priority is Priority.NORMAL


def test_escalation_never_lowers_priority_and_assign_opens() -> None:
    t = fresh(Priority.HIGH)
    assert t.handle(Escalated(Priority.LOW), T0) == []
    assert t.handle(Escalated(Priority.URGENT), T0)[0].to_priority is Priority.URGENT  # type: ignore[union-attr]
    t.handle(Assigned("bob"), T0)
    assert t.state.status is Status.OPEN and t.state.handled_by == "bob"
    t.handle(PriorityRequested(Priority.LOW, "sup"), T0)
    assert t.state.priority is Priority.LOW and t.state.sla_priority is None


# --- invariants under any sequence of events ------------------------------------------------

events = st.one_of(
    st.just(CustomerWrote()),
    st.builds(AgentReplied, st.sampled_from(["ann", "bob"]), st.booleans()),
    st.builds(StatusRequested, st.sampled_from(list(Status)), st.just("sup")),
    st.builds(Assigned, st.sampled_from(["ann", "bob"])),
    st.builds(MergedInto, st.sampled_from([1, 7]), st.just("sup")),
    st.builds(PriorityRequested, st.sampled_from(list(Priority)), st.just("sup")),
    st.builds(Escalated, st.sampled_from(list(Priority))),
    st.just(Tick()),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(events, st.integers(0, 6 * 3600)), max_size=40))
def test_any_event_sequence_keeps_the_life_cycle_invariants(steps) -> None:  # type: ignore[no-untyped-def]
    t, now = fresh(), T0
    breaches: list[str] = []
    for event, gap in steps:
        now += timedelta(seconds=gap)
        before, elapsed_before = t.state, t.elapsed(now)
        try:
            acts = t.handle(event, now)
        except InvalidTransition:
            assert t.state == before  # refused changes leave no trace
            continue
        for act in acts:
            if isinstance(act, StatusChanged):
                assert act.to_status in TRANSITIONS[act.from_status]  # no invalid transition
            if isinstance(act, SlaBreached):
                breaches.append(act.target)
        # The clock runs exactly while the ticket is new or open...
        assert t.state.clock.running == (t.state.status in CLOCK_RUNS)
        # ...so while it waits on the customer (or is done) no SLA time passes.
        if before.status not in CLOCK_RUNS:
            assert t.elapsed(now) == pytest.approx(elapsed_before)
            assert t.elapsed(now + timedelta(days=9)) == t.elapsed(now) or t.state.clock.running
        if t.state.merged_into is not None:
            assert t.state.status is Status.CLOSED
    assert len(breaches) == len(set(breaches))  # each target notified at most once
