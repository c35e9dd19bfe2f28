"""Whose time zone the dialer obeys, on SQLite and PostgreSQL: the lead's own (a ``timezone``
column, IANA name or US state code) > the number's > the campaign's fallback > refused; at
dial time, in the lead flow, through the CLI and the REST API."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from callcenter.errors import ConfigError
from callcenter.store import Database, open_database
from callcenter.web.campaigns import router
from dialer import attempts
from dialer.campaigns import CampaignRepository, CampaignSettings, aware, import_csv, lead_flow
from dialer.compliance import AbandonCounts, Reason
from dialer.leads import Lead, LeadImport
from dialer.store import Lead as LeadRow
from tests.integration.test_campaigns_support import NYC, T0, campaign_api, campaign_db, cli_on

# At T0 (15:00 UTC): 11:00 New York, 10:00 Chicago, 09:00 Denver, 05:00 Honolulu.
SATELLITE = "+870301234567"  # no zone known for the number
SATELLITE_2 = "+881612345678"
TOLL_FREE = "+18005550100"  # every US zone, Hawaii's included
TZ_CSV = (
    "phone,timezone\n"
    f"{NYC[0]},Pacific/Honolulu\n"  # 2 the lead lives in Hawaii
    f"{TOLL_FREE},TX\n"  # 3 narrows a number spanning every US zone
    f"{SATELLITE},\n"  # 4 unknown: the campaign's fallback, if any
    f"{NYC[1]},Mars/Base\n"  # 5 bad zone: reported
    "+18885550100,\n"  # 6 toll-free without zone: Hawaii's hours apply too
)


def _claim(db: Database, name: str) -> dict[str, attempts.Claimed | attempts.Refused | None]:
    out: dict[str, attempts.Claimed | attempts.Refused | None] = {}
    with db.session() as s:
        c = CampaignRepository(s).get(name)
        for lead in s.scalars(select(LeadRow).where(LeadRow.campaign_id == c.id)).all():
            out[lead.phone] = attempts.claim_and_record(s, c, lead.id, T0, "t", AbandonCounts())
    return out


def _reason(result: attempts.Claimed | attempts.Refused | None) -> Reason | None:
    return result.reason if isinstance(result, attempts.Refused) else None


def test_lead_zone_number_zone_fallback_then_refusal_at_dial_time(
    db_url: str, tmp_path: Path
) -> None:
    db = campaign_db(db_url, [], timezone="America/New_York")
    csv = tmp_path / "leads.csv"
    csv.write_text(TZ_CSV)
    report = import_csv(db, "spring", csv)
    assert report.added == 4
    assert [(b.line, b.reason.split(":")[0]) for b in report.bad_rows] == [
        (5, "unknown time zone 'Mars/Base' in column 'timezone'")
    ]
    with db.session() as s:
        fields = {lead.phone: lead.fields for lead in s.scalars(select(LeadRow))}
        assert fields[NYC[0]] == {"timezone": "Pacific/Honolulu"}
        CampaignRepository(s).create(
            CampaignSettings(
                name="nofallback", kind="telemarketing", caller_id="+12125550999", queue="q"
            )
        )
        CampaignRepository(s).import_leads(
            "nofallback", LeadImport((Lead(SATELLITE_2, lines=[2]),), (), 0, 1)
        )
    with db.session() as s:
        flow = lead_flow(s, "spring", T0)
        assert (flow.dialable_now, flow.waiting_window, flow.zone_unknown) == (2, 2, 0)
        assert lead_flow(s, "nofallback", T0).zone_unknown == 1

    results = _claim(db, "spring")
    assert _reason(results[NYC[0]]) is Reason.OUTSIDE_WINDOW  # 05:00 where the lead lives
    assert isinstance(results[TOLL_FREE], attempts.Claimed)  # Texas: 10:00 and 09:00
    assert isinstance(results[SATELLITE], attempts.Claimed)  # New York fallback: 11:00
    assert _reason(results["+18885550100"]) is Reason.OUTSIDE_WINDOW
    refused = _claim(db, "nofallback")[SATELLITE_2]
    assert _reason(refused) is Reason.UNKNOWN_ZONE
    with db.session() as s:
        leads = {lead.phone: lead for lead in s.scalars(select(LeadRow))}
    hawaii = leads[NYC[0]]
    assert hawaii.next_attempt_at is not None
    assert aware(hawaii.next_attempt_at) == T0 + timedelta(hours=4)  # 09:00 in Honolulu
    assert (leads[SATELLITE_2].status, leads[SATELLITE_2].wait_reason) == (
        "failed",
        "UNKNOWN_ZONE",
    )
    db.dispose()


def test_a_stored_lead_zone_naming_no_zone_fails_the_lead_with_its_reason(db_url: str) -> None:
    db = campaign_db(db_url, [NYC[0]])
    with db.session() as s:
        lead = s.scalars(select(LeadRow)).one()
        lead.fields = {**lead.fields, "timezone": "Nowhere/Land"}  # written around the import
    assert _reason(_claim(db, "spring")[NYC[0]]) is Reason.BAD_LEAD_ZONE
    with db.session() as s:
        assert s.scalars(select(LeadRow.status)).one() == "failed"
        assert lead_flow(s, "spring", T0).failed == 1
    db.dispose()


def test_cli_create_with_fallback_and_import_with_a_zone_column(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = cli_on(sqlite_url, monkeypatch)
    base = ["campaign", "create", "spring", "--caller-id", "+12125550999", "--queue", "sales"]
    bad = run.refused(*base, "--timezone", "Mars/Base")
    assert isinstance(bad, ConfigError)
    assert str(bad) == ("timezone: unknown time zone 'Mars/Base' (e.g. America/New_York)")
    run(*base, "--timezone", "America/Chicago")
    (tmp_path / "l.csv").write_text(f"phone,state\n{TOLL_FREE},TX\n{SATELLITE},\n{NYC[0]},ZZ\n")
    out = run("campaign", "import", "spring", str(tmp_path / "l.csv"),
              "--timezone-column", "state")
    assert "2 leads added" in out
    assert "l.csv:4: unknown time zone 'ZZ' in column 'state'" in out
    status = run("campaign", "status", "spring")
    assert "zone unknown    0" in status
    db = open_database(sqlite_url)
    with db.session() as s:
        assert CampaignRepository(s).get("spring").timezone == "America/Chicago"
        zones = {lead.phone: lead.fields.get("timezone") for lead in s.scalars(select(LeadRow))}
    assert zones == {TOLL_FREE: "TX", SATELLITE: None}
    db.dispose()


api = pytest.fixture(campaign_api(router))


async def test_rest_api_fallback_zone_and_zone_column(api: httpx.AsyncClient) -> None:
    body = {
        "name": "tz",
        "kind": "telemarketing",
        "caller_id": "+12125550999",
        "queue": "sales",
        "timezone": "Mars/Base",
    }
    bad = await api.post("/api/campaigns", json=body)
    assert bad.status_code == 422 and "America/New_York" in bad.text
    created = await api.post("/api/campaigns", json={**body, "timezone": "Asia/Kolkata"})
    assert created.status_code == 201 and created.json()["timezone"] == "Asia/Kolkata"
    imported = await api.post(
        "/api/campaigns/tz/leads?timezone=tz",
        content=f"phone,tz\n{SATELLITE},\n{NYC[0]},America/Chicago\n{NYC[1]},Mars/Base\n",
        headers={"content-type": "text/csv"},
    )
    assert imported.json()["added"] == 2 and imported.json()["bad_rows"][0]["line"] == 4
    flow = (await api.get("/api/campaigns/tz/status")).json()
    assert flow["zone_unknown"] == 0 and flow["total"] == 2
