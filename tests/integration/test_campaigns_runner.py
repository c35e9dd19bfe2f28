"""The campaign runner against the real database (SQLite and PostgreSQL) with a scripted
OutboundPort: attempts, leads, DNC and CDRs as the database records them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from callcenter.store import Database
from callcenter.store.models import Call
from dialer import attempts
from dialer.campaigns import CampaignRepository, aware, lead_flow
from dialer.ports import AgentLoad, CallOutcome, FixedAgents, Result
from dialer.runner import CampaignRunner
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

ROOT = Path(__file__).resolve().parents[2]
BUSY_ONCE_MORE = {"outcome": {"busy": {"delay_s": 60, "max_retries": 1}}}


def _leads(db: Database) -> dict[str, Lead]:
    with db.session() as s:
        return {lead.phone: lead for lead in s.scalars(select(Lead))}


def _attempts(db: Database, phone: str | None = None) -> list[LeadAttempt]:
    with db.session() as s:
        q = select(LeadAttempt).order_by(LeadAttempt.id)
        if phone is not None:
            q = q.where(LeadAttempt.number == phone)
        return list(s.scalars(q))


def _runner(db: Database, port: FakeOutbound, clock: Clock, agents: int = 3) -> CampaignRunner:
    pool = FixedAgents({"sales": AgentLoad(available=agents)})
    return CampaignRunner(db, "spring", port, pool, clock=clock, tick_s=0.0)


async def test_campaign_answers_busy_optout_dnc_and_window(db_url: str) -> None:
    human, busy, opt, listed = NYC[:4]
    db = campaign_db(db_url, [human, busy, opt, listed, HONOLULU], retry=BUSY_ONCE_MORE)
    with db.session() as s:
        s.add(DncEntry(number=listed, scope="national", reason="national list import"))
    start(db)
    port = FakeOutbound(
        db,
        {
            human: [Script(Result.HUMAN, disposition="sale")],
            busy: [Script(Result.BUSY)],
            opt: [Script(Result.HUMAN, opt_out=True)],
        },
    )
    clock = Clock()
    runner = _runner(db, port, clock)
    assert await runner.reconcile() == 0
    for _ in range(4):
        await runner.step()
        await runner.wait_idle()
        clock.advance(minutes=2)

    leads = _leads(db)
    assert [r.number for r in port.placed].count(busy) == 2  # retried once after 60 s
    assert {r.number for r in port.placed} == {human, busy, opt}  # never the DNC or Hawaii
    assert (leads[human].status, leads[human].attempts) == ("done", 1)
    assert (leads[busy].status, leads[busy].attempts, leads[busy].last_outcome) == (
        "done",
        2,
        "busy",
    )
    assert (leads[opt].status, leads[opt].wait_reason) == ("dnc", "DNC_INTERNAL")
    assert port.dnc_seen_at_once == [True]  # on the list before the call even ended
    assert (leads[listed].status, leads[listed].attempts, leads[listed].wait_reason) == (
        "dnc",
        0,
        "DNC_NATIONAL",
    )
    hawaii = leads[HONOLULU]
    assert (hawaii.status, hawaii.attempts, hawaii.wait_reason) == ("new", 0, "OUTSIDE_WINDOW")
    assert hawaii.next_attempt_at is not None
    assert aware(hawaii.next_attempt_at) == T0 + timedelta(hours=4)  # 09:00 in Honolulu

    rows = _attempts(db)
    assert [(a.number, a.outcome) for a in rows if a.number == busy] == [
        (busy, "busy"),
        (busy, "busy"),
    ]
    assert len({a.key for a in rows}) == len(rows) == 4
    assert all(a.outcome is not None and a.ended_at is not None for a in rows)
    assert [a.disposition for a in rows if a.number == human] == ["sale"]
    with db.session() as s:
        dnc = s.scalars(select(DncEntry).where(DncEntry.number == opt)).all()
        assert [(d.scope, d.campaign_id) for d in dnc] == [("internal", None)]
        for a in rows:  # every attempt has its outbound CDR
            call = s.get(Call, a.call_id)
            assert call is not None and call.direction == "outbound" and call.dialed == a.number
        flow = lead_flow(s, "spring", clock.now)
    assert (flow.done, flow.dnc, flow.waiting_window, flow.dialable_now, flow.dialing) == (
        2,
        2,
        1,
        0,
        0,
    )
    assert port.placed[0].lead_fields["plan"] == "gold"
    assert port.placed[0].ring_timeout_s >= 15
    db.dispose()


async def test_abandon_rate_over_target_stops_dialing(db_url: str) -> None:
    db = campaign_db(db_url, NYC[:6], max_lines=2)
    start(db)
    port = FakeOutbound(db, {NYC[0]: [Script(Result.HUMAN)], NYC[1]: [Script(Result.ABANDONED)]})
    clock = Clock()
    runner = _runner(db, port, clock, agents=2)
    assert await runner.step() == 2
    await runner.wait_idle()
    assert await runner.step() == 0  # 1 abandoned of 2 live answers: far over 3 %
    await runner.wait_idle()
    live = runner.live  # what the supervisors' console shows
    assert live is not None and live.campaign == "spring" and live.state == "running"
    assert (live.dialed, live.answered_human, live.abandoned) == (2, 2, 1)
    assert live.abandon_pct == 50.0 and live.abandon_target_pct == 3.0
    assert (live.leads_pending, live.max_lines) == (5, 2)
    leads = _leads(db)
    assert sum(1 for lead in leads.values() if lead.attempts) == 2
    abandoned = leads[NYC[1]]
    assert abandoned.status == "retry" and abandoned.next_attempt_at is not None
    assert aware(abandoned.next_attempt_at) >= T0 + timedelta(hours=72)
    db.dispose()


async def test_survey_runs_to_completion_and_stores_answers(db_url: str) -> None:
    numbers = NYC[:4]
    db = campaign_db(
        db_url,
        numbers,
        name="csat",
        kind="survey",
        flow="csat_survey",
        queue=None,
        dial_mode=None,
        max_lines=5,
    )
    start(db, "csat")
    answers = [
        (("q1", "5"), ("recommend", "yes")),
        (("q1", "4"), ("recommend", "yes")),
        (("q1", "2"), ("recommend", "no")),
        (("q1", "5"),),
    ]
    port = FakeOutbound(
        db, {n: [Script(Result.HUMAN, answers=a)] for n, a in zip(numbers, answers, strict=True)}
    )
    runner = CampaignRunner(db, "csat", port, clock=Clock(), tick_s=0.0)
    assert await runner.run() == "completed"
    assert len(port.placed) == 4 and all(
        r.kind == "survey" and r.flow == "csat_survey" for r in port.placed
    )
    from dialer.results import summarise

    with db.session() as s:
        assert CampaignRepository(s).get("csat").ended_at is not None
        summary = {q.question: q for q in summarise(s, "csat")}
    assert summary["q1"].counts == {"5": 2, "2": 1, "4": 1}
    assert summary["q1"].mean == pytest.approx(4.0)
    assert summary["recommend"].shares == pytest.approx({"yes": 2 / 3, "no": 1 / 3})
    assert summary["recommend"].mean is None
    db.dispose()


def test_claims_are_exactly_once_under_concurrency(db_url: str) -> None:
    numbers = [f"+1212555{i:04d}" for i in range(100, 140)]
    db = campaign_db(db_url, numbers)
    with db.session() as s:
        ids = list(s.scalars(select(Lead.id)))
    won: list[int] = []
    lock = threading.Lock()
    gate = threading.Barrier(4)

    def claimer(owner: str) -> None:
        gate.wait()
        for lead_id in ids:
            with db.session() as s:
                if attempts.claim_lead(s, lead_id, T0, owner):
                    with lock:
                        won.append(lead_id)

    threads = [threading.Thread(target=claimer, args=(f"node{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won) == sorted(ids)  # each lead claimed once, by exactly one node
    assert {lead.status for lead in _leads(db).values()} == {"dialing"}
    db.dispose()


async def test_outcome_is_recorded_once_and_keys_are_unique(db_url: str) -> None:
    db = campaign_db(db_url, NYC[:1])
    start(db)
    port = FakeOutbound(db, {NYC[0]: [Script(Result.NO_ANSWER)]})
    runner = _runner(db, port, Clock())
    await runner.step()
    await runner.wait_idle()
    (attempt,) = _attempts(db)
    with db.session() as s:  # a replayed outcome changes nothing
        assert not attempts.record_outcome(s, attempt.id, CallOutcome(Result.HUMAN), T0)
    with db.session() as s:
        assert s.get(LeadAttempt, attempt.id).outcome == "no_answer"  # type: ignore[union-attr]
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(
            LeadAttempt(
                lead_id=attempt.lead_id,
                campaign_id=attempt.campaign_id,
                key=attempt.key,
                number=attempt.number,
            )
        )
    lead = _leads(db)[NYC[0]]
    assert lead.status == "retry" and aware(lead.next_attempt_at) == T0 + timedelta(hours=2)  # type: ignore[arg-type]
    db.dispose()


async def test_a_failing_voice_layer_fails_the_attempt_not_the_runner(db_url: str) -> None:
    db = campaign_db(db_url, NYC[:1])
    start(db)

    def boom(_request: object) -> None:
        raise ConnectionError("trunk down")

    port = FakeOutbound(db, {NYC[0]: [Script(Result.HUMAN)]}, on_place=boom)
    runner = _runner(db, port, Clock())
    assert await runner.step() == 1
    await runner.wait_idle()
    (attempt,) = _attempts(db)
    assert attempt.outcome == "failed" and "trunk down" in attempt.detail
    assert _leads(db)[NYC[0]].status == "retry"
    db.dispose()


CRASHING_RUNNER = textwrap.dedent("""
    import asyncio, os, sys
    from callcenter.store import open_database
    from dialer.ports import AgentLoad, FixedAgents, Result
    from dialer.runner import CampaignRunner
    from tests.integration.test_campaigns_support import Clock, FakeOutbound, Script

    db = open_database(sys.argv[1])
    number = sys.argv[2]
    # The process dies while the call is up: lead claimed, attempt recorded, no outcome.
    port = FakeOutbound(db, {number: [Script(Result.HUMAN)]}, on_place=lambda r: os._exit(17))
    runner = CampaignRunner(db, "spring", port, FixedAgents({"sales": AgentLoad(available=1)}),
                            clock=Clock(), tick_s=0.0)

    async def main():
        await runner.step()
        await runner.wait_idle()

    asyncio.run(main())
    sys.exit(0)
