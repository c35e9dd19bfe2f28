"""CdrWriter batches call-record writes: order kept, committed before callers return, a failing
write fails alone. Real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from callcenter.bus import InProcessBus
from callcenter.calls import cdr as cdr_module
from callcenter.calls.cdr import COMMIT_INTERVAL_S, CallLog, CdrWriter
from callcenter.calls.directory import Directory
from callcenter.store import Database, upgrade
from callcenter.store.models import Call, CallEvent


@pytest.fixture
def db(db_url: str) -> Any:
    database = Database(db_url)
    upgrade(database)
    yield database
    database.dispose()


def new_call() -> CallLog:
    return CallLog(call_id=uuid.uuid4().hex, direction="inbound", voice_layer="sip")


def events_of(db: Database, call_id: str) -> list[tuple[int, str, dict[str, Any]]]:
    with db.session() as s:
        rows = s.scalars(
            select(CallEvent).where(CallEvent.call_id == call_id).order_by(CallEvent.id)
        ).all()
        return [(e.seq, e.kind, e.data) for e in rows]


async def test_concurrent_events_land_in_order_in_few_batches(db: Database) -> None:
    cdr = CdrWriter(db, InProcessBus("test"), Directory())
    commits = 0
    commit = cdr._commit

    def counting(batch: Any) -> Any:
        nonlocal commits
        commits += 1
        return commit(batch)

    cdr._commit = counting  # type: ignore[method-assign]
    rec = new_call()
    await cdr.started(rec)
    commits = 0
    await asyncio.gather(*(cdr.event(rec, "ivr", {"n": n}) for n in range(300)))
    got = events_of(db, rec.call_id)
    assert [seq for seq, _, _ in got] == list(range(1, 301))  # rows in id order = call order
    assert [d["n"] for _, _, d in got] == list(range(300))
    assert commits <= 3  # batched, not one transaction per event
    await cdr.stop()


async def test_a_steady_stream_of_writes_shares_transactions(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Group commit: writes that trickle in (a call every millisecond or so) share batches,
    at most one per COMMIT_INTERVAL_S, instead of a transaction for every one or two.

    Timed where the writer decides (on the loop, before the worker thread picks the batch
    up), so a busy machine's thread start-up jitter does not count against the interval."""
    cdr = CdrWriter(db, InProcessBus("test"), Directory())
    loop = asyncio.get_running_loop()
    starts: list[float] = []
    to_thread = asyncio.to_thread

    def timed(func: Any, /, *args: Any) -> Any:
        if func == cdr._commit:
            starts.append(loop.time())
        return to_thread(func, *args)

    monkeypatch.setattr(asyncio, "to_thread", timed)
    # The first write after a quiet spell goes at once, not after an interval: with a
    # 1-second interval it still commits within a fraction of it.
    monkeypatch.setattr(cdr_module, "COMMIT_INTERVAL_S", 1.0)
    quiet = loop.time()
    await cdr.started(new_call())
    assert starts[0] - quiet < 0.5
    monkeypatch.setattr(cdr_module, "COMMIT_INTERVAL_S", COMMIT_INTERVAL_S)
    await asyncio.sleep(1.0)  # let the 1-second interval run out
    starts.clear()
    writes = []
    for _ in range(200):
        writes.append(loop.create_task(cdr.started(new_call())))
        await asyncio.sleep(0.0005)
    await asyncio.gather(*writes)
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert len(starts) < 200 / 3, len(starts)
    # The writer spaces its decisions by the interval; this sees them a little later, when
    # the batch is handed to the thread (after its pop, where the GIL may go to the thread
    # committing the last batch for up to its 5 ms switch interval: seen once, 9.74 ms).
    assert sum(gaps) / len(gaps) >= COMMIT_INTERVAL_S * 0.99, gaps
    assert min(gaps) >= COMMIT_INTERVAL_S * 0.5, gaps
    with db.session() as s:
        assert len(s.scalars(select(Call.id)).all()) == 201
    await cdr.stop()


async def test_duplicate_seq_fails_alone(db: Database) -> None:
    cdr = CdrWriter(db, InProcessBus("test"), Directory())
    rec = new_call()
    await cdr.started(rec)
    await cdr.event(rec, "ivr", {"n": 0})  # seq 1
    again = CallLog(call_id=rec.call_id, direction="inbound", voice_layer="sip")  # seq from 0
    other = new_call()
    await cdr.started(other)
    # One batch: a fresh event, the duplicate (seq 1, logged and ignored), another fresh one.
    await asyncio.gather(
        cdr.event(other, "queued", {"q": "a"}),
        cdr.event(again, "ivr", {"n": "duplicate"}),
        cdr.event(other, "offered", {"q": "a"}),
    )
    assert events_of(db, rec.call_id) == [(1, "ivr", {"n": 0})]
    assert [(seq, kind) for seq, kind, _ in events_of(db, other.call_id)] == [
        (1, "queued"),
        (2, "offered"),
    ]
    # started() of an existing call raises to its caller only, as it did unbatched.
    results = await asyncio.gather(
        cdr.started(CallLog(call_id=rec.call_id, direction="inbound", voice_layer="sip")),
        cdr.event(other, "connected"),
        return_exceptions=True,
    )
    assert isinstance(results[0], IntegrityError) and results[1] is None
    assert events_of(db, other.call_id)[-1][:2] == (3, "connected")
    await cdr.stop()


