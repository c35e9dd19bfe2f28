"""A survey campaign over Twilio: the engine's dialer places the calls through the Twilio
layer against the stand-in REST API, and the test plays Twilio's signed webhooks for three
people: one takes the survey, one opts out, one is busy. Attempts, answers, DNC and CDRs are
checked in the database (SQLite and PostgreSQL). The port alone: a telemarketing drop counts
as abandoned, an answering machine as a machine."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.config import load_settings
from callcenter.engine import Engine
from callcenter.store import open_database, upgrade
from callcenter.store.models import Call
from callcenter.voice.twilio.outbound_port import TwilioOutboundPort
from dialer.campaigns import CampaignRepository, CampaignSettings
from dialer.ports import Answered, CallProgress, DialRequest, OptedOut, Result, Ringing
from dialer.store import DncEntry, Lead, LeadAttempt, SurveyAnswer
from tests.integration.test_campaigns_support import T0, Clock, leads
from tests.support.brokers import free_port
from tests.support.twilio_standin import SeenRequest, TwilioEngine, TwilioStandIn

SURVEY, OPT_OUT, BUSY = "+12125550101", "+12125550102", "+12125550109"
OURS = "+12125550999"


@pytest.fixture
async def standin() -> AsyncIterator[TwilioStandIn]:
    twilio = TwilioStandIn()
    await twilio.start()
    yield twilio
    await twilio.stop()


@pytest.fixture
async def engine(tmp_path: Path, db_url: str, standin: TwilioStandIn) -> AsyncIterator[Engine]:
    db = open_database(db_url)
    upgrade(db)
    db.dispose()
    port = free_port()
    settings = load_settings(
        database={"url": db_url},
        http={"host": "127.0.0.1", "port": port},
        var_dir=tmp_path / "var",
        recordings_dir=tmp_path / "recordings",
        sip={"enabled": False},
        backoffice={"smtp_port": free_port()},
        twilio={
            "enabled": True,
            "account_sid": standin.account_sid,
            "auth_token": standin.auth_token,
            "public_base_url": f"http://127.0.0.1:{port}",
            "api_base_url": standin.api_base_url,
        },
    )
    eng = Engine(settings)
    yield eng
    await eng.stop()


def gather_url(twiml: str) -> str:
    """The action URL of the reply's ``<Gather>`` (the question the person hears)."""
    gather = ET.fromstring(twiml).find("Gather")
    assert gather is not None, twiml
    return gather.attrib["action"]


async def person(standin: TwilioStandIn, create: SeenRequest) -> None:
    """What Twilio does for one dialed number, by number: ring, answer, keys, hang up."""
    to = create.one("To")
    base = {
        "CallSid": create.form["_sid"][0],
        "AccountSid": standin.account_sid,
        "From": create.one("From"),
        "To": to,
        "Direction": "outbound-api",
    }
    status_url = create.one("StatusCallback")

    async def status(call_status: str, **extra: str) -> None:
        reply = await standin.webhook(status_url, {**base, "CallStatus": call_status, **extra})
        assert reply.status_code == 200

    await status("initiated")
    await status("ringing")
    if to == BUSY:
        await status("busy")
        return
    answered = {**base, "CallStatus": "in-progress"}
    reply = await standin.webhook(create.one("Url"), answered)
    await status("in-progress")
    amd = {**answered, "AnsweredBy": "human", "MachineDetectionDuration": "1800"}
    assert (await standin.webhook(create.one("AsyncAmdStatusCallback"), amd)).status_code == 200
    keys = ["1", "4", "8", "2"] if to == SURVEY else ["9"]
    for digits in keys:
        reply = await standin.webhook(gather_url(reply.text), {**answered, "Digits": digits})
        assert reply.status_code == 200
    assert ET.fromstring(reply.text)[-1].tag == "Hangup"
    await status("completed", AnsweredBy="human")
    await status("completed", AnsweredBy="human")  # Twilio may repeat a callback


