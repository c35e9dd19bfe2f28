"""The agents' desks from bus messages: a connected call is the agent's screen pop, its end
(or a transfer) leaves it awaiting a disposition, the disposition clears it; other agents'
calls, redelivered messages and messages that are not what they claim change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from callcenter.bus import AgentState, CallUpdate, Message
from callcenter.calls.desks import Desks

T0 = datetime(2026, 6, 17, 15, 0, tzinfo=UTC)
LEAD = {"first_name": "Ann", "last_name": "Lee", "external_id": "crm-7", "plan": "gold"}


def call(kind: str, call_id: str = "c1", agent: str | None = "1001", **more: Any) -> Message:
    return Message.of("t", CallUpdate(call_id=call_id, kind=kind, agent_id=agent, **more),
                      T0 + timedelta(seconds=5))


def campaign_call(call_id: str = "c1", agent: str = "1001", **pop: Any) -> Message:
    return call("connected", call_id, agent, direction="outbound", caller="+12125550999",
                dialed="+12125550101", queue="support",
                detail={"event": "connected", "agent": agent, "campaign": "pv",
                        "number": "+12125550101", "lead": LEAD, **pop})


def state(agent: str, value: str, reason: str = "") -> Message:
    return Message.of("t", AgentState(agent_id=agent, state=value,
                                      reason=reason, since=T0))


def test_an_unknown_agent_has_a_logged_out_desk() -> None:
    desk = Desks().get("1001")
    assert (desk.state, desk.current, desk.last, desk.revision) == ("logged_out", None, None, 0)
    assert desk.as_dict(T0)["in_state_s"] is None


def test_the_state_comes_with_its_reason_and_time() -> None:
    desks = Desks()
    assert desks.apply(state("1001", "paused", "lunch")) == "1001"
    view = desks.get("1001").as_dict(T0 + timedelta(seconds=12))
    assert (view["state"], view["reason"], view["in_state_s"]) == ("paused", "lunch", 12.0)
    assert view["since"] == T0.isoformat()


def test_a_campaign_call_pops_with_its_lead_then_awaits_the_disposition() -> None:
    desks = Desks()
    assert desks.apply(campaign_call()) == "1001"
    current = desks.get("1001").current
    assert current is not None and desks.get("1001").last is None
    assert current.as_dict() == {
        "call_id": "c1", "direction": "outbound", "number": "+12125550101",
        "queue": "support", "campaign": "pv", "lead": LEAD,
        "connected_at": (T0 + timedelta(seconds=5)).isoformat(), "on_hold": False,
        "ended_at": None, "script": ""}

    assert desks.apply(call("held")) == "1001"
    assert desks.get("1001").current.on_hold  # type: ignore[union-attr]
    assert desks.apply(call("resumed")) == "1001"
    assert not desks.get("1001").current.on_hold  # type: ignore[union-attr]

    assert desks.apply(call("ended")) == "1001"
    desk = desks.get("1001")
    assert desk.current is None and desk.last is not None
    assert desk.last.call_id == "c1" and desk.last.lead["plan"] == "gold"
    assert desk.last.ended_at is not None

    assert desks.apply(state("1001", "wrap_up")) == "1001"
    assert desks.get("1001").last is not None  # still there to disposition in wrap-up
    assert desks.apply(call("dispositioned", detail={"code": "sale"})) == "1001"
    assert desks.get("1001").last is None


def test_a_campaign_call_pops_with_its_script() -> None:
    desks = Desks()
    desks.apply(campaign_call(script="Hello Ann, about your gold plan"))
    current = desks.get("1001").current
    assert current is not None and current.as_dict()["script"] == "Hello Ann, about your gold plan"


def test_an_inbound_call_shows_the_caller() -> None:
    desks = Desks()
    desks.apply(call("connected", caller="+15550100", dialed="200", queue="support"))
    current = desks.get("1001").current
    assert current is not None
    assert (current.number, current.direction, current.queue, current.campaign, current.lead) == (
        "+15550100", "inbound", "support", None, {})


def test_a_transfer_by_the_agent_leaves_the_call_for_the_disposition() -> None:
    desks = Desks()
    desks.apply(campaign_call())
    assert desks.apply(call("transferred", agent="1001",
                            detail={"to": "queue:billing", "by": "1001"})) == "1001"
    assert desks.get("1001").current is None
    assert desks.get("1001").last.call_id == "c1"  # type: ignore[union-attr]
    # The next agent takes it; its end is theirs, the first keeps the call to disposition.
    assert desks.apply(campaign_call(agent="1002")) == "1002"
    assert desks.apply(call("ended", agent="1002")) == "1002"
    assert desks.get("1001").last.call_id == "c1"  # type: ignore[union-attr]
    assert desks.get("1002").last.call_id == "c1"  # type: ignore[union-attr]


def test_a_new_call_makes_an_unfinished_one_the_last() -> None:
    desks = Desks()
    desks.apply(campaign_call("c1"))
    desks.apply(campaign_call("c2"))
    desk = desks.get("1001")
    assert desk.current.call_id == "c2" and desk.last.call_id == "c1"  # type: ignore[union-attr]


def test_another_agents_call_changes_nothing() -> None:
    desks = Desks()
    desks.apply(campaign_call("c1", agent="1001"))
    before = desks.get("1001")
    assert desks.apply(campaign_call("c2", agent="1002")) == "1002"
    assert desks.apply(call("held", "c2", agent="1002")) == "1002"
    assert desks.apply(call("ended", "c2", agent="1002")) == "1002"
    assert desks.apply(call("held", "c9")) is None  # nobody's call
    assert desks.apply(call("transferred", "c1", agent="1002",
                            detail={"by": "1002"})) is None  # not 1002's call
    assert desks.apply(call("dispositioned", "c9", detail={"code": "sale"})) is None
    assert desks.get("1001") == before


def test_other_kinds_of_events_change_nothing() -> None:
    desks = Desks()
    for kind in ("started", "ivr", "queued", "offered", "abandoned"):
        assert desks.apply(call(kind)) is None
    assert desks.apply(call("connected", agent=None)) is None  # connected to nobody
    assert desks.get("1001").revision == 0


def test_a_redelivered_message_is_applied_once() -> None:
    desks = Desks()
    connected, ended = campaign_call(), call("ended")
    desks.apply(connected)
    desks.apply(ended)
    assert desks.apply(connected) is None  # QoS 1 delivered it again
    assert desks.get("1001").current is None and desks.get("1001").last is not None


def test_malformed_messages_are_ignored() -> None:
    desks = Desks()
    good = campaign_call()
    bad = [
        b"not json",
        b"{}",
        good.body.replace(b'"call.update"', b'"call.other"'),  # a schema it does not know
        good.body.replace(b'"connected"', b'"teleported"', 1),  # a kind it does not know
        good.body.replace(b'"call_id":"c1"', b'"call_id":7'),
        state("1001", "paused").body.replace(b'"paused"', b'"asleep"'),
    ]
    for body in bad:
        assert desks.apply(Message(topic="cc/t/calls/c1", body=body)) is None
    assert desks.get("1001").revision == 0
    assert desks.apply(good) == "1001"  # and it still works


@given(st.binary(max_size=300))
def test_no_bytes_make_it_fall_over(body: bytes) -> None:
    desks = Desks()
    assert desks.apply(Message(topic="cc/t/calls/x", body=body)) is None
