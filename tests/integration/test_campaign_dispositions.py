"""A disposition set on a campaign call's record after the call (wrap-up) reaches the dialer:
the attempt keeps it and the lead follows it (``dnc`` -> do-not-call list, ``callback`` -> a
retry by the disposition's rule, ``sale`` -> done). On SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from callcenter.calls.dispositions import set_disposition
from callcenter.calls.escalations import CallEscalations
from dialer.ports import AgentLoad, FixedAgents, Result
from dialer.runner import CampaignRunner
from dialer.store import DncEntry, Lead, LeadAttempt
from tests.integration.test_campaigns_support import (
    NYC,
    Clock,
    FakeOutbound,
    Script,
    campaign_db,
    start,
)


async def test_dispositions_after_the_call_move_the_lead(db_url: str) -> None:
    db = campaign_db(db_url, NYC[:3], max_lines=3)
    start(db)
    port = FakeOutbound(db, {n: [Script(Result.HUMAN)] for n in NYC[:3]})
    runner = CampaignRunner(
        db,
        "spring",
        port,
        FixedAgents({"sales": AgentLoad(available=3)}),
        clock=Clock(),
        tick_s=0.0,
    )
    await runner.step()
    await runner.wait_idle()
    with db.session() as s:
        calls = {a.number: a.call_id for a in s.scalars(select(LeadAttempt))}
        assert {lead.status for lead in s.scalars(select(Lead))} == {"done"}
    for number, code in zip(NYC[:3], ("dnc", "callback", "sale"), strict=True):
        await set_disposition(db, CallEscalations(None), calls[number], code)
    with db.session() as s:
        leads = {lead.phone: lead for lead in s.scalars(select(Lead))}
        dispositions = {a.number: a.disposition for a in s.scalars(select(LeadAttempt))}
        dnc = [d.number for d in s.scalars(select(DncEntry))]
        assert dispositions == dict(zip(NYC[:3], ("dnc", "callback", "sale"), strict=True))
        assert leads[NYC[0]].status == "dnc" and dnc == [NYC[0]]
        assert leads[NYC[1]].status == "retry" and leads[NYC[1]].next_attempt_at is not None
        assert leads[NYC[2]].status == "done"
    db.dispose()