async def test_survey_campaign_over_twilio(engine: Engine, standin: TwilioStandIn) -> None:
    await engine.start()
    assert engine.twilio is not None and engine.dialer is not None
    engine.dialer.clock = Clock(T0)  # a Wednesday 11:00 in New York, whatever the real time
    engine.dialer.tick_s = 0.2
    engine.dialer.poll_s = 0.2

    def create(s: Session) -> None:
        repo = CampaignRepository(s)
        repo.create(
            CampaignSettings(
                name="csat",
                kind="survey",
                voice_layer="twilio",
                caller_id=OURS,
                dial_mode="agentless",
                flow="ivr_flows/survey_outbound.yaml",
                max_lines=3,
                ring_timeout_s=20,
                amd=True,
            )
        )
        repo.import_leads("csat", leads(SURVEY, OPT_OUT, BUSY))
        repo.transition("csat", "running", T0)

    await engine.db.run(create)  # the engine's dialer service picks the running campaign up
    creates = [await asyncio.wait_for(standin.created.get(), 15) for _ in range(3)]
    assert {c.one("To") for c in creates} == {SURVEY, OPT_OUT, BUSY}
    for c in creates:
        assert c.one("From") == OURS and c.one("Timeout") == "20"
        assert c.one("MachineDetection") == "DetectMessageEnd"
    await asyncio.gather(*(person(standin, c) for c in creates))

    def finished(s: Session) -> list[str | None]:
        return [a.outcome for a in s.scalars(select(LeadAttempt))]

    for _ in range(100):
        done = await engine.db.run(finished)
        if len(done) == 3 and all(done):
            break
        await asyncio.sleep(0.1)

    def read(s: Session) -> tuple[Any, ...]:
        tried = {a.number: a for a in s.scalars(select(LeadAttempt))}
        status = {lead.phone: lead.status for lead in s.scalars(select(Lead))}
        answers = {(a.question, a.value) for a in s.scalars(select(SurveyAnswer))}
        dnc = [d.number for d in s.scalars(select(DncEntry))]
        calls = {c.dialed: c for c in s.scalars(select(Call))}
        survey_events = [e.kind for e in calls[SURVEY].events]
        return tried, status, answers, dnc, calls, survey_events

    tried, status, answers, dnc, calls, survey_events = await engine.db.run(read)
    assert {n: a.outcome for n, a in tried.items()} == {
        SURVEY: "human",
        OPT_OUT: "human",
        BUSY: "busy",
    }
    assert status[SURVEY] == "done" and status[OPT_OUT] == "dnc" and status[BUSY] == "retry"
    assert answers == {("satisfaction", "4"), ("recommend", "8"), ("wants_contact", "2")}
    assert dnc == [OPT_OUT]
    assert {c.direction for c in calls.values()} == {"outbound"}
    assert {c.voice_layer for c in calls.values()} == {"twilio"}
    for number, c in calls.items():  # the attempt links the CDR Twilio's CallSid is on
        assert tried[number].call_id == c.id
        assert c.external_id in {r.form["_sid"][0] for r in creates}
        assert c.ended_at is not None
    assert calls[BUSY].answered_at is None and calls[BUSY].hangup_cause == "busy"
    survey = calls[SURVEY]
    assert survey.answered_at is not None and survey.hangup_cause == "survey finished"
    assert survey_events.count("survey_answer") == 3 and survey_events.count("amd") == 1
    assert calls[OPT_OUT].hangup_cause == "survey finished"


async def test_telemarketing_drop_is_abandoned_and_a_machine_is_a_machine(
    tmp_path: Path, sqlite_url: str, standin: TwilioStandIn
) -> None:
    engine = TwilioEngine(tmp_path, sqlite_url, standin, {}, {"1001": "client:alice"})
    await engine.start()
    try:
        port = TwilioOutboundPort(engine.layer)
        heard: list[CallProgress] = []

        async def report(event: CallProgress) -> None:
            heard.append(event)

        def request(key: str, number: str) -> DialRequest:
            return DialRequest(
                key, "spring", "telemarketing", number, OURS, {}, 15.0,
                flow="ivr_flows/telemarketing_drop.yaml", queue="support", amd=True,
            )  # fmt: skip

        # no agent free: the drop message, the person opts out, the call counts as abandoned
        placing = asyncio.create_task(port.place(request("a1", SURVEY), report))
        create = await asyncio.wait_for(standin.created.get(), 5)
        base = {"CallSid": create.form["_sid"][0], "AccountSid": standin.account_sid}
        await standin.webhook(create.one("StatusCallback"), {**base, "CallStatus": "ringing"})
        reply = await standin.webhook(create.one("Url"), {**base, "CallStatus": "in-progress"})
        assert "all our agents are busy" in reply.text
        await standin.webhook(gather_url(reply.text), {**base, "Digits": "9"})
        await standin.webhook(create.one("StatusCallback"), {**base, "CallStatus": "completed"})
        outcome = await asyncio.wait_for(placing, 5)
        assert outcome.result is Result.ABANDONED and outcome.opted_out
        assert heard == [Ringing(), OptedOut(), Answered(human=True)]

        # an agent is free: the queue; AMD says machine: the engine hangs up
        heard.clear()
        await engine.ready("1001")
        placing = asyncio.create_task(port.place(request("a2", OPT_OUT), report))
        create = await asyncio.wait_for(standin.created.get(), 5)
        base = {"CallSid": create.form["_sid"][0], "AccountSid": standin.account_sid}
        reply = await standin.webhook(create.one("Url"), {**base, "CallStatus": "in-progress"})
        assert ET.fromstring(reply.text).find("Enqueue") is not None
        amd = {**base, "AnsweredBy": "machine_end_beep"}
        await standin.webhook(create.one("AsyncAmdStatusCallback"), amd)
        await standin.webhook(create.one("StatusCallback"), {**amd, "CallStatus": "completed"})
        outcome = await asyncio.wait_for(placing, 5)
        assert outcome.result is Result.MACHINE and heard == [Answered(human=False)]
        assert outcome.call_id is not None and outcome.talk_s is not None
    finally:
        await engine.stop()


