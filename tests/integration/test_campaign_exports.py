"""A campaign's leads and attempts as CSV, on SQLite and PostgreSQL: the lead's place, last
call and disposition and custom fields; every attempt with its agent; formulas neutralised;
the CLI and the REST API."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from callcenter.cli.campaign import app as campaign_cli
from callcenter.store import Database
from callcenter.store.models import Agent, Call
from callcenter.web.campaigns import router
from dialer import attempts
from dialer.campaigns import CampaignRepository
from dialer.compliance import AbandonCounts
from dialer.exports import ExportError, export_attempts, export_leads
from dialer.leads import Lead, LeadImport
from dialer.ports import CallOutcome, Result
from dialer.store import Lead as LeadRow
from tests.integration.test_campaigns_support import NYC, T0, api_client, campaign_db


def _db(url: str) -> Database:
    db = campaign_db(url, [])
    with db.session() as s:
        CampaignRepository(s).import_leads("spring", LeadImport((
            Lead(NYC[0], "Ann", "Lee", "crm-1", {"plan": "gold", "note": "=HYPERLINK(\"x\")"}),
            Lead(NYC[1], "Bob", "", "crm-2", {"region": "east"}),
            Lead(NYC[2], "Cy", "", "crm-3"),
        ), (), 0, 3))
        agent = Agent(code="1001", name="Alice")
        s.add(agent)
        s.flush()
        s.add(Call(id="call-1", direction="outbound", voice_layer="sip", agent_id=agent.id))
    for number, outcome, at, disposition, call_id in (
            (NYC[0], Result.BUSY, T0, None, None),
            (NYC[0], Result.HUMAN, T0 + timedelta(hours=1), "sale", "call-1"),
            (NYC[1], Result.NO_ANSWER, T0 + timedelta(minutes=5), None, None)):
        with db.session() as s:
            c = CampaignRepository(s).get("spring")
            lead = s.scalar(select(LeadRow).where(LeadRow.phone == number))
            claimed = attempts.claim_and_record(s, c, lead.id, at, "t", AbandonCounts())
            assert isinstance(claimed, attempts.Claimed), claimed
            attempts.record_outcome(s, claimed.attempt_id, CallOutcome(
                outcome, call_id=call_id, ring_s=7.25, talk_s=30 if call_id else None,
                disposition=disposition), at + timedelta(seconds=40))
    return db


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_leads_and_attempts_as_csv(db_url: str) -> None:
    db = _db(db_url)
    with db.session() as s:
        out = io.StringIO()
        assert export_leads(s, "spring", out) == 3
        leads = _rows(out.getvalue())
        assert list(leads[0])[-3:] == ["plan", "note", "region"]  # custom fields, first seen
        ann, bob, cy = leads
        assert (ann["status"], ann["attempts"], ann["last_outcome"], ann["last_disposition"]) == (
            "done", "2", "human", "sale")
        assert ann["note"] == "'=HYPERLINK(\"x\")" and ann["phone"] == NYC[0]
        assert ann["last_call_at"].startswith("2026-06-10T16:00:00")
        assert (bob["status"], bob["last_outcome"], bob["region"], bob["plan"]) == (
            "retry", "no_answer", "east", "")
        assert (cy["status"], cy["attempts"], cy["last_call_at"]) == ("new", "0", "")
        only = io.StringIO()
        assert export_leads(s, "spring", only, ["retry", "new"]) == 2
        with pytest.raises(ExportError, match="unknown lead status 'sold'"):
            export_leads(s, "spring", io.StringIO(), ["sold"])
        out = io.StringIO()
        assert export_attempts(s, "spring", out) == 3
        calls = _rows(out.getvalue())
        assert [(c["phone"], c["outcome"], c["disposition"], c["agent"]) for c in calls] == [
            (NYC[0], "busy", "", ""), (NYC[0], "human", "sale", "1001"),
            (NYC[1], "no_answer", "", "")]
        assert calls[1]["ring_s"] == "7.2" and calls[1]["talk_s"] == "30.0"
        later = io.StringIO()
        assert export_attempts(s, "spring", later, T0 + timedelta(minutes=1)) == 2
    db.dispose()


def test_cli_export(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE__URL", sqlite_url)
    _db(sqlite_url).dispose()
    cli = CliRunner()
    target = tmp_path / "leads.csv"
    done = cli.invoke(campaign_cli, ["export", "spring", "leads", "--out", str(target),
                                     "--status", "done"])
    assert done.exit_code == 0, done.output
    assert f"CSV: {target} (1 leads)" in done.output
    assert [r["phone"] for r in _rows(target.read_text(encoding="utf-8"))] == [NYC[0]]
    printed = cli.invoke(campaign_cli, ["export", "spring", "attempts", "--since",
                                        "2026-06-10T15:03:00+00:00"])
    assert printed.exit_code == 0 and len(_rows(printed.output)) == 2
    bad = cli.invoke(campaign_cli, ["export", "spring", "attempts", "--since", "yesterday"])
    assert "not an ISO 8601 date" in str(bad.exception)


async def test_rest_api_exports(db_url: str) -> None:
    db = _db(db_url)
    async with api_client(db, router) as api:
        leads = await api.get("/api/campaigns/spring/leads.csv", params={"status": "retry"})
        assert leads.status_code == 200 and leads.headers["content-type"].startswith("text/csv")
        assert [r["phone"] for r in _rows(leads.text)] == [NYC[1]]
        assert "spring-leads.csv" in leads.headers["content-disposition"]
        calls = await api.get("/api/campaigns/spring/attempts.csv",
                              params={"since": "2026-06-10T16:00:00Z"})
        assert [r["disposition"] for r in _rows(calls.text)] == ["sale"]
        bad = await api.get("/api/campaigns/spring/leads.csv", params={"status": "sold"})
        assert bad.status_code == 422 and "unknown lead status" in bad.text
        assert (await api.get("/api/campaigns/nope/attempts.csv")).status_code == 404
    db.dispose()
