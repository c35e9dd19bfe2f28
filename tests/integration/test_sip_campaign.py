"""A survey campaign over real SIP: the dialer calls SIPp "people"; one takes the survey, one
opts out, one is busy. Attempts, answers, DNC and CDRs are checked in the database, and the
From of each INVITE SIPp received: the campaign's caller-ID pool by local presence under a
daily cap."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from sqlalchemy import select

from callcenter.engine import Engine
from callcenter.store.models import Call
from dialer.campaigns import CampaignRepository, CampaignSettings
from dialer.store import DncEntry, Lead, LeadAttempt, SurveyAnswer
from tests.integration.test_campaigns_support import T0, Clock, leads
from tests.support.sip import Sipp

SURVEY, OPT_OUT, BUSY = "+12125550101", "+12125550102", "+12125550109"
POOL_NYC, POOL_MIAMI = "+12125550198", "+13055550198"
INVITE = re.compile(r"^INVITE sip:([^@;]+)@.*?^From:[^\n]*<sip:([^@>;]+)@", re.M | re.S)


async def test_survey_campaign_over_sip(engine: Engine, tmp_path: Path) -> None:
    messages = tmp_path / "people" / "messages.log"
    people = Sipp(tmp_path, "people", "callee_campaign.xml", "-m", "3", "-trace_msg",
                  "-message_file", str(messages))
    engine.settings.sip.outbound_gateway = f"127.0.0.1:{people.port}"
    await people.start()
    await engine.start()
    assert engine.sip is not None

    def create(s):  # type: ignore[no-untyped-def]
        repo = CampaignRepository(s)
        repo.create(
            CampaignSettings(
                name="csat",
                kind="survey",
                caller_id="+12125550999",
                dial_mode="agentless",
                flow="ivr_flows/survey_outbound.yaml",
                max_lines=3,
                ring_timeout_s=15,
                caller_ids=[POOL_MIAMI, POOL_NYC],
                caller_id_strategy="local",
                caller_id_daily_cap=2,
            )
        )
        repo.import_leads("csat", leads(SURVEY, OPT_OUT, BUSY))
        repo.transition("csat", "running", T0)

    assert engine.dialer is not None
    engine.dialer.clock = Clock(T0)  # a Wednesday 11:00 in New York, whatever the real time
    engine.dialer.tick_s = 0.2
    await engine.db.run(create)  # the engine's dialer service picks the running campaign up

    def finished(s):  # type: ignore[no-untyped-def]
        return [a.outcome for a in s.scalars(select(LeadAttempt))]

    for _ in range(600):
        done = await engine.db.run(finished)
        if len(done) == 3 and all(done):
            break
        await asyncio.sleep(0.2)
    result = await people.wait(30)
    assert result.ok, result.stderr + result.errors

    def read(s):  # type: ignore[no-untyped-def]
        outcomes = {a.number: a.outcome for a in s.scalars(select(LeadAttempt))}
        shown = {a.number: a.caller_id for a in s.scalars(select(LeadAttempt))}
        status = {lead.phone: lead.status for lead in s.scalars(select(Lead))}
        answers = {(a.question, a.value) for a in s.scalars(select(SurveyAnswer))}
        dnc = [d.number for d in s.scalars(select(DncEntry))]
        calls = {c.dialed: c for c in s.scalars(select(Call))}
        return outcomes, shown, status, answers, dnc, calls

    outcomes, shown, status, answers, dnc, calls = await engine.db.run(read)
    # What the people's phones showed: the 212 number until its cap of 2, then the country's.
    invites = dict(INVITE.findall(messages.read_text()))
    assert invites == shown and sorted(shown.values()) == [POOL_NYC, POOL_NYC, POOL_MIAMI]
    assert outcomes == {SURVEY: "human", OPT_OUT: "human", BUSY: "busy"}
    assert status[SURVEY] == "done" and status[OPT_OUT] == "dnc" and status[BUSY] == "retry"
    assert answers == {("satisfaction", "4"), ("recommend", "8"), ("wants_contact", "2")}
    assert dnc == [OPT_OUT]
    assert {c.direction for c in calls.values()} == {"outbound"}
    survey_call = calls[SURVEY]
    kinds = [e.kind for e in survey_call.events]
    assert kinds.count("survey_answer") == 3 and survey_call.talk_s is None  # no agent
    assert survey_call.answered_at is not None and survey_call.ended_at is not None