async def test_preview_call_goes_to_the_chosen_agent_or_is_dropped(
    tmp_path: Path, sqlite_url: str, standin: TwilioStandIn
) -> None:
    """A preview call: the person waits in <Enqueue> while only the chosen agent is rung (not
    the free agent of the queue); answered, the agent gets exactly this person and the ACD
    sees them busy, then idle. Not answered: the drop message, counted as abandoned."""
    from callcenter import acd

    agents = {"1001": "client:alice", "1002": "client:bob"}
    engine = TwilioEngine(tmp_path, sqlite_url, standin, {}, agents)
    await engine.start()
    try:
        await engine.ready("1002")  # free in the queue: must not get the preview call
        await engine.acd.handle(acd.AgentLoggedIn("1001"))
        await engine.acd.handle(acd.AgentPaused("1001", "preview"))
        port = TwilioOutboundPort(engine.layer)

        async def report(event: CallProgress) -> None:
            pass

        def request(key: str, number: str) -> DialRequest:
            return DialRequest(
                key, "spring", "telemarketing", number, OURS, {}, 15.0,
                flow="ivr_flows/telemarketing_drop.yaml", queue="support", amd=False,
                agent="1001",
            )  # fmt: skip

        def state(agent: str) -> str:
            return engine.acd.router.agent_state(agent)

        # the agent answers: bridged to this person, busy while they talk, then idle
        placing = asyncio.create_task(port.place(request("p1", SURVEY), report))
        create = await asyncio.wait_for(standin.created.get(), 5)
        base = {"CallSid": create.form["_sid"][0], "AccountSid": standin.account_sid}
        reply = await standin.webhook(create.one("Url"), {**base, "CallStatus": "in-progress"})
        enqueue = ET.fromstring(reply.text).find("Enqueue")
        assert enqueue is not None, reply.text
        ring = await asyncio.wait_for(standin.created.get(), 5)
        assert ring.one("To") == "client:alice"
        agent = {"CallSid": ring.form["_sid"][0], "AccountSid": standin.account_sid}
        bridge = await standin.webhook(ring.one("Url"), {**agent, "CallStatus": "in-progress"})
        dial = ET.fromstring(bridge.text).find("Dial")
        assert dial is not None and dial.findtext("Queue") == base["CallSid"], bridge.text
        assert state("1001") == "busy"
        await standin.webhook(ring.one("StatusCallback"), {**agent, "CallStatus": "completed"})
        left = {**base, "CallStatus": "in-progress", "QueueResult": "bridged"}
        await standin.webhook(enqueue.attrib["action"], left)
        await standin.webhook(create.one("StatusCallback"), {**base, "CallStatus": "completed"})
        outcome = await asyncio.wait_for(placing, 5)
        assert outcome.result is Result.HUMAN and outcome.talk_s is not None
        with engine.db.session() as s:
            served = s.get(Call, outcome.call_id)
            assert served is not None and served.agent_id is not None
            assert "connected" in [e.kind for e in served.events]
        # The call was the agent's task: wrap-up, then the preview pause again.
        assert state("1001") == "wrap_up" and state("1002") == "available"
        await engine.acd.handle(acd.WrapUpEnded("1001"))
        assert state("1001") == "paused"
        assert standin.created.empty()  # bob was never rung

        # the agent does not answer: the drop message, abandoned
        placing = asyncio.create_task(port.place(request("p2", OPT_OUT), report))
        create = await asyncio.wait_for(standin.created.get(), 5)
        base = {"CallSid": create.form["_sid"][0], "AccountSid": standin.account_sid}
        reply = await standin.webhook(create.one("Url"), {**base, "CallStatus": "in-progress"})
        assert ET.fromstring(reply.text).find("Enqueue") is not None
        ring = await asyncio.wait_for(standin.created.get(), 5)
        agent = {"CallSid": ring.form["_sid"][0], "AccountSid": standin.account_sid}
        await standin.webhook(ring.one("StatusCallback"), {**agent, "CallStatus": "no-answer"})
        redirect = await asyncio.wait_for(standin.updated.get(), 5)  # out of <Enqueue>
        drop = await standin.webhook(redirect.one("Url"), {**base, "CallStatus": "in-progress"})
        assert "all our agents are busy" in drop.text
        await standin.webhook(create.one("StatusCallback"), {**base, "CallStatus": "completed"})
        outcome = await asyncio.wait_for(placing, 5)
        assert outcome.result is Result.ABANDONED
        with engine.db.session() as s:
            call = s.get(Call, outcome.call_id)
            assert call is not None and call.agent_id is None
            assert any(
                e.kind == "drop" and "agent 1001 did not answer" in e.data.get("reason", "")
                for e in call.events
            )
        assert state("1001") == "paused"
    finally:
        await engine.stop()
