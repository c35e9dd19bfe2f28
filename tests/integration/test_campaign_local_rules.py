"""Stricter local law at dial time, on SQLite and PostgreSQL: a Texas number on a Sunday
morning, a lead whose state column says Alabama, a campaign that turns the rules off; the
settings through the REST API; ``callcenter dialer rules`` on a number and a campaign."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select

from callcenter.cli.campaign import render_flow
from callcenter.store import Database
from callcenter.web.campaigns import router
from dialer import attempts
from dialer.campaigns import CampaignRepository, aware, lead_flow
from dialer.compliance import AbandonCounts, Reason
from dialer.leads import Lead, LeadImport
from dialer.store import Lead as LeadRow
from tests.integration.test_campaigns_support import campaign_api, campaign_db, cli_on

AUSTIN, MIAMI, NYC = "+15125550100", "+13055550100", "+12125550100"
SUNDAY_10_CENTRAL = datetime(2026, 12, 6, 16, 0, tzinfo=UTC)  # 11:00 in New York and Miami


def _claim_all(db: Database, name: str) -> dict[str, attempts.Claimed | attempts.Refused | None]:
    out: dict[str, attempts.Claimed | attempts.Refused | None] = {}
    with db.session() as s:
        c = CampaignRepository(s).get(name)
        for lead in s.scalars(select(LeadRow).where(LeadRow.campaign_id == c.id)).all():
            out[lead.phone] = attempts.claim_and_record(
                s, c, lead.id, SUNDAY_10_CENTRAL, "t", AbandonCounts())
    return out


def _leads(db: Database, name: str) -> None:
    with db.session() as s:
        CampaignRepository(s).import_leads(name, LeadImport((
            Lead(AUSTIN, lines=[2]),
            Lead(NYC, custom={"State": "Alabama"}, lines=[3]),  # lives in Alabama
            Lead(MIAMI, lines=[4]),
        ), (), 0, 3))


def test_state_rules_hold_leads_until_their_state_allows(db_url: str) -> None:
    db = campaign_db(db_url, [], window_start="08:00", window_end="21:00")
    _leads(db, "spring")
    with db.session() as s:
        flow = lead_flow(s, "spring", SUNDAY_10_CENTRAL)
        assert (flow.dialable_now, flow.waiting_window) == (1, 2)
        assert flow.waiting_why == {"LOCAL_HOURS": 2}
    claimed = _claim_all(db, "spring")
    assert isinstance(claimed[MIAMI], attempts.Claimed)
    assert {n: r.reason for n, r in claimed.items() if isinstance(r, attempts.Refused)} == {
        AUSTIN: Reason.LOCAL_HOURS, NYC: Reason.LOCAL_HOURS}  # Texas: noon; Alabama: Monday
    with db.session() as s:
        held = {lead.phone: (aware(lead.next_attempt_at), lead.wait_reason)
                for lead in s.scalars(select(LeadRow).where(LeadRow.phone != MIAMI))}
        assert held == {
            AUSTIN: (datetime(2026, 12, 6, 18, 0, tzinfo=UTC), "LOCAL_HOURS"),  # 12:00 CST
            NYC: (datetime(2026, 12, 7, 14, 0, tzinfo=UTC), "LOCAL_HOURS"),  # Mon 08:00 CST
        }
        flow = lead_flow(s, "spring", SUNDAY_10_CENTRAL)
        assert (flow.dialable_now, flow.waiting_window, flow.dialing) == (0, 2, 1)
        assert flow.waiting_why == {"LOCAL_HOURS": 2}
        assert "waiting for     LOCAL_HOURS 2" in render_flow(flow)
    db.dispose()


def test_a_campaign_exempt_from_local_rules_calls_on_federal_hours(db_url: str) -> None:
    db = campaign_db(db_url, [], name="survey-exempt", window_start="08:00",
                     window_end="21:00", local_rules=False)
    _leads(db, "survey-exempt")
    claimed = _claim_all(db, "survey-exempt")
    assert all(isinstance(r, attempts.Claimed) for r in claimed.values()), claimed
    db.dispose()


api = pytest.fixture(campaign_api(router))


async def test_rest_api_local_rules_and_public_holidays(api: httpx.AsyncClient) -> None:
    body = {"name": "xmas", "kind": "telemarketing", "caller_id": "+12125550999",
            "queue": "sales"}
    default = (await api.post("/api/campaigns", json=body)).json()
    assert (default["local_rules"], default["public_holidays"]) == (True, False)
    other = await api.post("/api/campaigns", json={**body, "name": "xmas2",
                                                   "local_rules": False,
                                                   "public_holidays": True})
    assert other.status_code == 201
    assert (await api.get("/api/campaigns/xmas2")).json()["public_holidays"] is True
    bad = await api.post("/api/campaigns", json={**body, "name": "x3", "public_holidays": "?"})
    assert bad.status_code == 422 and "public_holidays" in bad.text


def test_cli_explains_which_rules_apply_to_a_number(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = cli_on(sqlite_url, monkeypatch)
    listing = run("dialer", "rules")
    assert "US-FL: all 08:00-20:00, at most 3 calls in 24 h" in listing
    assert "not legal advice" in listing
    out = run("dialer", "rules", AUSTIN, "--at", "2026-12-06T10:00:00-06:00")
    assert "places US, US-TX" in out
    assert "next allowed 2026-12-06T12:00:00-06:00" in out
    assert "may be called" in run("dialer", "rules", AUSTIN, "--at", "2026-12-07T10:00:00-06:00")
    run("campaign", "create", "spring", "--caller-id", "+12125550999", "--queue", "sales",
        "--no-local-rules", "--public-holidays")
    thanksgiving = run("dialer", "rules", NYC, "--campaign", "spring",
                       "--at", "2026-11-26T11:00:00-05:00")
    assert "public holiday" in thanksgiving and "Thanksgiving" in thanksgiving
    sunday = run("dialer", "rules", AUSTIN, "--campaign", "spring",
                 "--at", "2026-12-06T10:00:00-06:00")
    assert "may be called" in sunday  # the campaign turned the state rules off
    bad = run.refused("dialer", "rules", AUSTIN, "--at", "sunday")
    assert "ISO 8601 time with an offset" in str(bad)
