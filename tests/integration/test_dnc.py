"""Do-not-call list management on SQLite and PostgreSQL: imports (batched, merged, bad rows by
line), add / remove / check / list / count, the CLI, the REST API, and the dial-time check
refusing an imported number through an indexed lookup."""

from __future__ import annotations

import io
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from callcenter.cli import app as root_cli
from callcenter.errors import NotFound
from callcenter.store import Database, open_database, upgrade
from callcenter.web.dnc import router
from dialer import attempts
from dialer.attempts import DncError, DncList, dnc_list
from dialer.campaigns import CampaignRepository
from dialer.compliance import AbandonCounts, Reason
from dialer.leads import parse_numbers
from dialer.store import Lead
from tests.integration.test_campaigns_support import NYC, T0, campaign_api, campaign_db, start

FILE = (
    "name,phone\n"
    "Ann,212-555-0100\n"  # 2
    "Bob,+1 212 555 0100\n"  # 3 duplicate of 2
    "Carl,12\n"  # 4 invalid
    "Dora,(212) 555-0101\n"  # 5
    "Ed,\n"  # 6 no phone
)


def _import(db: Database, target: tuple[str, str | None], body: str) -> attempts.DncImportReport:
    with db.session() as s:
        lst = dnc_list(s, *target)
        return attempts.import_dnc(s, lst, parse_numbers(io.StringIO(body)), "test", T0)


def test_import_merges_reports_bad_rows_and_is_idempotent(db_url: str) -> None:
    db = campaign_db(db_url, [])
    report = _import(db, ("national", None), FILE)
    assert (report.rows, report.added, report.already, report.duplicates) == (5, 2, 0, 1)
    assert [(b.line, b.reason) for b in report.bad_rows] == [
        (4, "invalid phone number '12' (region US)"),
        (6, "no phone number"),
    ]
    again = _import(db, ("national", None), "2125550101\n2125550102\n")
    assert (again.added, again.already) == (1, 1)
    campaign = _import(db, ("campaign", "spring"), "2125550100\n")
    assert (campaign.added, campaign.already) == (1, 0)  # another list: added there
    with db.session() as s:
        national = dnc_list(s, "national")
        assert [r.number for r in attempts.dnc_entries(s, national)] == NYC[:3]
        assert [r.number for r in attempts.dnc_entries(s, national, 1, 1)] == [NYC[1]]
        holders = attempts.dnc_holders(s, NYC[0])
        assert [(str(r.list), r.reason) for r in holders] == [
            ("campaign spring", "test"),
            ("national", "test"),
        ]
        counts = {str(t): n for t, n in attempts.dnc_counts(s)}
        assert counts == {"campaign spring": 1, "national": 3}
        assert attempts.remove_dnc(s, NYC[0], national)
        assert not attempts.remove_dnc(s, NYC[0], national)
        assert not attempts.remove_dnc(s, NYC[0], dnc_list(s, "internal"))
        assert [str(r.list) for r in attempts.dnc_holders(s, NYC[0])] == ["campaign spring"]
    db.dispose()


def test_lists_are_named_clearly_or_refused_with_what_to_do(db_url: str) -> None:
    db = campaign_db(db_url, [])
    with db.session() as s:
        with pytest.raises(DncError, match="use internal, national or campaign"):
            dnc_list(s, "federal")
        with pytest.raises(DncError, match=r"needs the campaign's name \(--campaign NAME\)"):
            dnc_list(s, "campaign")
        with pytest.raises(DncError, match="pass --list campaign"):
            dnc_list(s, "internal", "spring")
        with pytest.raises(NotFound, match="no campaign 'autumn'"):
            dnc_list(s, "campaign", "autumn")
        assert dnc_list(s, "campaign", "spring") == DncList(
            "campaign", "spring", CampaignRepository(s).get("spring").id
        )
    with pytest.raises(DncError, match=r"not a valid phone number .*E\.164"):
        attempts.dnc_number("555")
    db.dispose()


def test_an_imported_number_is_refused_at_dial_time_by_an_indexed_lookup(db_url: str) -> None:
    db = campaign_db(db_url, NYC[:2])
    start(db)
    _import(db, ("national", None), f"phone\n{NYC[0]}\n")
    with db.session() as s:
        c = CampaignRepository(s).get("spring")
        ids = {lead.phone: lead.id for lead in s.query(Lead)}
        refused = attempts.claim_and_record(s, c, ids[NYC[0]], T0, "t", AbandonCounts())
        assert isinstance(refused, attempts.Refused)
        assert refused.reason is Reason.DNC_NATIONAL
        placed = attempts.claim_and_record(s, c, ids[NYC[1]], T0, "t", AbandonCounts())
        assert isinstance(placed, attempts.Claimed)
        if db.engine.dialect.name == "sqlite":
            plan = " ".join(
                str(row[-1])
                for row in s.execute(
                    text("EXPLAIN QUERY PLAN SELECT scope, campaign_id FROM dnc WHERE number = :n"),
                    {"n": NYC[0]},
                )
            )
            assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan
        else:
            s.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(
                str(row[0])
                for row in s.execute(
                    text("EXPLAIN SELECT scope, campaign_id FROM dnc WHERE number = :n"),
                    {"n": NYC[0]},
                )
            )
            assert "Index" in plan, plan
    db.dispose()