""")


async def test_crash_mid_call_is_reconciled_to_one_failed_attempt(db_url: str) -> None:
    db = campaign_db(db_url, NYC[:1])
    start(db)
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_RUNNER, db_url, NYC[0]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 17, proc.stderr
    (open_attempt,) = _attempts(db)
    assert open_attempt.outcome is None
    assert _leads(db)[NYC[0]].status == "dialing"

    clock = Clock()
    port = FakeOutbound(db, {NYC[0]: [Script(Result.HUMAN)]})
    runner = _runner(db, port, clock, agents=1)
    assert await runner.reconcile() == 1
    assert await runner.reconcile() == 0  # nothing left to reconcile
    (closed,) = _attempts(db)
    assert (closed.id, closed.outcome, closed.detail) == (open_attempt.id, "failed", attempts.CRASH)
    lead = _leads(db)[NYC[0]]
    assert lead.status == "retry" and lead.attempts == 1
    assert await runner.step() == 0  # the failed retry waits its 30 minutes
    clock.advance(minutes=31)
    assert await runner.step() == 1
    await runner.wait_idle()
    rows = _attempts(db)
    assert [(a.key.rsplit(":", 1)[1], a.outcome) for a in rows] == [("1", "failed"), ("2", "human")]
    assert _leads(db)[NYC[0]].status == "done"
    db.dispose()


async def test_service_runs_a_started_campaign_and_lets_a_paused_one_rest(db_url: str) -> None:
    import asyncio

    from dialer.runner import DialerService

    db = campaign_db(db_url, NYC[:3], max_lines=1)
    gate = asyncio.Event()

    class GatedPort(FakeOutbound):
        async def place(self, request, report):  # type: ignore[no-untyped-def]
            await gate.wait()
            return await super().place(request, report)

    port = GatedPort(db, {n: [Script(Result.HUMAN)] for n in NYC[:3]})
    service = DialerService(
        db,
        {"sip": port},
        FixedAgents({"sales": AgentLoad(available=1)}),
        poll_s=0.02,
        tick_s=0.01,
        clock=Clock(),
    )
    await service.start()
    try:
        await asyncio.sleep(0.1)
        assert service.runner("spring") is None  # a draft campaign is not dialed
        start(db)
        for _ in range(200):
            if (runner := service.runner("spring")) is not None and runner.in_flight:
                break
            await asyncio.sleep(0.01)
        assert [c.campaign for c in service.live()] == ["spring"]
        with db.session() as s:
            CampaignRepository(s).transition("spring", "paused", T0)
        gate.set()  # the call in flight ends after the pause: no further call is placed
        await asyncio.sleep(0.2)
        assert len(port.placed) == 1
        start(db)
        for _ in range(500):
            with db.session() as s:
                if CampaignRepository(s).get("spring").state == "completed":
                    break
            await asyncio.sleep(0.01)
        assert len(port.placed) == 3
        assert {lead.status for lead in _leads(db).values()} == {"done"}
    finally:
        await service.stop()
    db.dispose()


async def test_a_database_step_that_fails_does_not_end_the_runner(
    db_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite busy ("database is locked") or a database gone for a moment: the runner says so,
    tries again, and runs the campaign to its end (before, the error ended the runner)."""
    from sqlalchemy.exc import OperationalError

    import dialer.runner as runner_module

    monkeypatch.setattr(runner_module, "RETRY_S", 0.01)
    numbers = NYC[:2]
    db = campaign_db(db_url, numbers, name="csat", kind="survey", flow="csat_survey",
                     queue=None, dial_mode=None, max_lines=5)
    start(db, "csat")
    port = FakeOutbound(db, {n: [Script(Result.HUMAN)] for n in numbers})
    runner = CampaignRunner(db, "csat", port, clock=Clock(), tick_s=0.0)
    real_step, failures = runner.step, [2]

    async def flaky_step(view):  # type: ignore[no-untyped-def]
        if failures[0]:
            failures[0] -= 1
            raise OperationalError("UPDATE leads", {}, Exception("database is locked"))
        await real_step(view)

    monkeypatch.setattr(runner, "step", flaky_step)
    assert await runner.run() == "completed"
    assert len(port.placed) == 2
    assert sum("database is locked" in r.getMessage() for r in caplog.records) == 2
    db.dispose()
