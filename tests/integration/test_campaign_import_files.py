"""Lead and do-not-call files as spreadsheets save them, imported for real on SQLite and
PostgreSQL: ``callcenter campaign import`` with Excel's European CSV (semicolons,
Windows-1252), the REST upload of Excel's "Unicode Text" (UTF-16 with BOM, tabs), and the
results CSV that neutralises formulas from lead data."""

from __future__ import annotations

import codecs
import io
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from callcenter.cli import app as root_cli
from callcenter.store import open_database
from callcenter.web.campaigns import router as campaigns_router
from callcenter.web.dnc import router as dnc_router
from dialer import attempts
from dialer.leads import LeadListError
from dialer.results import export_csv, spreadsheet_safe
from dialer.store import DncEntry, Lead
from tests.integration.test_campaigns_support import T0, api_client, campaign_db

EUROPE = (  # Excel "CSV (semicolon)" on a German or French Windows: cp1252, CRLF
    "Phone Number;First Name;Last Name;Ville\r\n"
    "212-555-0100;José;Müller;Besançon\r\n"  # 2
    "1,21255501E+10;Sci;Notation;\r\n"  # 3 scientific notation: reported
    "'+1 212 555 0101;Zoë;Ørsted;Århus;;\r\n"  # 4 apostrophe, trailing empty cells
    "212-555-0102;Ann\r\n"  # 5 trailing cells dropped
).encode("cp1252")
UNICODE_TEXT = codecs.BOM_UTF16_LE + (  # Excel "Unicode Text": UTF-16 LE with BOM, tabs
    "Mobile\tFirst Name\tNotes\r\n"
    "(212) 555-0100\t李\tSeoul, \"VIP\"\r\n"
    "212-555-0103 x12\tΣοφία\t\r\n"
    "12\tBad\t\r\n"
).encode("utf-16-le")


def _leads(db_url: str) -> dict[str, Lead]:
    db = open_database(db_url)
    with db.session() as s:
        found = {lead.phone: lead for lead in s.scalars(select(Lead))}
    db.dispose()
    return found


def test_cli_imports_a_european_excel_csv(db_url: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    campaign_db(db_url, []).dispose()
    monkeypatch.setenv("CALLCENTER_DATABASE__URL", db_url)
    path = tmp_path / "leads.csv"
    path.write_bytes(EUROPE)
    cli = CliRunner()
    result = cli.invoke(root_cli, ["campaign", "import", "spring", str(path)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert f"{path}: 4 rows, 3 leads added, 0 merged duplicates, 1 bad rows" in result.output
    assert f"{path}:3: Excel turned the number into scientific notation" in result.output
    leads = _leads(db_url)
    assert {p: (lead.first_name, lead.last_name, lead.fields) for p, lead in leads.items()} == {
        "+12125550100": ("José", "Müller", {"Ville": "Besançon"}),
        "+12125550101": ("Zoë", "Ørsted", {"Ville": "Århus"}),
        "+12125550102": ("Ann", "", {}),
    }
    # told the wrong encoding and delimiter: refused with where and what to do, nothing stored
    wrong = cli.invoke(root_cli, ["campaign", "import", "spring", str(path),
                                  "--encoding", "utf-8"])
    assert isinstance(wrong.exception, LeadListError) and wrong.exception.exit_code == 2
    assert EUROPE.index(b"\xe9") == 57  # the é of José
    assert str(wrong.exception) == (f"{path}: line 2, byte 57: byte(s) e9: the file is not "
                                    "utf-8; save it as 'CSV UTF-8' or pass its encoding with "
                                    "--encoding")
    comma = cli.invoke(root_cli, ["campaign", "import", "spring", str(path),
                                  "--encoding", "cp1252", "--delimiter", "comma"])
    assert isinstance(comma.exception, LeadListError)
    assert "looks separated by semicolon, not comma" in str(comma.exception)
    assert len(_leads(db_url)) == 3  # nothing more stored
    dnc = cli.invoke(root_cli, ["dnc", "import", str(path), "--delimiter", ";",
                                "--encoding", "windows-1252", "--list", "national"])
    assert dnc.exit_code == 0, (dnc.output, dnc.exception)
    assert "3 added" in dnc.output and f"{path}:3: Excel turned" in dnc.output


async def test_api_takes_an_excel_unicode_text_upload(db_url: str) -> None:
    db = campaign_db(db_url, [])
    async with api_client(db, campaigns_router, dnc_router) as api:
        imported = await api.post("/api/campaigns/spring/leads", content=UNICODE_TEXT,
                                  headers={"content-type": "text/csv"})
        assert imported.status_code == 200, imported.text
        body = imported.json()
        assert (body["rows"], body["added"]) == (3, 2)
        assert [(b["line"], b["reason"]) for b in body["bad_rows"]] == [
            (4, "invalid phone number '12' (region US)")]
        wrong = await api.post("/api/campaigns/spring/leads?encoding=cp1252",
                               content=UNICODE_TEXT, headers={"content-type": "text/csv"})
        assert wrong.status_code == 422
        assert wrong.json()["detail"] == ("body: the file begins with the byte-order mark of "
                                          "utf-16, not cp1252: pass --encoding utf-16 or leave "
                                          "--encoding out")
        listed = await api.post("/api/dnc/import?list=national&delimiter=tab",
                                content=UNICODE_TEXT, headers={"content-type": "text/csv"})
        assert listed.status_code == 200 and listed.json()["added"] == 2
    leads = {p: (lead.first_name, lead.fields) for p, lead in _leads(db_url).items()}
    assert leads == {"+12125550100": ("李", {"Notes": 'Seoul, "VIP"'}),
                     "+12125550103": ("Σοφία", {"extension": "12"})}
    with db.session() as s:
        assert set(s.scalars(select(DncEntry.number))) == {"+12125550100", "+12125550103"}
    db.dispose()


def test_results_csv_neutralises_formulas_but_keeps_e164_numbers(db_url: str) -> None:
    db = campaign_db(db_url, ["+12125550100"], name="csat", kind="survey", flow="csat",
                     queue=None, dial_mode=None)
    with db.session() as s:
        lead = s.scalars(select(Lead)).one()
        lead.first_name = '=HYPERLINK("http://evil.example","click")'
        lead.last_name = "@SUM(A1)"
        s.add(attempts.SurveyAnswer(campaign_id=lead.campaign_id, lead_id=lead.id,
                                    question="q1", value="-2+3", answered_at=T0))
    out = io.StringIO()
    with db.session() as s:
        assert export_csv(s, "csat", out) == 1
    db.dispose()
    row = out.getvalue().splitlines()[1]
    assert row.startswith('+12125550100,,"\'=HYPERLINK(""http://evil.example"",""click"")",'
                          "'@SUM(A1),q1,'-2+3,2026-06-10")
    assert [spreadsheet_safe(c) for c in ("+44 20", "+1555", "\tx", "\rx", "a=b", "")] == [
        "'+44 20", "+1555", "'\tx", "'\rx", "a=b", ""]