def test_a_large_national_list_is_imported_in_batches(db_url: str) -> None:
    db = campaign_db(db_url, [])
    body = "".join(
        f"2{area}555{i:04d}\n"
        for area in (12, 13, 14, 15, 16, 17, 18, 19, 20, 24)
        for i in range(10_000)
    )
    began = time.perf_counter()
    parsed = parse_numbers(io.StringIO(body))
    read = time.perf_counter()
    with db.session() as s:
        report = attempts.import_dnc(s, dnc_list(s, "national"), parsed, "registry", T0)
    stored = time.perf_counter()
    print(f"100k numbers: read {read - began:.2f} s, stored {stored - read:.2f} s")
    assert (report.rows, report.added, len(report.bad_rows)) == (100_000, 100_000, 0)
    with db.session() as s:
        again = attempts.import_dnc(s, dnc_list(s, "national"), parsed, "registry", T0)
    assert (again.added, again.already) == (0, 100_000)
    db.dispose()


def test_cli(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE__URL", sqlite_url)
    upgrade(open_database(sqlite_url))
    cli = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = cli.invoke(root_cli, ["dnc", *args])
        assert result.exit_code == code, (result.output, result.exception)
        return result.output

    path = tmp_path / "dnc.csv"
    path.write_text(FILE)
    out = run("import", str(path), "--list", "national")
    assert (
        f"{path}: 5 rows to the national list: 2 added, 0 already present, "
        "1 duplicate rows merged, 2 bad rows"
    ) in out
    assert f"{path}:4: invalid phone number '12' (region US)" in out
    assert "stored 2 rows" in out  # progress, on stderr
    assert "+12125550102 added to the internal list" in run("add", "212-555-0102")
    assert "was already on the internal list" in run("add", "+12125550102")
    check = run("check", "(212) 555-0100")
    assert "+12125550100 is on the national list since" in check and "dnc.csv" in check
    assert "is on no do-not-call list" in run("check", "2125550199")
    listed = run("list", "--list", "national").splitlines()
    assert [line.split()[0] for line in listed] == ["+12125550100", "+12125550101"]
    count = run("count")
    assert (
        "internal" in count
        and "national" in count
        and "total                             3" in count
    )
    assert "removed from the national list" in run("remove", "2125550100", "--list", "national")
    missing = cli.invoke(root_cli, ["dnc", "remove", "2125550100", "--list", "national"])
    assert isinstance(missing.exception, NotFound)
    assert "callcenter dnc check +12125550100" in str(missing.exception)
    bad = cli.invoke(root_cli, ["dnc", "add", "12"])
    assert isinstance(bad.exception, DncError) and bad.exception.exit_code == 2
    wrong = cli.invoke(root_cli, ["dnc", "import", str(path), "--list", "campaign"])
    assert isinstance(wrong.exception, DncError) and "--campaign NAME" in str(wrong.exception)
    plain = tmp_path / "plain.txt"
    plain.write_text("name\n2125550150\n")
    out = run("import", str(plain), "--column", "number")
    assert "1 added" in out and "if this line is a header, name the phone column" in out


api = pytest.fixture(campaign_api(router))


async def test_rest_api(api: httpx.AsyncClient) -> None:
    imported = await api.post(
        "/api/dnc/import?list=national", content=FILE, headers={"content-type": "text/csv"}
    )
    assert imported.status_code == 200, imported.text
    body = imported.json()
    assert (body["added"], body["already"], body["duplicates"]) == (2, 0, 1)
    assert body["bad_rows"][0] == {"line": 4, "reason": "invalid phone number '12' (region US)"}
    listed = (await api.get("/api/dnc/+12125550100")).json()
    assert listed["listed"] and [r["list"] for r in listed["lists"]] == ["national"]
    assert not (await api.get("/api/dnc/2125550199")).json()["listed"]
    bad = await api.get("/api/dnc/555")
    assert bad.status_code == 422 and "E.164" in bad.json()["detail"]

    put = await api.put("/api/dnc/212-555-0102", json={"reason": "asked on the phone"})
    assert put.status_code == 201 and put.json()["number"] == "+12125550102"
    assert (await api.put("/api/dnc/+12125550102")).status_code == 200  # there already
    mine = await api.put("/api/dnc/+12125550102?list=campaign&campaign=spring")
    assert mine.status_code == 201 and mine.json()["campaign"] == "spring"
    assert (await api.put("/api/dnc/+12125550102?list=campaign")).status_code == 422
    assert (await api.put("/api/dnc/+12125550102?list=campaign&campaign=x")).status_code == 404
    holders = (await api.get("/api/dnc/+12125550102")).json()["lists"]
    assert [(r["list"], r["campaign"], r["reason"]) for r in holders] == [
        ("campaign", "spring", "added through the API"),
        ("internal", None, "asked on the phone"),
    ]
    counts = (await api.get("/api/dnc")).json()
    assert counts["total"] == 4
    page = (await api.get("/api/dnc/lists/national?limit=1&offset=1")).json()
    assert [r["number"] for r in page] == ["+12125550101"]

    gone = await api.delete("/api/dnc/+12125550100?list=national")
    assert gone.status_code == 200 and gone.json()["removed"]
    again = await api.delete("/api/dnc/+12125550100?list=national")
    assert again.status_code == 404 and "GET /api/dnc/+12125550100" in again.json()["detail"]
    upload = await api.post(
        "/api/dnc/import",
        content=b"--x\r\n",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert upload.status_code == 415 and "--data-binary" in upload.json()["detail"]
    no_column = await api.post("/api/dnc/import", content="a,b\n1,2\n")
    assert no_column.status_code == 422 and "name it with --column" in no_column.json()["detail"]
