"""List recycling on SQLite and PostgreSQL: leads whose retries ran out come back for another
round with fresh retry counters; answered leads, DNC, the lifetime limit and recent calls do
not; a completed campaign is paused again; the CLI."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from callcenter.cli.campaign import app as campaign_cli
from callcenter.store import Database, open_database
from callcenter.web.campaigns import router
from dialer import attempts
from dialer.campaigns import CampaignRepository
from dialer.compliance import AbandonCounts
from dialer.ports import CallOutcome, Result
from dialer.recycle import DEFAULT_OUTCOMES, RecycleError, outcomes_from, recycle
from dialer.retry import Outcome
from dialer.store import Lead
from tests.integration.test_campaigns_support import NYC, T0, api_client, campaign_db

# spring's retry rules: busy twice, then final; no answer once, then final
RETRY = {"outcome": {"busy": {"delay_s": 60, "max_retries": 1},
                     "no_answer": {"delay_s": 60, "max_retries": 0}}}


def _call(db: Database, number: str, result: Result, at, disposition: str | None = None) -> None:
    with db.session() as s:
        c = CampaignRepository(s).get("spring")
        lead = s.scalar(select(Lead).where(Lead.phone == number))
        assert lead is not None
        claimed = attempts.claim_and_record(s, c, lead.id, at, "t", AbandonCounts())
        assert isinstance(claimed, attempts.Claimed), claimed
        attempts.record_outcome(s, claimed.attempt_id, CallOutcome(result, ring_s=20,
                                                                   disposition=disposition), at)


def _statuses(db: Database) -> dict[str, tuple[str, str | None]]:
    with db.session() as s:
        return {lead.phone: (lead.status, lead.wait_reason) for lead in s.scalars(select(Lead))}


def test_recycle_brings_back_unanswered_leads_for_another_round(db_url: str) -> None:
    db = campaign_db(db_url, NYC[:5], retry=RETRY, max_attempts_total=3)
    busy, no_answer, sale, dnc, recent = NYC[:5]
    _call(db, busy, Result.BUSY, T0)
    _call(db, busy, Result.BUSY, T0 + timedelta(minutes=2))  # 1 retry used: closed
    _call(db, no_answer, Result.NO_ANSWER, T0)  # no retry: closed
    _call(db, sale, Result.HUMAN, T0, disposition="sale")
    _call(db, dnc, Result.HUMAN, T0, disposition="do_not_call")
    later = T0 + timedelta(hours=22)  # 09:00 in New York
    _call(db, recent, Result.NO_ANSWER, later)
    assert {n: s for n, (s, _) in _statuses(db).items()} == dict.fromkeys(NYC[:5], "done") | {
        dnc: "dnc"}
    now = T0 + timedelta(hours=25)
    with db.session() as s:
        dry = recycle(s, "spring", DEFAULT_OUTCOMES, timedelta(hours=24), now, dry_run=True)
    assert (dry.recycled, dry.by_outcome, dry.too_recent) == (
        2, {"busy": 1, "no_answer": 1}, 1)
    assert _statuses(db)[busy] == ("done", None)  # a dry run changes nothing
    with db.session() as s:
        CampaignRepository(s).transition("spring", "running", now)
        CampaignRepository(s).transition("spring", "completed", now)
        report = recycle(s, "spring", DEFAULT_OUTCOMES, timedelta(hours=24), now)
        assert report.campaign_state == "paused"  # for a supervisor to start again
    assert report.recycled == 2
    after = _statuses(db)
    assert after[busy] == after[no_answer] == ("retry", "recycled")
    assert after[sale] == after[recent] == ("done", None) and after[dnc][0] == "dnc"
    # a fresh round: one busy retry is allowed again (the two earlier busies do not count)
    _call(db, busy, Result.BUSY, now + timedelta(minutes=1))
    assert _statuses(db)[busy] == ("retry", "retry")
    # the lifetime limit (3 attempts) still holds: the busy lead is not recycled again
    with db.session() as s:
        s.scalar(select(Lead).where(Lead.phone == busy)).status = "done"
    with db.session() as s:
        again = recycle(s, "spring", frozenset({Outcome.BUSY}), timedelta(0),
                        now + timedelta(hours=1))
    assert (again.recycled, again.at_attempt_limit) == (0, 1)
    db.dispose()


def test_recycle_refuses_what_it_must_not_do(db_url: str) -> None:
    with pytest.raises(RecycleError, match="cannot recycle on outcome 'human'"):
        outcomes_from(["human"])
    with pytest.raises(RecycleError, match="cannot recycle on outcome 'sale'"):
        outcomes_from(["busy", "sale"])
    assert outcomes_from(["Busy", "abandoned"]) == {Outcome.BUSY, Outcome.ABANDONED}
    db = campaign_db(db_url, NYC[:1])
    with db.session() as s:
        CampaignRepository(s).transition("spring", "stopped", T0)
        with pytest.raises(RecycleError, match="stopped, which is final"):
            recycle(s, "spring", DEFAULT_OUTCOMES, timedelta(0), T0)
    db.dispose()


def test_cli_recycle(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE__URL", sqlite_url)
    db = campaign_db(sqlite_url, NYC[:2], retry=RETRY)
    _call(db, NYC[0], Result.NO_ANSWER, T0)
    db.dispose()
    cli = CliRunner()
    dry = cli.invoke(campaign_cli, ["recycle", "spring", "--older-than-hours", "0", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "1 leads would be recycled (no_answer 1)" in dry.output
    done = cli.invoke(campaign_cli, ["recycle", "spring", "--outcome", "no_answer",
                                     "--older-than-hours", "0"])
    assert done.exit_code == 0 and "1 leads recycled (no_answer 1)" in done.output
    bad = cli.invoke(campaign_cli, ["recycle", "spring", "--outcome", "sale"])
    assert isinstance(bad.exception, RecycleError)
    assert "only leads nobody took" in str(bad.exception)
    with open_database(sqlite_url).session() as s:
        lead = s.scalar(select(Lead).where(Lead.phone == NYC[0]))
        assert lead is not None and lead.status == "retry" and lead.recycled_at is not None


async def test_rest_api_recycle(db_url: str) -> None:
    db = campaign_db(db_url, NYC[:2], retry=RETRY)
    _call(db, NYC[0], Result.MACHINE, T0 - timedelta(days=2))
    with db.session() as s:
        s.scalar(select(Lead).where(Lead.phone == NYC[0])).status = "done"
    async with api_client(db, router) as api:
        dry = await api.post("/api/campaigns/spring/recycle", json={"dry_run": True})
        assert dry.status_code == 200, dry.text
        assert (dry.json()["recycled"], dry.json()["dry_run"]) == (1, True)
        bad = await api.post("/api/campaigns/spring/recycle", json={"outcomes": ["human"]})
        assert bad.status_code == 422 and "only leads nobody took" in bad.text
        typo = await api.post("/api/campaigns/spring/recycle", json={"older_than": 1})
        assert typo.status_code == 422
        done = await api.post("/api/campaigns/spring/recycle",
                              json={"outcomes": ["machine"], "older_than_h": 1})
        assert done.json()["by_outcome"] == {"machine": 1}
        missing = await api.post("/api/campaigns/nope/recycle", json={})
        assert missing.status_code == 404
    assert _statuses(db)[NYC[0]] == ("retry", "recycled")
    db.dispose()
