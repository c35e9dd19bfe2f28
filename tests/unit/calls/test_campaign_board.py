"""The campaign board: what consoles show of every node's campaigns, from bus messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from callcenter.bus import CampaignStats, Message
from callcenter.calls.campaign_board import CampaignBoard

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def told(at: datetime, **changes: Any) -> Message:
    figures: dict[str, Any] = {
        "campaign": "spring", "node": "node-a", "state": "running", "dial_mode": "predictive",
        "dialed": 10, "abandon_target_pct": 3.0, "max_lines": 20, "heartbeat_s": 10.0,
    }
    return Message.of("t", CampaignStats(**{**figures, **changes}), now=at)


def test_the_latest_figures_of_each_campaign_with_their_node_and_age() -> None:
    board = CampaignBoard()
    assert board.apply(told(T0)) == "spring"
    assert board.apply(told(T0, campaign="autumn", node="node-b", dialed=3)) == "autumn"
    assert board.apply(told(T0 + timedelta(seconds=1), dialed=11)) == "spring"
    view = board.view(T0 + timedelta(seconds=4))
    assert [(c["campaign"], c["node"], c["dialed"], c["as_of_s"], c["stale"]) for c in view] == [
        ("autumn", "node-b", 3, 4.0, False), ("spring", "node-a", 11, 3.0, False)]
    assert "heartbeat_s" not in view[0]


def test_a_late_message_from_the_node_that_lost_the_campaign_is_ignored() -> None:
    board = CampaignBoard()
    board.apply(told(T0 + timedelta(seconds=20), node="node-b", dialed=50))
    assert board.apply(told(T0 + timedelta(seconds=19), node="node-a", dialed=40)) is None
    assert board.apply(told(T0 + timedelta(seconds=20), node="node-b", dialed=50)) is None
    (shown,) = board.view(T0 + timedelta(seconds=21))
    assert (shown["node"], shown["dialed"]) == ("node-b", 50)


def test_a_silent_node_makes_its_running_campaign_stale_not_a_paused_one() -> None:
    board = CampaignBoard()
    board.apply(told(T0))
    board.apply(told(T0, campaign="autumn", state="paused"))
    at = {c["campaign"]: c["stale"] for c in board.view(T0 + timedelta(seconds=30))}
    assert at == {"autumn": False, "spring": False}  # three heartbeats: not yet
    at = {c["campaign"]: c["stale"] for c in board.view(T0 + timedelta(seconds=31))}
    assert at == {"autumn": False, "spring": True}


def test_completed_and_stopped_campaigns_leave_the_board() -> None:
    board = CampaignBoard()
    board.apply(told(T0))
    board.apply(told(T0, campaign="autumn"))
    board.apply(told(T0 + timedelta(seconds=1), state="completed"))
    board.apply(told(T0 + timedelta(seconds=1), campaign="autumn", state="stopped"))
    assert board.view(T0 + timedelta(seconds=2)) == []


def test_broken_or_foreign_messages_are_ignored() -> None:
    board = CampaignBoard()
    good = told(T0)
    for body in (b"not json", b"{}", good.body.replace(b'"running"', b'"flying"'),
                 good.body.replace(b"campaign.stats", b"queue.stats")):
        assert board.apply(Message(topic=good.topic, body=body)) is None
    assert board.view(T0) == []
