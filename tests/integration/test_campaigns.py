"""Campaigns in the store on SQLite and PostgreSQL: migration 0003, life cycle, CSV import,
lead flow, DNC uniqueness, survey results, the CLI and the REST API."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from callcenter.errors import ConfigError
from callcenter.store import current_revision, downgrade, open_database, upgrade
from callcenter.store.models import Base
from callcenter.web.campaigns import router
from dialer import attempts
from dialer.campaigns import (
    CampaignRepository,
    CampaignSettings,
    CampaignStateError,
    import_csv,
    lead_flow,
)
from dialer.results import chart, export_csv, summarise
from dialer.store import Campaign, DncEntry, Lead
from tests.integration.test_campaigns_support import (
    HONOLULU,
    NYC,
    T0,
    api_client,
    campaign_db,
    cli_on,
)

DIALER_TABLES = {"campaigns", "leads", "attempts", "dnc", "survey_answers"}
CSV = (
    "phone,first_name,plan,city\n"
    "212-555-0100,Ann,gold,NYC\n"
    "(212) 555-0101,Bob,,NYC\n"
    "not a number,Carl,gold,?\n"
    "+1 212 555 0100,Ann B,silver,NYC\n"  # the same number as line 2: merged
    "\n"
    ",Dora,gold,NYC\n"
    "808-555-0123,Ed,gold,HNL,extra\n"
    "808-555-0123,Ed,gold,HNL\n"
)


def test_migration_0003_creates_the_dialer_tables_and_round_trips(db_url: str) -> None:
    db = open_database(db_url)
    upgrade(db, "0003")
    assert current_revision(db) == "0003"
    assert set(inspect(db.engine).get_table_names()) >= DIALER_TABLES
    assert set(Base.metadata.tables) >= DIALER_TABLES
    downgrade(db, "0002")
    assert not DIALER_TABLES & set(inspect(db.engine).get_table_names())
    upgrade(db)  # and on to the newest revision after it
    assert set(inspect(db.engine).get_table_names()) >= DIALER_TABLES
    db.dispose()


def test_settings_are_checked() -> None:
    base = {"name": "x", "caller_id": "+12125550999"}
    with pytest.raises(ValidationError, match="needs a flow"):
        CampaignSettings.model_validate({**base, "kind": "survey"})
    with pytest.raises(ValidationError, match="needs agents"):
        CampaignSettings.model_validate({**base, "kind": "telemarketing"})
    with pytest.raises(ValidationError, match="less than or equal to 0.03"):
        CampaignSettings.model_validate(
            {**base, "kind": "survey", "flow": "f", "abandon_target": 0.05}
        )
    with pytest.raises(ValidationError, match="greater than or equal to 15"):
        CampaignSettings.model_validate(
            {**base, "kind": "survey", "flow": "f", "ring_timeout_s": 10}
        )
    ok = CampaignSettings.model_validate({**base, "kind": "telemarketing", "queue": "q"})
    assert ok.dial_mode == "predictive"


def test_life_cycle(db_url: str) -> None:
    db = campaign_db(db_url, [])
    with db.session() as s:
        repo = CampaignRepository(s)
        with pytest.raises(CampaignStateError, match="no leads"):
            repo.transition("spring", "running", T0)
    db.dispose()
    db = campaign_db(
        db_url.replace("callcenter.db", "b.db") if "sqlite" in db_url else db_url,
        [NYC[0]],
        name="autumn",
    )
    with db.session() as s:
        repo = CampaignRepository(s)
        assert repo.transition("autumn", "running", T0).started_at is not None
        assert repo.transition("autumn", "paused", T0).state == "paused"
        assert repo.transition("autumn", "running", T0).state == "running"
        assert repo.transition("autumn", "stopped", T0).ended_at is not None
        with pytest.raises(CampaignStateError, match="stopped and cannot become running"):
            repo.transition("autumn", "running", T0)
    db.dispose()


def test_csv_import_reports_bad_rows_merges_duplicates(db_url: str, tmp_path: Path) -> None:
    db = campaign_db(db_url, [])
    path = tmp_path / "leads.csv"
    path.write_text(CSV)
    seen: list[tuple[str, int]] = []
    report = import_csv(db, "spring", path, progress=lambda stage, n: seen.append((stage, n)))
    assert (report.rows, report.added, report.merged) == (7, 3, 1)
    assert [(b.line, b.reason.split(" ")[0]) for b in report.bad_rows] == [
        (4, "invalid"),
        (7, "no"),
        (8, "expected"),
    ]
    assert seen[-1] == ("stored", 3) and ("read", 7) in seen
    path.write_text("phone,first_name,plan,city\n2125550101,Robert,gold,NYC\n")
    again = import_csv(db, "spring", path)  # already in the list: merged, not doubled
    assert (again.added, again.merged) == (0, 1)
    with db.session() as s:
        leads = {lead.phone: lead for lead in s.scalars(select(Lead))}
    assert set(leads) == {NYC[0], NYC[1], HONOLULU}
    assert (leads[NYC[0]].first_name, leads[NYC[0]].fields) == (
        "Ann",
        {"plan": "gold", "city": "NYC"},
    )
    assert (leads[NYC[1]].first_name, leads[NYC[1]].fields) == (
        "Bob",
        {"city": "NYC", "plan": "gold"},
    )
    db.dispose()


def test_lead_flow_and_forecast(db_url: str) -> None:
    db = campaign_db(db_url, [*NYC[:4], HONOLULU])
    with db.session() as s:
        c = CampaignRepository(s).transition("spring", "running", T0)
        leads = {lead.phone: lead for lead in s.scalars(select(Lead))}
        leads[NYC[0]].status = "done"
        leads[NYC[1]].status, leads[NYC[1]].next_attempt_at = "retry", T0 + timedelta(hours=1)
        for i in range(3):
            s.add(
                attempts.LeadAttempt(
                    lead_id=leads[NYC[0]].id,
                    campaign_id=c.id,
                    key=f"k{i}",
                    number=NYC[0],
                    started_at=T0 - timedelta(minutes=10 * i + 1),
                )
            )
    with db.session() as s:
        flow = lead_flow(s, "spring", T0)
    assert (flow.total, flow.dialable_now, flow.waiting_window, flow.waiting_retry, flow.done) == (
        5,
        2,
        1,
        1,
        1,
    )
    assert flow.attempts_last_hour == 3
    assert flow.runs_dry_at == T0 + timedelta(hours=4 / 3)  # 4 leads left at 3 per hour
    db.dispose()


def test_dnc_is_unique_per_scope(db_url: str) -> None:
    db = campaign_db(db_url, [NYC[0]])
    with db.session() as s:
        cid = s.scalar(select(Campaign.id))
        assert attempts.add_dnc(s, NYC[0], "asked")
        assert not attempts.add_dnc(s, NYC[0], "asked again")
        assert attempts.add_dnc(s, NYC[0], "campaign list", "campaign", cid)
        assert attempts.add_dnc(s, NYC[0], "national", "national")
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(DncEntry(number=NYC[0], scope="internal"))
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(DncEntry(number=NYC[1], scope="campaign"))  # a campaign list needs its campaign
    with db.session() as s:
        lists = attempts.dnc_lists(s, NYC[0], cid)  # type: ignore[arg-type]
    assert lists.internal == lists.national == lists.campaign[str(cid)] == {NYC[0]}
    db.dispose()


def _survey_db(url: str, tmp: Path):  # type: ignore[no-untyped-def]
    db = campaign_db(
        url, NYC[:3], name="csat", kind="survey", flow="csat", queue=None, dial_mode=None
    )
    with db.session() as s:
        leads = list(s.scalars(select(Lead).order_by(Lead.id)))
        cid = leads[0].campaign_id
        for lead, (q1, rec) in zip(leads, [("5", "yes"), ("3", "no"), ("4", "yes")], strict=True):
            s.add(
                attempts.SurveyAnswer(
                    campaign_id=cid, lead_id=lead.id, question="q1", value=q1, answered_at=T0
                )
            )
            s.add(
                attempts.SurveyAnswer(
                    campaign_id=cid,
                    lead_id=lead.id,
                    question="recommend",
                    value=rec,
                    answered_at=T0,
                )
            )
    return db


def test_results_summary_csv_and_chart(db_url: str, tmp_path: Path) -> None:
    db = _survey_db(db_url, tmp_path)
    with db.session() as s:
        summary = {q.question: q for q in summarise(s, "csat")}
        out = io.StringIO()
        assert export_csv(s, "csat", out) == 6
    assert summary["q1"].mean == pytest.approx(4.0)
    assert summary["recommend"].counts == {"yes": 2, "no": 1}
    lines = out.getvalue().splitlines()
    assert lines[0] == "phone,external_id,first_name,last_name,question,value,answered_at"
    assert lines[1].startswith(f"{NYC[0]},,P0,,q1,5,2026-06-10")
    png = chart(list(summary.values()), tmp_path / "c.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    db.dispose()


def test_cli(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = cli_on(sqlite_url, monkeypatch)
    assert "created" in run(
        "campaign",
        "create",
        "spring",
        "--caller-id",
        "+12125550999",
        "--queue",
        "sales",
        "--dial-mode",
        "progressive",
        "--window",
        "10:00-19:00",
        "--callback-owner-wait",
        "45",
    )
    with open_database(sqlite_url).session() as s:
        made = s.scalar(select(Campaign).where(Campaign.name == "spring"))
        assert made is not None and made.callback_owner_wait_min == 45
    bad = run.refused("campaign", "create", "x", "--caller-id", "1", "--kind", "survey")
    assert isinstance(bad, ConfigError) and bad.exit_code == 2
    assert str(bad) == (
        "campaign: a survey campaign is agentless and needs a flow (--flow)"
    )
    (tmp_path / "l.csv").write_text(CSV)
    out = run("campaign", "import", "spring", str(tmp_path / "l.csv"))
    assert "3 leads added" in out and f"{tmp_path / 'l.csv'}:4: invalid phone number" in out
    assert "is running" in run("campaign", "start", "spring")
    assert "is paused" in run("campaign", "pause", "spring")
    status = run("campaign", "status", "spring")
    assert "leads             3" in status and "(paused)" in status
    assert "spring" in run("campaign", "status")
    assert "is stopped" in run("campaign", "stop", "spring")
    assert isinstance(run.refused("campaign", "start", "spring"), CampaignStateError)
    assert "no survey answers" in run("campaign", "results", "spring")


@pytest.fixture
async def api(db_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    db = _survey_db(db_url, tmp_path)
    async with api_client(db, router) as client:
        yield client
    db.dispose()


async def test_rest_api(api: httpx.AsyncClient) -> None:
    body = {
        "name": "tm",
        "kind": "telemarketing",
        "caller_id": "+12125550999",
        "queue": "sales",
        "retry": {"outcome": {"busy": {"delay_s": 60, "max_retries": 1}}},
    }
    created = await api.post("/api/campaigns", json=body)
    assert created.status_code == 201 and created.json()["dial_mode"] == "predictive"
    assert (await api.post("/api/campaigns", json=body)).status_code == 409
    assert (
        await api.post("/api/campaigns", json={**body, "name": "y", "queue": None})
    ).status_code == 422
    assert (await api.post("/api/campaigns/tm/start")).status_code == 409  # no leads yet
    imported = await api.post(
        "/api/campaigns/tm/leads", content=CSV, headers={"content-type": "text/csv"}
    )
    assert imported.json()["added"] == 3 and imported.json()["bad_rows"][0]["line"] == 4
    assert (await api.post("/api/campaigns/tm/start")).json()["state"] == "running"
    flow = (await api.get("/api/campaigns/tm/status")).json()
    assert flow["total"] == 3 and flow["state"] == "running"
    assert (await api.get("/api/campaigns/nope/status")).status_code == 404
    assert [c["name"] for c in (await api.get("/api/campaigns")).json()] == ["csat", "tm"]
    results = (await api.get("/api/campaigns/csat/results")).json()
    assert {q["question"]: q["mean"] for q in results} == {"q1": 4.0, "recommend": None}
    csv = await api.get("/api/campaigns/csat/results.csv")
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.count("\n") == 7
    png = await api.get("/api/campaigns/csat/results.png")
    assert png.content[:4] == b"\x89PNG"
    assert (await api.get("/api/campaigns/tm/results.png")).status_code == 404