async def test_started_then_event_from_other_task_keeps_fk_order(db: Database) -> None:
    cdr = CdrWriter(db, InProcessBus("test"), Directory())
    recs = [new_call() for _ in range(50)]
    started = [asyncio.create_task(cdr.started(rec)) for rec in recs]
    await asyncio.sleep(0)  # the started() writes are queued, not yet committed

    async def first_event(rec: CallLog) -> None:
        await cdr.event(rec, "ivr", {"node": "welcome"})

    await asyncio.gather(*(first_event(rec) for rec in recs), *started)
    for rec in recs:
        assert events_of(db, rec.call_id) == [(1, "ivr", {"node": "welcome"})]
    await cdr.stop()


async def test_committed_before_return_and_announced_after(db: Database) -> None:
    bus = InProcessBus("test")
    cdr = CdrWriter(db, bus, Directory())
    seen_in_db: list[bool] = []
    real_publish = bus.publish_event

    def publish(update: Any) -> None:
        with db.session() as s:
            seen_in_db.append(s.get(Call, update.call_id) is not None)
        real_publish(update)

    bus.publish_event = publish  # type: ignore[method-assign]
    rec = new_call()
    await cdr.started(rec)
    with db.session() as s:
        assert s.get(Call, rec.call_id) is not None
    await cdr.event(rec, "queued", {"queue": "sales"}, announce="queued")
    rec.hangup_cause = "normal"
    await cdr.ended(rec)
    assert seen_in_db == [True, True, True]
    with db.session() as s:
        call = s.get(Call, rec.call_id)
        assert call is not None and call.hangup_cause == "normal"


async def test_stop_commits_what_is_queued(db: Database) -> None:
    cdr = CdrWriter(db, InProcessBus("test"), Directory())
    rec = new_call()
    await cdr.started(rec)
    pending = [asyncio.create_task(cdr.event(rec, "ivr", {"n": n})) for n in range(20)]
    await asyncio.sleep(0)
    await cdr.stop()
    assert all(t.done() and t.exception() is None for t in pending)
    assert len(events_of(db, rec.call_id)) == 20
    await cdr.event(rec, "ivr", {"n": 20})  # a write after stop starts the writer again
    assert len(events_of(db, rec.call_id)) == 21
    await cdr.stop()


async def test_a_call_started_and_ended_in_one_batch_is_recorded_whole(db: Database) -> None:
    """The end is an UPDATE run after the batch's inserts: in one batch with its start it
    still finds the row, and it sets only what the record knows."""
    from datetime import timedelta

    from callcenter.calls.cdr import utcnow
    from callcenter.store.models import Disposition

    code = f"won-{uuid.uuid4().hex[:8]}"
    with db.session() as s:
        s.add(Disposition(code=code, label="Won"))
    cdr = CdrWriter(db, InProcessBus("test"), Directory())
    calls = [new_call() for _ in range(20)]
    for n, rec in enumerate(calls):
        rec.answered_at = utcnow()
        rec.connected_at = rec.answered_at + timedelta(seconds=2)
        rec.ended_at = rec.connected_at + timedelta(seconds=30)
        rec.hangup_cause, rec.hangup_by = "200 OK", "caller"
        rec.disposition = code if n % 2 else "no-such-code"
    # Queued together (no await in between): one batch holds every start, event and end.
    done = [
        part
        for rec in calls
        for part in (cdr.started(rec), cdr.event(rec, "ivr", {"n": 1}), cdr.ended(rec))
    ]
    await asyncio.gather(*done)
    await cdr.stop()
    with db.session() as s:
        sale = s.scalar(select(Disposition.id).where(Disposition.code == code))
        rows = {c.id: c for c in s.scalars(select(Call))}
        for n, rec in enumerate(calls):
            row = rows[rec.call_id]
            assert row.ended_at is not None and row.hangup_by == "caller"
            assert row.talk_s == pytest.approx(30.0)
            assert row.disposition_id == (sale if n % 2 else None)
            assert [k for _, k, _ in events_of(db, rec.call_id)] == ["ivr"]


async def test_an_end_without_a_disposition_keeps_the_one_the_agent_set(db: Database) -> None:
    """An agent may disposition the call before its record ends (the desktop's wrap-up): an end
    that carries none leaves it, and the ends of one batch land together (one executemany)."""
    from sqlalchemy import update

    from callcenter.store.models import Disposition

    code = f"sale-{uuid.uuid4().hex[:8]}"
    with db.session() as s:
        s.add(Disposition(code=code, label="Sale"))
    cdr = CdrWriter(db, InProcessBus("test"), Directory())
    calls = [new_call() for _ in range(6)]
    await asyncio.gather(*(cdr.started(rec) for rec in calls))
    with db.session() as s:
        sale = s.scalar(select(Disposition.id).where(Disposition.code == code))
        s.execute(update(Call).where(Call.id.in_([c.call_id for c in calls])).values(
            disposition_id=sale))
    calls[0].disposition = "no-such-code"
    await asyncio.gather(*(cdr.ended(rec) for rec in calls))
    await cdr.stop()
    with db.session() as s:
        rows = {c.id: c for c in s.scalars(select(Call))}
    assert rows[calls[0].call_id].disposition_id is None
    assert all(rows[rec.call_id].disposition_id == sale for rec in calls[1:])
    assert all(rows[rec.call_id].ended_at is not None for rec in calls)
    assert all(rows[rec.call_id].talk_s is None for rec in calls)  # never connected
