"""Kept places on the record (callcenter/store/queue_callbacks.py), on SQLite and PostgreSQL:
one node dials each, a node taking the places over takes them all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callcenter.store import Database, upgrade
from callcenter.store import queue_callbacks as places

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def place(task: str, minutes: int) -> places.KeptPlace:
    return places.KeptPlace(task, "support", "+15550100", "200", 0,
                            T0 + timedelta(minutes=minutes), 0)


def test_one_node_calls_each_place_and_a_new_holder_takes_them_over(db_url: str) -> None:
    db = Database(db_url)
    upgrade(db)
    with db.session() as s:
        places.keep(s, place("late", 5), "c2", "a")
        places.keep(s, place("early", 1), "c1", "a")
    with db.session() as s:
        assert places.claim_call(s, "early", "a", T0)
        assert not places.claim_call(s, "early", "a", T0)  # calling already
        assert not places.claim_call(s, "late", "b", T0)  # node a holds it
    with db.session() as s:  # b leads now: it takes every place, in line order
        taken = places.take_over(s, "b", T0)
    assert [(p.task_id, p.calls, p.waiting_since) for p in taken] == [
        ("early", 1, T0 + timedelta(minutes=1)), ("late", 0, T0 + timedelta(minutes=5))]
    with db.session() as s:
        assert not places.claim_call(s, "late", "a", T0)  # a lost it
        assert places.claim_call(s, "late", "b", T0)
        places.settle(s, "late", "b", places.DONE, "served", T0)
        places.settle(s, "early", "a", places.GIVEN_UP, "not a's", T0)  # a holds it no more
    with db.session() as s:
        assert [r.task_id for r in places.pending(s)] == ["early"]
        assert places.take_over(s, "c", T0)[0].task_id == "early"
    db.dispose()


def test_each_voice_layer_takes_over_its_own_places(db_url: str) -> None:
    """SIP and Twilio restore their own kept places (migration 0018's voice_layer); rows
    kept before it are SIP's."""
    db = Database(db_url)
    upgrade(db)
    with db.session() as s:
        places.keep(s, place("sip", 1), "c1", "a")
        places.keep(s, place("twilio", 2), "c2", "a", "twilio")
    with db.session() as s:
        assert [p.task_id for p in places.take_over(s, "b", T0, "twilio")] == ["twilio"]
        assert [p.task_id for p in places.take_over(s, "c", T0)] == ["sip"]
    with db.session() as s:
        assert {(r.task_id, r.node, r.voice_layer) for r in places.pending(s)} == {
            ("sip", "c", "sip"), ("twilio", "b", "twilio")}
    db.dispose()
