"""Preview dialing against the real database (SQLite and PostgreSQL): reservations, dial
exactly once, skip, expiry, compliance, and the runner that places nothing by itself."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from callcenter.errors import NotFound
from callcenter.store import Database
from dialer import attempts, preview
from dialer.campaigns import CampaignRepository
from dialer.ports import AgentLoad, FixedAgents, Result
from dialer.runner import CampaignRunner, DialerService
from dialer.store import DncEntry, Lead, LeadAttempt
from tests.integration.test_campaigns_support import (
    HONOLULU,
    NYC,
    T0,
    Clock,
    FakeOutbound,
    Script,
    campaign_db,
    start,
)

HOLD = 60.0
# A Wednesday 11:00 in New York, ten years on: later than the leads' real created_at, as
# "now" always is outside tests (a skipped lead goes behind the leads due since their import).
FUTURE = T0 + timedelta(weeks=520)


def _clock() -> Clock:
    return Clock(FUTURE)


def _db(db_url: str, numbers: list[str], **settings: object) -> Database:
    db = campaign_db(db_url, numbers, dial_mode="preview", **settings)
    start(db)
    return db


def _lead(db: Database, lead_id: int) -> Lead:
    with db.session() as s:
        lead = s.get(Lead, lead_id)
        assert lead is not None
        return lead


def _attempts(db: Database) -> list[LeadAttempt]:
    with db.session() as s:
        return list(s.scalars(select(LeadAttempt).order_by(LeadAttempt.id)))


def _reserve(db: Database, agent: str, clock: Clock) -> preview.Reservation:
    with db.session() as s:
        got = preview.reserve(s, "spring", agent, clock(), HOLD)
    assert isinstance(got, preview.Reservation), got
    return got


def test_reservation_is_one_agents_and_dial_records_the_attempt_once(db_url: str) -> None:
    db = _db(db_url, NYC[:2])
    clock = _clock()
    ann = _reserve(db, "ann", clock)
    assert ann.number == NYC[0] and ann.first_name == "P0" and ann.fields == {"plan": "gold"}
    assert ann.attempts == 0 and ann.expires_at == FUTURE + timedelta(seconds=HOLD)
    assert _reserve(db, "ann", clock).lead_id == ann.lead_id  # asked again: the same lead
    bob = _reserve(db, "bob", clock)
    assert bob.number == NYC[1]  # not Ann's
    with db.session() as s:
        assert isinstance(preview.reserve(s, "spring", "cat", clock(), HOLD), preview.NoLeadDue)
    lead = _lead(db, ann.lead_id)
    assert (lead.status, lead.claimed_by) == ("dialing", "preview:ann")

    with db.session() as s, pytest.raises(preview.NotReserved, match="reserved by agent ann"):
        preview.dial(s, "spring", ann.lead_id, "bob", clock(), HOLD)
    with db.session() as s:
        claimed = preview.dial(s, "spring", ann.lead_id, "ann", clock(), HOLD)
    assert isinstance(claimed, attempts.Claimed)
    assert claimed.request.agent == "ann" and claimed.request.number == NYC[0]
    assert claimed.request.lead_fields["plan"] == "gold"
    with db.session() as s, pytest.raises(preview.NotReserved, match="being called already"):
        preview.dial(s, "spring", ann.lead_id, "ann", clock(), HOLD)
    with db.session() as s, pytest.raises(preview.NotReserved, match="being called already"):
        preview.skip(s, "spring", ann.lead_id, "ann", clock(), HOLD)
    [attempt] = _attempts(db)
    assert attempt.lead_id == ann.lead_id and attempt.outcome is None
    assert _lead(db, ann.lead_id).claimed_by == "preview-call:ann"
    with db.session() as s:  # the call ends: the lead is released like any other
        attempts.record_outcome(
            s, claimed.attempt_id, attempts.CallOutcome(Result.HUMAN, talk_s=20.0), clock()
        )
    assert _lead(db, ann.lead_id).status == "done"
    with db.session() as s, pytest.raises(NotFound, match="no lead 999"):
        preview.dial(s, "spring", 999, "ann", clock(), HOLD)


def test_concurrent_dials_record_one_attempt(db_url: str) -> None:
    db = _db(db_url, NYC[:1])
    clock = _clock()
    r = _reserve(db, "ann", clock)
    results: list[object] = []
    barrier = threading.Barrier(4)

    def dial() -> None:
        barrier.wait()
        try:
            with db.session() as s:
                results.append(preview.dial(s, "spring", r.lead_id, "ann", clock(), HOLD))
        except preview.NotReserved as exc:
            results.append(exc)
        except Exception as exc:  # SQLite: "database is locked" is a lost race, not a dial
            results.append(exc)

    threads = [threading.Thread(target=dial) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(x, attempts.Claimed) for x in results) == 1, results
    assert len(_attempts(db)) == 1


def test_skip_puts_the_lead_back_behind_the_due_ones(db_url: str) -> None:
    db = _db(db_url, NYC[:2])
    clock = _clock()
    first = _reserve(db, "ann", clock)
    with db.session() as s, pytest.raises(preview.NotReserved, match="not bob"):
        preview.skip(s, "spring", first.lead_id, "bob", clock(), HOLD)
    with db.session() as s:
        preview.skip(s, "spring", first.lead_id, "ann", clock(), HOLD)
    lead = _lead(db, first.lead_id)
    assert (lead.status, lead.claimed_by, lead.wait_reason) == ("new", None, preview.SKIPPED)
    clock.advance(seconds=1)
    second = _reserve(db, "ann", clock)
    assert second.number == NYC[1]  # the skipped lead waits behind the others
    with db.session() as s:
        preview.skip(s, "spring", second.lead_id, "ann", clock(), HOLD)
    clock.advance(seconds=1)
    assert _reserve(db, "ann", clock).lead_id == first.lead_id  # and comes back
    assert _attempts(db) == []


def test_reservation_expires_and_a_late_dial_is_refused(db_url: str) -> None:
    db = _db(db_url, NYC[:1])
    clock = _clock()
    r = _reserve(db, "ann", clock)
    clock.advance(seconds=HOLD + 1)
    with db.session() as s, pytest.raises(preview.NotReserved, match="expired"):
        preview.dial(s, "spring", r.lead_id, "ann", clock(), HOLD)
    with db.session() as s:
        c = preview.preview_campaign(s, "spring")
        assert preview.release_expired(s, c.id, clock(), HOLD) == 1
        assert preview.release_expired(s, c.id, clock(), HOLD) == 0
    lead = _lead(db, r.lead_id)
    assert (lead.status, lead.claimed_by, lead.wait_reason) == ("new", None, preview.EXPIRED)
    assert _reserve(db, "bob", clock).lead_id == r.lead_id  # someone else may have it now
    assert _attempts(db) == []


def test_compliance_is_the_runners_at_reserve_and_at_dial(db_url: str) -> None:
    listed = NYC[0]
    db = _db(db_url, [listed, HONOLULU, NYC[1]])
    with db.session() as s:
        s.add(DncEntry(number=listed, scope="national", reason="national list import"))
    clock = _clock()  # 05:00 in Honolulu: outside its window
    r = _reserve(db, "ann", clock)
    assert r.number == NYC[1]
    with db.session() as s:
        leads = {lead.phone: lead for lead in s.scalars(select(Lead))}
    assert leads[listed].status == "dnc"
    assert leads[HONOLULU].status == "new" and leads[HONOLULU].wait_reason == "OUTSIDE_WINDOW"
    with db.session() as s:  # on the list while the agent reads: refused at dial time
        attempts.add_dnc(s, NYC[1], "opt-out by email")
    with db.session() as s:
        got = preview.dial(s, "spring", r.lead_id, "ann", clock(), HOLD)
    assert isinstance(got, preview.DialRefused) and "DNC_INTERNAL" in str(got)
    assert _lead(db, r.lead_id).status == "dnc" and _attempts(db) == []


def test_only_a_running_preview_campaign_is_served(db_url: str) -> None:
    db = campaign_db(db_url, NYC[:1])  # progressive
    start(db)
    with db.session() as s, pytest.raises(preview.NotPreviewCampaign, match="progressive"):
        preview.reserve(s, "spring", "ann", T0, HOLD)
    db2 = campaign_db(
        db_url.replace("callcenter.db", "other.db") if "sqlite" in db_url else db_url,
        NYC[:1],
        name="later",
        dial_mode="preview",
    )
    with db2.session() as s, pytest.raises(preview.NotPreviewCampaign, match="draft, not"):
        preview.reserve(s, "later", "ann", T0, HOLD)
    db3 = campaign_db(
        db_url.replace("callcenter.db", "third.db") if "sqlite" in db_url else db_url,
        NYC[:1],
        name="tw",
        dial_mode="preview",
        voice_layer="twilio",
    )
    start(db3, "tw")
    with db3.session() as s:  # over Twilio too (the answer goes to the agent there as well)
        assert preview.reserve(s, "tw", "ann", T0, HOLD).number == NYC[0]


async def test_runner_places_nothing_but_the_agents_calls(db_url: str) -> None:
    db = _db(db_url, NYC[:2])
    clock = _clock()
    port = FakeOutbound(db, {NYC[0]: [Script(Result.HUMAN)], NYC[1]: [Script(Result.HUMAN)]})
    service = DialerService(
        db,
        {"sip": port},
        FixedAgents({"sales": AgentLoad(available=5)}),
        poll_s=0.05,
        tick_s=0.05,
        clock=clock,
        preview_hold_s=HOLD,
    )
    desk = service.preview_desk
    with pytest.raises(preview.NotPreviewCampaign, match="no runner"):
        await desk.next_for("spring", "ann")
    await service.start()
    try:
        for _ in range(100):
            if service.live_runner("spring") is not None:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        assert port.placed == []  # five free agents, and nothing dialed by itself
        r = await desk.next_for("spring", "ann")
        claimed = await desk.dial("spring", r.lead_id, "ann")
        assert claimed.request.agent == "ann"
        other = await desk.next_for("spring", "ann")
        assert await desk.skip("spring", other.lead_id, "ann") == 1
        for _ in range(200):
            done = [a.outcome for a in _attempts(db)]
            if done and all(done):
                break
            await asyncio.sleep(0.02)
        assert [a.outcome for a in _attempts(db)] == ["human"]
        assert [p.number for p in port.placed] == [NYC[0]]
        # Reserved, then left: expired and put back by the runner; the campaign waits for it.
        again = await desk.next_for("spring", "bob")
        assert again.lead_id == other.lead_id
        clock.advance(seconds=HOLD + 1)
        for _ in range(200):
            if _lead(db, other.lead_id).status == "new":
                break
            await asyncio.sleep(0.02)
        assert _lead(db, other.lead_id).wait_reason == preview.EXPIRED
        last = await desk.next_for("spring", "bob")
        await desk.dial("spring", last.lead_id, "bob")
        runner = service.live_runner("spring")
        assert isinstance(runner, CampaignRunner)
        for _ in range(200):  # answered: done; no lead left: completed
            with db.session() as s:
                if CampaignRepository(s).get("spring").state == "completed":
                    break
            await asyncio.sleep(0.02)
        with db.session() as s:
            assert CampaignRepository(s).get("spring").state == "completed"
    finally:
        await service.stop()


async def test_skip_limit_per_agent_in_a_row(db_url: str) -> None:
    db = _db(db_url, NYC[:3])
    clock = _clock()
    service = DialerService(db, {"sip": FakeOutbound(db, {})}, clock=clock)
    desk = service.preview_desk
    desk.max_skips = 2

    class Placer:
        def place(self, claimed: attempts.Claimed) -> None:
            pass

    desk.runner = lambda name: Placer()
    for n in (1, 2):
        r = await desk.next_for("spring", "ann")
        assert await desk.skip("spring", r.lead_id, "ann") == n
        clock.advance(seconds=1)
    r = await desk.next_for("spring", "ann")
    with pytest.raises(preview.SkipLimit, match="skipped 2 leads in a row"):
        await desk.skip("spring", r.lead_id, "ann")
    assert _lead(db, r.lead_id).claimed_by == "preview:ann"  # still Ann's to dial
    other = await desk.next_for("spring", "bob")  # Bob has his own count
    assert await desk.skip("spring", other.lead_id, "bob") == 1
    await desk.dial("spring", r.lead_id, "ann")
    assert await desk.skips("spring", "ann") == 0  # a dial resets it
    assert await desk.skips("spring", "bob") == 1


class _Placer:
    def place(self, claimed: attempts.Claimed) -> None:
        pass


def _desk(db_url: str, clock: Clock, max_skips: int) -> preview.PreviewDesk:
    """A preview desk as an engine process has it, on its own connection pool."""
    return preview.PreviewDesk(Database(db_url), lambda name: _Placer(), clock, HOLD, max_skips)


async def test_skip_count_is_in_the_database_across_restarts(db_url: str) -> None:
    """The count outlives the desk that made it (an engine restart, or another engine process
    serving the agent's next request): the limit still holds, and a dial on one desk resets
    it for all of them."""
    db = _db(db_url, NYC[:4])
    clock = _clock()
    first = _desk(db_url, clock, 2)
    r = await first.next_for("spring", "ann")
    assert r.skips_in_a_row == 0
    assert await first.skip("spring", r.lead_id, "ann") == 1
    first.db.dispose()  # the engine stops

    clock.advance(seconds=1)
    second = _desk(db_url, clock, 2)  # started again (or another process)
    assert await second.skips("spring", "ann") == 1
    r = await second.next_for("spring", "ann")
    assert r.skips_in_a_row == 1 and r.as_dict()["skips_in_a_row"] == 1
    assert await second.skip("spring", r.lead_id, "ann") == 2
    clock.advance(seconds=1)
    r = await second.next_for("spring", "ann")
    third = _desk(db_url, clock, 2)
    with pytest.raises(preview.SkipLimit, match="skipped 2 leads in a row"):
        await third.skip("spring", r.lead_id, "ann")
    lead = _lead(db, r.lead_id)  # the refusal changed nothing: still Ann's to dial
    assert (lead.status, lead.claimed_by) == ("dialing", "preview:ann")
    assert await third.skips("spring", "ann") == 2
    await third.dial("spring", r.lead_id, "ann")
    assert await second.skips("spring", "ann") == 0
    with db.session() as s:
        other = preview.reserve(s, "spring", "ann", clock(), HOLD)
    assert isinstance(other, preview.Reservation)
    # Refused in a transaction that commits all the same: nothing was counted.
    with db.session() as s, pytest.raises(preview.NotReserved, match="not bob"):
        preview.skip(s, "spring", other.lead_id, "bob", clock(), HOLD, 2)
    assert await second.skips("spring", "bob") == 0
    for desk in (second, third):
        desk.db.dispose()


def test_concurrent_skips_do_not_both_pass_the_limit(db_url: str) -> None:
    """Ann holds two reservations (two engine processes served her at once) and is one skip
    short of the limit; both are skipped at the same moment from two processes (separate
    connection pools): exactly one skip passes, the other is refused by the count."""
    db = _db(db_url, NYC[:3])
    clock = _clock()
    r = _reserve(db, "ann", clock)
    with db.session() as s:
        preview.skip(s, "spring", r.lead_id, "ann", clock(), HOLD, 2)
    clock.advance(seconds=1)
    one = _reserve(db, "ann", clock)
    with db.session() as s:  # the second process's reservation, won in a race
        other = next(
            lead.id for lead in s.scalars(select(Lead).order_by(Lead.id))
            if lead.status == "new" and lead.id != one.lead_id
        )
        assert attempts.claim_lead(s, other, clock(), preview.RESERVED + "ann")
    processes = [Database(db_url), Database(db_url)]
    results: list[object] = []
    barrier = threading.Barrier(2)

    def skip(process: Database, lead_id: int) -> None:
        barrier.wait()
        try:
            with process.session() as s:
                results.append(preview.skip(s, "spring", lead_id, "ann", clock(), HOLD, 2))
        except Exception as exc:  # SkipLimit expected; anything else shows in the asserts
            results.append(exc)

    threads = [
        threading.Thread(target=skip, args=(p, lead_id))
        for p, lead_id in zip(processes, (one.lead_id, other), strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in processes:
        p.dispose()
    assert [x for x in results if isinstance(x, int)] == [2], results
    assert [type(x) for x in results if not isinstance(x, int)] == [preview.SkipLimit], results
    with db.session() as s:
        assert preview.skips_in_a_row(s, preview.preview_campaign(s, "spring").id, "ann") == 2
        held = [lead.id for lead in s.scalars(select(Lead)) if lead.claimed_by == "preview:ann"]
    assert len(held) == 1  # the refused skip left its lead reserved
