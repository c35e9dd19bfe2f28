"""Scheduled callbacks against the real database (SQLite and PostgreSQL): booked by a
disposition, dialed by the runner when due (fake clock), owner-only ones kept for their
agent, moved, reassigned, cancelled, kept across a restart, never dialed twice, held by the
calling window, missed when the number goes on the DNC list."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from callcenter.calls.dispositions import set_disposition
from callcenter.calls.escalations import CallEscalations
from callcenter.store import AgentRepository, Database, open_database
from dialer import callbacks, preview
from dialer.callback_times import CallbackTimeError
from dialer.campaigns import aware, lead_flow
from dialer.ports import AgentLoad, FixedAgents, Result
from dialer.runner import CampaignRunner
from dialer.store import Callback, Campaign, DncEntry, Lead, LeadAttempt
from tests.integration import test_campaigns_support as support
from tests.integration.test_campaigns_support import NYC, T0, Clock, FakeOutbound

# 10:00 in New York the next day (EDT, UTC-4): the time the agent types, read in the lead's zone.
TOMORROW_10 = "2026-06-11T10:00"
DUE = datetime(2026, 6, 11, 14, 0, tzinfo=UTC)


def _runner(db: Database, port: FakeOutbound, clock: Clock,
            owner: str = "dialer") -> CampaignRunner:
    pool = FixedAgents({"sales": AgentLoad(available=3)})
    return CampaignRunner(db, "spring", port, pool, clock=clock, tick_s=0.0, owner=owner)


async def _answered(db_url: str, numbers: list[str], clock: Clock,
                    **settings: object) -> tuple[Database, FakeOutbound, dict[str, str]]:
    """A campaign whose first round of calls is answered: the call ids by number."""
    db = support.campaign_db(db_url, numbers, **settings)
    with db.session() as s:
        AgentRepository(s).add("ann", "Ann")
        AgentRepository(s).add("bob", "Bob")
    support.start(db)
    port = FakeOutbound(db, {n: [support.Script(Result.HUMAN),
                                 support.Script(Result.HUMAN, disposition="sale")]
                             for n in numbers})
    runner = _runner(db, port, clock)
    await runner.step()
    await runner.wait_idle()
    with db.session() as s:
        calls = {a.number: str(a.call_id) for a in s.scalars(select(LeadAttempt))}
    return db, port, calls


async def _book(db: Database, call_id: str, at: str, clock: Clock,
                owner: str | None = None) -> callbacks.Booked:
    done = await set_disposition(db, CallEscalations(None), call_id, "callback",
                                 "call after lunch", callback_at=at, callback_owner=owner,
                                 now=clock())
    assert done.callback is not None
    return done.callback


def _lead(db: Database, phone: str) -> Lead:
    with db.session() as s:
        lead = s.scalar(select(Lead).where(Lead.phone == phone))
        assert lead is not None
        return lead


def _callbacks(db: Database) -> list[Callback]:
    with db.session() as s:
        return list(s.scalars(select(Callback).order_by(Callback.id)))


async def _tick(runner: CampaignRunner) -> int:
    placed = await runner.step()
    await runner.wait_idle()
    return placed


async def test_a_booked_callback_is_dialed_at_its_time_once(db_url: str) -> None:
    clock = Clock()
    db, port, calls = await _answered(db_url, NYC[:2], clock)
    booked = await _book(db, calls[NYC[0]], TOMORROW_10, clock)
    assert booked.callback.due_at == DUE and booked.callback.owner is None
    assert booked.when.read_as == "local time in America/New_York"
    lead = _lead(db, NYC[0])
    assert (lead.status, aware(lead.next_attempt_at), lead.wait_reason) == (  # type: ignore[arg-type]
        "retry", DUE, callbacks.WAITING)
    # The other lead gets the plain callback rule: an hour later, not a scheduled callback.
    await set_disposition(db, CallEscalations(None), calls[NYC[1]], "callback", now=clock())
    other = _lead(db, NYC[1])
    assert aware(other.next_attempt_at) == T0 + timedelta(hours=1)  # type: ignore[arg-type]
    with db.session() as s:
        flow = lead_flow(s, "spring", clock())
    assert (flow.callbacks_scheduled, flow.waiting_retry, flow.callbacks_for_owner) == (1, 1, 0)

    runner = _runner(db, port, clock)
    clock.now = T0 + timedelta(hours=2)  # the hour-rule lead is due, the callback is not
    assert await _tick(runner) == 1 and port.placed[-1].number == NYC[1]
    clock.now = DUE - timedelta(seconds=1)
    assert await _tick(runner) == 0
    clock.now = DUE
    assert await _tick(runner) == 1 and port.placed[-1].number == NYC[0]
    assert await _tick(runner) == 0  # served: done (the second call's disposition is sale)
    (cb,) = _callbacks(db)
    with db.session() as s:
        last = s.scalar(select(LeadAttempt.id).where(LeadAttempt.number == NYC[0])
                        .order_by(LeadAttempt.id.desc()).limit(1))
    assert (cb.state, cb.attempt_id) == ("done", last)
    assert [r.number for r in port.placed].count(NYC[0]) == 2
    db.dispose()


async def test_two_runners_at_the_due_time_dial_it_once(db_url: str) -> None:
    clock = Clock()
    db, port, calls = await _answered(db_url, NYC[:1], clock)
    await _book(db, calls[NYC[0]], TOMORROW_10, clock)
    clock.now = DUE + timedelta(minutes=1)
    other = open_database(db.engine.url.render_as_string(hide_password=False))
    first, second = _runner(db, port, clock, "node1"), _runner(other, port, clock, "node2")
    placed = await asyncio.gather(first.step(), second.step())
    await asyncio.gather(first.wait_idle(), second.wait_idle())
    assert sorted(placed) == [0, 1]
    with db.session() as s:
        assert len(s.scalars(select(LeadAttempt)).all()) == 2  # the first call and one callback
    other.dispose()
    db.dispose()


async def test_a_restart_keeps_the_callback(db_url: str) -> None:
    clock = Clock()
    db, port, calls = await _answered(db_url, NYC[:1], clock)
    await _book(db, calls[NYC[0]], "2026-06-11T14:00:00Z", clock)
    url = db.engine.url.render_as_string(hide_password=False)
    db.dispose()  # the engine stops

    again = open_database(url)
    port.db = again
    runner = _runner(again, port, clock)
    assert await runner.reconcile() == 0
    with again.session() as s:
        assert [cb.state for cb in callbacks.list_callbacks(s, clock(), "spring")] == ["pending"]
    clock.now = DUE
    assert await _tick(runner) == 1
    assert [cb.state for cb in _callbacks(again)] == ["done"]
    again.dispose()


async def test_an_owner_only_callback_waits_for_its_agent(db_url: str) -> None:
    clock = Clock()
    db, port, calls = await _answered(db_url, NYC[:1], clock, dial_mode="predictive")
    booked = await _book(db, calls[NYC[0]], TOMORROW_10, clock, owner="ann")
    assert booked.callback.owner == "ann"
    runner = _runner(db, port, clock)
    clock.now = DUE + timedelta(minutes=5)
    assert await _tick(runner) == 0  # due, but ann's: the runner never dials it
    with db.session() as s:
        flow = lead_flow(s, "spring", clock())
        assert (flow.callbacks_for_owner, flow.dialable_now, flow.callbacks_scheduled) == (1, 0, 0)
        (view,) = callbacks.list_callbacks(s, clock(), "spring", "ann")
        assert view.waiting == "due" and callbacks.list_callbacks(s, clock(), "spring", "bob") == []
    cb_id = view.id
    with db.session() as s, pytest.raises(preview.NotReserved, match="ann's only"):
        preview.reserve_callback(s, "spring", cb_id, "bob", clock())
    with db.session() as s:
        got = preview.reserve_callback(s, "spring", cb_id, "ann", clock())
        assert isinstance(got, preview.Reservation) and got.number == NYC[0]
    with db.session() as s:
        claimed = preview.dial(s, "spring", got.lead_id, "ann", clock())
    assert not isinstance(claimed, preview.DialRefused)
    assert claimed.request.agent == "ann"  # the voice layer connects the answer to ann
    runner.place(claimed)
    await runner.wait_idle()
    assert [cb.state for cb in _callbacks(db)] == ["done"]
    with db.session() as s, pytest.raises(preview.NotReserved, match="is done"):
        preview.reserve_callback(s, "spring", cb_id, "ann", clock())
    db.dispose()


async def test_an_owner_only_callback_left_too_long_becomes_anyones(db_url: str) -> None:
    clock = Clock()
    db, port, calls = await _answered(db_url, NYC[:1], clock, dial_mode="predictive",
                                      callback_owner_wait_min=30)
    await _book(db, calls[NYC[0]], TOMORROW_10, clock, owner="ann")
    runner = _runner(db, port, clock)
    clock.now = DUE + timedelta(minutes=29)
    assert await _tick(runner) == 0  # still ann's for a minute
    assert _callbacks(db)[0].owner == "ann"
    clock.now = DUE + timedelta(minutes=30)
    assert await _tick(runner) == 1  # anyone's now: the dialer calls it, once
    (cb,) = _callbacks(db)
    assert (cb.owner, cb.state) == (None, "done")
    assert "ann's only until 30 min past its time" in cb.note and "call after lunch" in cb.note
    assert await _tick(runner) == 0
    db.dispose()


async def test_in_a_preview_campaign_the_owner_gets_the_callback_first(db_url: str) -> None:
    clock = Clock()
    db, port, calls = await _answered(db_url, NYC[:1], clock)
    with db.session() as s:  # now agents choose; a fresh lead, due now, joins the list
        s.scalar(select(Campaign).where(Campaign.name == "spring")).dial_mode = "preview"  # type: ignore[union-attr]
        s.add(Lead(campaign_id=_lead(db, NYC[0]).campaign_id, phone=NYC[1], first_name="Zed"))
    await _book(db, calls[NYC[0]], TOMORROW_10, clock, owner="ann")
    clock.now = DUE
    with db.session() as s:
        bobs = preview.reserve(s, "spring", "bob", clock())
        assert isinstance(bobs, preview.Reservation) and bobs.number == NYC[1]
    with db.session() as s:
        anns = preview.reserve(s, "spring", "ann", clock())
        assert isinstance(anns, preview.Reservation) and anns.number == NYC[0]
    db.dispose()


async def test_a_supervisor_reassigns_moves_and_cancels(db_url: str) -> None:
    clock = Clock()
    db, port, calls = await _answered(db_url, NYC[:3], clock)
    for number in NYC[:3]:
        await _book(db, calls[number], TOMORROW_10, clock, owner="ann")
    ids = [cb.id for cb in _callbacks(db)]
    later = "2026-06-12T16:00:00-04:00"
    with db.session() as s:
        moved = callbacks.change(s, "spring", ids[0], clock(), due=later)
        assert moved.due_at == datetime(2026, 6, 12, 20, 0, tzinfo=UTC) and moved.owner == "ann"
        anyone = callbacks.change(s, "spring", ids[1], clock(), owner=None)
        assert anyone.owner is None
        callbacks.cancel(s, "spring", ids[2], clock())
    with db.session() as s, pytest.raises(CallbackTimeError, match="in the past"):
        callbacks.change(s, "spring", ids[0], clock(), due="2026-06-01T10:00")
    with db.session() as s, pytest.raises(callbacks.CallbackError, match="is cancelled"):
        callbacks.change(s, "spring", ids[2], clock(), owner="bob")
    assert aware(_lead(db, NYC[0]).next_attempt_at) == datetime(  # type: ignore[arg-type]
        2026, 6, 12, 20, 0, tzinfo=UTC)
    assert _lead(db, NYC[2]).status == "done"

    runner = _runner(db, port, clock)
    clock.now = DUE
    assert await _tick(runner) == 1 and port.placed[-1].number == NYC[1]  # now anyone's
    assert [cb.state for cb in _callbacks(db)] == ["pending", "done", "cancelled"]
    with db.session() as s:
        assert [v.id for v in callbacks.list_callbacks(s, clock(), "spring", state=None)] == [
            ids[1], ids[2], ids[0]]
        callbacks.cancel(s, "spring", ids[0], clock(), requeue=True)
    assert await _tick(runner) == 1 and port.placed[-1].number == NYC[0]  # back in the list
    db.dispose()


async def test_outside_the_window_it_waits_for_the_window(db_url: str) -> None:
    clock = Clock()
    db, port, calls = await _answered(db_url, NYC[:1], clock)
    booked = await _book(db, calls[NYC[0]], "2026-06-11T21:30", clock)  # after 20:00 in NY
    opens = datetime(2026, 6, 12, 13, 0, tzinfo=UTC)  # 09:00 the day after
    assert booked.when.window_opens == opens
    assert "waits for the window" in (booked.when.note() or "")
    runner = _runner(db, port, clock)
    clock.now = datetime(2026, 6, 12, 1, 30, tzinfo=UTC)
    assert await _tick(runner) == 0  # claimed, refused by the window, held till it opens
    with db.session() as s:
        (view,) = callbacks.list_callbacks(s, clock(), "spring")
        assert (view.state, view.waiting, view.dial_from) == ("pending", "waiting_for_window",
                                                              opens)
        assert lead_flow(s, "spring", clock()).callbacks_scheduled == 1
    clock.now = opens
    assert await _tick(runner) == 1
    assert [cb.state for cb in _callbacks(db)] == ["done"]
    db.dispose()


async def test_a_number_put_on_the_dnc_list_misses_its_callback(db_url: str) -> None:
    clock = Clock()
    db, port, calls = await _answered(db_url, NYC[:1], clock)
    await _book(db, calls[NYC[0]], TOMORROW_10, clock)
    with db.session() as s:
        s.add(DncEntry(number=NYC[0], scope="internal", reason="asked by email"))
    clock.now = DUE
    assert await _tick(_runner(db, port, clock)) == 0
    assert [cb.state for cb in _callbacks(db)] == ["missed"]
    assert _lead(db, NYC[0]).status == "dnc"
    db.dispose()


async def test_another_disposition_cancels_the_booked_callback(db_url: str) -> None:
    clock = Clock()
    db, port, calls = await _answered(db_url, NYC[:1], clock)
    await _book(db, calls[NYC[0]], TOMORROW_10, clock)
    await _book(db, calls[NYC[0]], "2026-06-11T11:00", clock)  # booked again: replaced
    assert [cb.state for cb in _callbacks(db)] == ["cancelled", "pending"]
    await set_disposition(db, CallEscalations(None), calls[NYC[0]], "sale", now=clock())
    assert [cb.state for cb in _callbacks(db)] == ["cancelled", "cancelled"]
    assert _lead(db, NYC[0]).status == "done"
    db.dispose()
