"""Answering-machine detection is the campaign's choice (migration 0005): off by default, and
when on, every call the runner places asks the voice layer for it. On SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from dialer.ports import AgentLoad, FixedAgents, Result
from dialer.runner import CampaignRunner
from dialer.store import Campaign
from tests.integration.test_campaigns_support import (
    NYC,
    Clock,
    FakeOutbound,
    Script,
    campaign_db,
    start,
)


async def placed_amd(db_url: str, **settings: object) -> set[bool]:
    db = campaign_db(db_url, NYC[:2], max_lines=2, **settings)
    start(db)
    port = FakeOutbound(db, {n: [Script(Result.MACHINE)] for n in NYC[:2]})
    runner = CampaignRunner(
        db,
        "spring",
        port,
        FixedAgents({"sales": AgentLoad(available=2)}),
        clock=Clock(),
        tick_s=0.0,
    )
    await runner.step()
    await runner.wait_idle()
    with db.session() as s:
        stored = s.scalars(select(Campaign.amd)).one()
    db.dispose()
    assert {r.amd for r in port.placed} == {stored}
    return {r.amd for r in port.placed}


async def test_amd_is_off_unless_the_campaign_asks(db_url: str) -> None:
    assert await placed_amd(db_url) == {False}


async def test_a_campaign_with_amd_asks_for_it_on_every_call(db_url: str) -> None:
    assert await placed_amd(db_url, amd=True) == {True}
