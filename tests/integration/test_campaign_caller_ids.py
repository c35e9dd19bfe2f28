"""Caller-ID pools at dial time, on SQLite and PostgreSQL: the campaign's runner shows a 212
number to a 212 lead (local presence), spreads its calls over the pool (rotation), and when
every number reached its daily cap the leads wait (CALLER_ID_CAP in the lead flow) until the
next day; each attempt records the number it showed. The settings and the pool's health
through the REST API and the CLI, a bad pool number refused with what to do."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from callcenter.cli import app as root_cli
from callcenter.cli.campaign import render_flow, render_pool
from callcenter.store import Database
from callcenter.web.campaigns import router
from dialer import attempts, preview
from dialer.caller_id_usage import pool_health, pool_report
from dialer.campaigns import CampaignRepository, aware, lead_flow
from dialer.compliance import AbandonCounts, Reason
from dialer.exports import export_attempts
from dialer.ports import AgentLoad, FixedAgents, Result
from dialer.runner import CampaignRunner
from dialer.store import Lead as LeadRow
from dialer.store import LeadAttempt
from tests.integration.test_campaigns_support import (
    T0,
    Clock,
    FakeOutbound,
    Script,
    api_client,
    campaign_db,
    cli_on,
    start,
)

OURS_NYC, OURS_MIAMI, OURS_TORONTO = "+12125550198", "+13055550198", "+14163610001"
POOL = [OURS_MIAMI, OURS_NYC, OURS_TORONTO]
NYC_LEAD, MIAMI_LEAD, TORONTO_LEAD = "+12125550100", "+13055550100", "+14163610100"
ROCHESTER_LEAD, CHICAGO_LEAD = "+15855550100", "+13125550100"
NYC_LEADS = [f"+1212555{n:04d}" for n in range(100, 106)]


async def _dial(db: Database, numbers: list[str], clock: Clock, calls: int,
                ) -> tuple[CampaignRunner, FakeOutbound]:
    """Start the campaign and run one dial step that places ``calls`` calls to ``numbers``
    (a person answers each), to their end."""
    start(db)
    port = FakeOutbound(db, {n: [Script(Result.HUMAN)] for n in numbers})
    agents = FixedAgents({"sales": AgentLoad(available=len(numbers))})
    runner = CampaignRunner(db, "spring", port, agents, clock=clock, tick_s=0.0)
    assert await runner.step() == calls
    await runner.wait_idle()
    return runner, port


def _shown(db: Database) -> dict[str, str | None]:
    with db.session() as s:
        return {a.number: a.caller_id for a in s.scalars(select(LeadAttempt))}


async def test_local_presence_shows_the_called_partys_area_code(db_url: str) -> None:
    numbers = [NYC_LEAD, MIAMI_LEAD, TORONTO_LEAD, ROCHESTER_LEAD, CHICAGO_LEAD]
    db = campaign_db(db_url, numbers, caller_ids=POOL, caller_id_strategy="local",
                     max_lines=10)
    _, port = await _dial(db, numbers, Clock(), 5)
    shown = {r.number: r.caller_id for r in port.placed}
    assert shown[NYC_LEAD] == OURS_NYC  # 212 for 212
    assert shown[MIAMI_LEAD] == OURS_MIAMI
    assert shown[TORONTO_LEAD] == OURS_TORONTO
    assert shown[ROCHESTER_LEAD] == OURS_NYC  # no 585 number: New York state's
    assert shown[CHICAGO_LEAD] in (OURS_NYC, OURS_MIAMI)  # the US, least used
    assert _shown(db) == shown  # each attempt records the number it showed
    with db.session() as s:
        out = io.StringIO()
        export_attempts(s, "spring", out)
    assert {r["phone"]: r["caller_id"] for r in csv.DictReader(io.StringIO(out.getvalue()))
            } == shown
    db.dispose()


async def test_rotation_spreads_the_calls_over_the_pool(db_url: str) -> None:
    db = campaign_db(db_url, NYC_LEADS, caller_ids=POOL, caller_id_strategy="rotate",
                     max_lines=10)
    _, port = await _dial(db, NYC_LEADS, Clock(), 6)
    assert Counter(r.caller_id for r in port.placed) == dict.fromkeys(POOL, 2)
    assert Counter(_shown(db).values()) == dict.fromkeys(POOL, 2)
    db.dispose()


async def test_a_campaign_without_a_pool_shows_its_caller_id(db_url: str) -> None:
    db = campaign_db(db_url, NYC_LEADS[:2])
    _, port = await _dial(db, NYC_LEADS[:2], Clock(), 2)
    assert {r.caller_id for r in port.placed} == {"+12125550999"}
    assert set(_shown(db).values()) == {"+12125550999"}
    db.dispose()


async def test_the_daily_cap_makes_leads_wait_for_the_next_day(db_url: str) -> None:
    db = campaign_db(db_url, NYC_LEADS, caller_ids=[OURS_NYC, OURS_MIAMI],
                     caller_id_strategy="local", caller_id_daily_cap=2, max_lines=10,
                     timezone="America/New_York")
    clock = Clock()
    runner, port = await _dial(db, NYC_LEADS, clock, 4)
    assert Counter(r.caller_id for r in port.placed) == {OURS_NYC: 2, OURS_MIAMI: 2}
    with db.session() as s:
        flow = lead_flow(s, "spring", clock.now)
        assert flow.dialable_now == 0 and flow.waiting_why == {"CALLER_ID_CAP": 2}
        assert "waiting for     CALLER_ID_CAP 2" in render_flow(flow)
    assert await runner.step() == 0
    with db.session() as s:
        held = s.scalars(select(LeadRow).where(LeadRow.wait_reason == "CALLER_ID_CAP")).all()
        assert [lead.status for lead in held] == ["new", "new"]  # they wait, not lost
        midnight_ny = datetime(2026, 6, 11, 4, 0, tzinfo=UTC)
        assert {aware(lead.next_attempt_at) for lead in held  # type: ignore[arg-type]
                } == {midnight_ny}
        flow = lead_flow(s, "spring", clock.now)
        assert flow.waiting_why == {"CALLER_ID_CAP": 2} and flow.waiting_retry == 2
    clock.now = datetime(2026, 6, 11, 14, 0, tzinfo=UTC)  # 10:00 the next day in New York
    assert await runner.step() == 2
    await runner.wait_idle()
    assert Counter(r.caller_id for r in port.placed[4:]) == {OURS_NYC: 2}  # local first
    db.dispose()


def test_health_flags_the_number_people_stopped_answering(db_url: str) -> None:
    db = campaign_db(db_url, ["+12125550100"], caller_ids=POOL)
    with db.session() as s:
        c = CampaignRepository(s).get("spring")
        lead = s.scalars(select(LeadRow)).one()
        for i in range(180):
            shown = POOL[i % 3]
            human = (i // 3) % (10 if shown == OURS_TORONTO else 3) == 0
            s.add(LeadAttempt(lead_id=lead.id, campaign_id=c.id, number=lead.phone,
                              key=f"k{i}", caller_id=shown,
                              started_at=T0 - timedelta(minutes=i),
                              outcome="human" if human else "no_answer"))
        s.flush()
        rows = {h.number: h for h in pool_health(s, c, T0)}
        table = render_pool(pool_report(s, c, T0)).splitlines()
    assert [line.split()[0] for line in table if "SUSPECT" in line] == [OURS_TORONTO]
    assert f"  {OURS_NYC}         60      60       20  33.3 %" in table
    assert rows[OURS_TORONTO].suspect and rows[OURS_TORONTO].calls == 60
    assert rows[OURS_TORONTO].answers == 6
    assert not rows[OURS_NYC].suspect and rows[OURS_NYC].answer_rate == 20 / 60
    assert rows[OURS_NYC].calls_today == 60
    db.dispose()


async def test_rest_api_pool_settings_and_health(db_url: str) -> None:
    db = campaign_db(db_url, [])
    body = {"name": "pool", "kind": "telemarketing", "caller_id": "+12125550999",
            "queue": "sales", "caller_ids": POOL, "caller_id_daily_cap": 150}
    async with api_client(db, router) as api:
        created = await api.post("/api/campaigns", json=body)
        assert created.status_code == 201, created.text
        got = (await api.get("/api/campaigns/pool")).json()
        assert (got["caller_ids"], got["caller_id_strategy"], got["caller_id_daily_cap"]) == (
            POOL, "local", 150)
        status = (await api.get("/api/campaigns/pool/status")).json()
        assert status["caller_id_pool"] == {"strategy": "local", "numbers": POOL,
                                            "daily_cap": 150, "used_up": False}
        health = (await api.get("/api/campaigns/pool/caller-ids")).json()
        assert [h["number"] for h in health["numbers"]] == POOL
        assert health["numbers"][0] == {"number": OURS_MIAMI, "calls_today": 0, "calls": 0,
                                         "answers": 0, "answer_rate": None, "suspect": False}
        assert health["days"] == 7 and health["daily_cap"] == 150
        bad = await api.post("/api/campaigns", json={**body, "name": "bad",
                                                      "caller_ids": [OURS_NYC, "555-0100"]})
        assert bad.status_code == 422
        assert "'555-0100' is not a valid E.164 number" in bad.text
        assert (await api.get("/api/campaigns/nope/caller-ids")).status_code == 404
    db.dispose()


def test_cli_pool_options_file_and_health(sqlite_url: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    run = cli_on(sqlite_url, monkeypatch)
    cli = CliRunner()
    run("campaign", "create", "a", "--caller-id", "+12125550999", "--queue", "sales",
        "--caller-id-pool", OURS_NYC, "--caller-id-pool", OURS_MIAMI,
        "--caller-id-strategy", "rotate", "--caller-id-daily-cap", "100")
    pool_csv = tmp_path / "pool.csv"
    pool_csv.write_text(f"label,phone\nnyc,{OURS_NYC}\ntoronto,{OURS_TORONTO}\n")
    run("campaign", "create", "b", "--caller-id", "+12125550999", "--queue", "sales",
        "--caller-id-pool-file", str(pool_csv))
    plain = tmp_path / "pool.txt"
    plain.write_text(f"{OURS_MIAMI}\n{OURS_NYC}\n")
    run("campaign", "create", "c", "--caller-id", "+12125550999", "--queue", "sales",
        "--caller-id-pool-file", str(plain))
    out = run("campaign", "caller-ids", "a")
    assert "rotate, cap 100 calls a day" in out
    assert "caller IDs        rotate, cap 100 calls a day" in run("campaign", "status", "a")
    assert OURS_NYC in out and OURS_MIAMI in out
    data = json.loads(run("campaign", "caller-ids", "b", "--json"))
    assert data["strategy"] == "local"
    assert [n["number"] for n in data["numbers"]][-2:] == [OURS_NYC, OURS_TORONTO]
    assert [n["number"] for n in json.loads(run("campaign", "caller-ids", "c", "--json"))[
        "numbers"]][-2:] == [OURS_MIAMI, OURS_NYC]
    bad = cli.invoke(root_cli, ["campaign", "create", "d", "--caller-id", "+12125550999",
                                "--queue", "sales", "--caller-id-pool", "+1212555"])
    assert bad.exit_code != 0
    assert "'+1212555' is not a valid E.164 number" in str(bad.exception) + bad.output
    bad_file = tmp_path / "bad.txt"
    bad_file.write_text(f"{OURS_NYC}\nnot a number\n")
    bad = cli.invoke(root_cli, ["campaign", "create", "e", "--caller-id", "+12125550999",
                                "--queue", "sales", "--caller-id-pool-file", str(bad_file)])
    assert bad.exit_code != 0 and "bad.txt:2" in str(bad.exception) + bad.output


def test_the_cap_holds_when_two_calls_are_recorded_at_once(db_url: str) -> None:
    """Two transactions record a call each while one number has one call left today (two
    preview agents dialing at the same moment): the second waits for the first and finds the
    cap reached, rather than both counting the same number left."""
    db = campaign_db(db_url, NYC_LEADS[:2], caller_ids=[OURS_NYC], caller_id_daily_cap=1)
    with db.session() as s:
        c = CampaignRepository(s).get("spring")
        ids = list(s.scalars(select(LeadRow.id).order_by(LeadRow.id)))
    first_recorded, second_done = threading.Event(), threading.Event()
    got: dict[str, object] = {}

    def second() -> None:
        first_recorded.wait(10)
        with db.session() as s:
            got["second"] = attempts.claim_and_record(s, s.merge(c), ids[1], T0, "b",
                                                      AbandonCounts())
        second_done.set()

    thread = threading.Thread(target=second)
    thread.start()
    with db.session() as s:
        got["first"] = attempts.claim_and_record(s, s.merge(c), ids[0], T0, "a",
                                                 AbandonCounts())
        first_recorded.set()
        second_done.wait(1.0)  # the second must not finish while this one is open
    thread.join(10)
    assert isinstance(got["first"], attempts.Claimed)
    assert isinstance(got["second"], attempts.Refused)
    assert got["second"].reason is Reason.CALLER_ID_CAP
    assert list(_shown(db).values()) == [OURS_NYC]
    db.dispose()


def test_preview_agents_get_no_lead_once_the_pool_is_used_up(db_url: str) -> None:
    """Two agents hold a lead each with one call left today: the first dial shows the number,
    the second is refused (the lead waits, CALLER_ID_CAP), and a third agent gets no lead."""
    db = campaign_db(db_url, NYC_LEADS[:3], dial_mode="preview", caller_ids=[OURS_NYC],
                     caller_id_daily_cap=1)
    start(db)
    now = T0 + timedelta(weeks=520)  # a Wednesday 11:00 in New York, after the leads' import
    with db.session() as s:
        ann, bob = (preview.reserve(s, "spring", agent, now) for agent in ("ann", "bob"))
    assert isinstance(ann, preview.Reservation) and isinstance(bob, preview.Reservation)
    with db.session() as s:
        dialed = preview.dial(s, "spring", ann.lead_id, "ann", now)
        assert isinstance(dialed, attempts.Claimed) and dialed.request.caller_id == OURS_NYC
    with db.session() as s:
        refused = preview.dial(s, "spring", bob.lead_id, "bob", now)
        assert isinstance(refused, preview.DialRefused)
        assert refused.reason is Reason.CALLER_ID_CAP
    with db.session() as s:
        assert isinstance(preview.reserve(s, "spring", "carol", now), preview.NoLeadDue)
        waiting = s.scalars(select(LeadRow.wait_reason).where(LeadRow.id != ann.lead_id)).all()
        assert waiting == ["CALLER_ID_CAP", "CALLER_ID_CAP"]
    assert list(_shown(db).values()) == [OURS_NYC]
    db.dispose()
