"""AMD accuracy from the agents' dispositions, on SQLite and PostgreSQL: a campaign runs with
a scripted voice layer (real CDRs), agents disposition some calls ``machine`` (on the attempt,
or later on the call record as ``POST /api/calls/{id}/disposition`` does), and the campaign
status (store, CLI, REST) shows how many machines AMD let through."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from callcenter.calls.dispositions import set_disposition
from callcenter.calls.escalations import CallEscalations
from callcenter.cli.campaign import app as campaign_cli
from callcenter.store import Database
from callcenter.web.campaigns import router
from dialer.ports import AgentLoad, FixedAgents, Result
from dialer.results import AmdAccuracy, amd_accuracy
from dialer.runner import CampaignRunner
from dialer.store import LeadAttempt
from tests.integration.test_campaigns_support import (
    NYC,
    Clock,
    FakeOutbound,
    Script,
    api_client,
    campaign_db,
    start,
)


async def _run_campaign(db_url: str) -> Database:
    """Seven calls: 4 passed to agents as persons (one dispositioned ``machine`` by the voice
    layer, one later on its call record, one ``sale``, one not dispositioned), 1 dropped (no
    agent in 2 s), 2 judged machines."""
    db = campaign_db(db_url, NYC[:7], max_lines=7)
    start(db)
    scripts = {
        NYC[0]: [Script(Result.HUMAN, disposition="machine")],
        NYC[1]: [Script(Result.HUMAN)],  # dispositioned on the call record below
        NYC[2]: [Script(Result.HUMAN, disposition="sale")],
        NYC[3]: [Script(Result.HUMAN)],  # the agent gave no disposition
        NYC[4]: [Script(Result.ABANDONED)],
        NYC[5]: [Script(Result.MACHINE)],
        NYC[6]: [Script(Result.MACHINE)],
    }
    port = FakeOutbound(db, scripts)
    pool = FixedAgents({"sales": AgentLoad(available=7)})
    runner = CampaignRunner(db, "spring", port, pool, clock=Clock(), tick_s=0.0)
    await runner.step()
    await runner.wait_idle()
    with db.session() as s:
        call_id = s.scalar(select(LeadAttempt.call_id).where(LeadAttempt.number == NYC[1]))
    assert call_id is not None
    await set_disposition(db, CallEscalations(None), call_id, "machine", "beep, then silence")
    return db


async def test_miss_rate_counts_machines_agents_heard(db_url: str) -> None:
    db = await _run_campaign(db_url)
    with db.session() as s:
        amd = amd_accuracy(s, "spring")
    assert amd == AmdAccuracy(
        judged_human=5,
        judged_machine=2,
        dispositioned=3,
        agent_said_machine=2,
        miss_rate=pytest.approx(2 / 3),  # type: ignore[arg-type]
    )
    db.dispose()


def test_no_calls_no_rate(db_url: str) -> None:
    db = campaign_db(db_url, NYC[:1])
    with db.session() as s:
        assert amd_accuracy(s, "spring") == AmdAccuracy(0, 0, 0, 0, None)
    db.dispose()


async def test_cli_and_api_status_show_amd_accuracy(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = await _run_campaign(sqlite_url)
    monkeypatch.setenv("CALLCENTER_DATABASE__URL", sqlite_url)
    result = CliRunner().invoke(campaign_cli, ["status", "spring"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "AMD judged human  5" in result.output
    assert "  agent: machine  2" in result.output
    assert "  miss rate       66.7 %" in result.output
    assert "AMD judged mach.  2" in result.output

    async with api_client(db, router) as client:
        status = (await client.get("/api/campaigns/spring/status")).json()
    assert status["amd"] == {
        "judged_human": 5,
        "judged_machine": 2,
        "dispositioned": 3,
        "agent_said_machine": 2,
        "miss_rate": pytest.approx(2 / 3),
    }
    assert status["total"] == 7
    db.dispose()
