"""Agent scripts on SQLite and PostgreSQL: the campaign's script, with each lead's fields in
it, travels with the call to place and with a preview's screen pop; the API and the CLI take
and refuse scripts."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from callcenter.cli.campaign import app as campaign_cli
from callcenter.errors import ConfigError
from callcenter.store import open_database, upgrade
from callcenter.web.campaigns import router
from dialer import attempts, preview
from dialer.campaigns import CampaignRepository
from dialer.compliance import AbandonCounts
from dialer.store import Lead
from tests.integration.test_campaigns_support import NYC, T0, api_client, campaign_db, start

SCRIPT = "Hello {{first_name}}, this is Acme about your {{plan}} plan. ({{number}})"


def test_the_script_comes_with_the_call_and_the_preview(db_url: str) -> None:
    db = campaign_db(db_url, NYC[:1], script=SCRIPT)
    with db.session() as s:
        c = CampaignRepository(s).get("spring")
        lead = s.scalar(select(Lead))
        claimed = attempts.claim_and_record(s, c, lead.id, T0, "t", AbandonCounts())
        assert isinstance(claimed, attempts.Claimed)
        expected = f"Hello P0, this is Acme about your gold plan. ({NYC[0]})"
        assert claimed.request.script == expected
        assert claimed.request.screen_pop()["script"] == expected
    db.dispose()
    db = campaign_db(db_url, NYC[1:2], name="pv", dial_mode="preview", script=SCRIPT)
    start(db, "pv")
    with db.session() as s:
        shown = preview.reserve(s, "pv", "ann", T0)
    assert isinstance(shown, preview.Reservation)
    assert shown.as_dict()["script"] == f"Hello P0, this is Acme about your gold plan. ({NYC[1]})"
    db.dispose()


def test_no_script_no_script_in_the_screen_pop(db_url: str) -> None:
    db = campaign_db(db_url, NYC[:1])
    with db.session() as s:
        claimed = attempts.claim_and_record(s, CampaignRepository(s).get("spring"),
                                            s.scalar(select(Lead.id)), T0, "t", AbandonCounts())
        assert isinstance(claimed, attempts.Claimed)
        assert "script" not in claimed.request.screen_pop()
    db.dispose()


async def test_rest_api_takes_and_refuses_scripts(db_url: str) -> None:
    db = campaign_db(db_url, [])
    body = {"name": "s1", "kind": "telemarketing", "caller_id": "+12125550999",
            "queue": "sales", "script": SCRIPT}
    async with api_client(db, router) as api:
        made = await api.post("/api/campaigns", json=body)
        assert made.status_code == 201 and made.json()["script"] == SCRIPT
        bad = await api.post("/api/campaigns", json={**body, "name": "s2",
                                                     "script": "Hi {{first_name}"})
        assert bad.status_code == 422 and "script line 1" in bad.text
    db.dispose()


def test_cli_create_with_a_script_file(sqlite_url: str, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE__URL", sqlite_url)
    upgrade(open_database(sqlite_url))
    script = tmp_path / "script.txt"
    script.write_text(SCRIPT + "\n", encoding="utf-8")
    cli = CliRunner()
    base = ["create", "spring", "--caller-id", "+12125550999", "--queue", "sales"]
    made = cli.invoke(campaign_cli, [*base, "--script", str(script)])
    assert made.exit_code == 0, (made.output, made.exception)
    with open_database(sqlite_url).session() as s:
        assert CampaignRepository(s).get("spring").script == SCRIPT + "\n"
    missing = cli.invoke(campaign_cli, [*base, "--script", str(tmp_path / "none.txt")])
    assert isinstance(missing.exception, ConfigError)
    assert "cannot read it" in str(missing.exception)
