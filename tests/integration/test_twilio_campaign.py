"""A survey campaign over Twilio: the engine's dialer places the calls through the Twilio
layer against the stand-in REST API, and the test plays Twilio's signed webhooks for three
people: one takes the survey, one opts out, one is busy. Attempts, answers, DNC and CDRs are
checked in the database (SQLite and PostgreSQL), and each call's From: the campaign's
caller-ID pool by local presence under a daily cap. The port alone: a telemarketing drop counts
as abandoned, an answering machine as a machine. Preview calls: to the chosen agent only, and
transferred by that agent to another queue, whose agent takes the call."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.engine import Engine
from callcenter.store.models import Call
from callcenter.store.recordings import Recording
from callcenter.voice.twilio.outbound_port import TwilioOutboundPort
from dialer.campaigns import CampaignRepository, CampaignSettings
from dialer.ports import Answered, CallProgress, DialRequest, OptedOut, Result, Ringing
from dialer.store import DncEntry, Lead, LeadAttempt, SurveyAnswer
from tests.integration.test_campaigns_support import T0, Clock, leads
from tests.support.twilio_standin import (
    SeenRequest,
    TwilioEngine,
    TwilioStandIn,
    whole_engine_settings,
)

SURVEY, OPT_OUT, BUSY = "+12125550101", "+12125550102", "+12125550109"
OURS = "+12125550999"
POOL_NYC, POOL_MIAMI = "+12125550198", "+13055550198"


@pytest.fixture
async def engine(tmp_path: Path, db_url: str, standin: TwilioStandIn) -> AsyncIterator[Engine]:
    settings = whole_engine_settings(tmp_path, db_url, standin)
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
                caller_ids=[POOL_MIAMI, POOL_NYC],
                caller_id_strategy="local",
                caller_id_daily_cap=2,
            )
        )
        repo.import_leads("csat", leads(SURVEY, OPT_OUT, BUSY))
        repo.transition("csat", "running", T0)

    await engine.db.run(create)  # the engine's dialer service picks the running campaign up
    creates = [await asyncio.wait_for(standin.created.get(), 15) for _ in range(3)]
    assert {c.one("To") for c in creates} == {SURVEY, OPT_OUT, BUSY}
    # Local presence: the 212 number for 212 leads until its cap of 2, then the same country's.
    assert sorted(c.one("From") for c in creates) == [POOL_NYC, POOL_NYC, POOL_MIAMI]
    for c in creates:
        assert c.one("Timeout") == "20"
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
    shown = {c.one("To"): c.one("From") for c in creates}
    for number, c in calls.items():  # the attempt links the CDR Twilio's CallSid is on
        assert tried[number].call_id == c.id
        assert tried[number].caller_id == shown[number] == c.caller
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


async def test_preview_call_transferred_to_a_queue(
    engine: Engine, standin: TwilioStandIn
) -> None:
    """A preview campaign over Twilio, driven through the HTTP API as the agent desktop does:
    agent 1001 skips a lead, dials the next, talks to the person, then transfers them to the
    billing queue (POST /api/calls/{id}/transfer). The person's leg is redirected into
    <Enqueue> again, the ACD moves the task (1001 wraps up) and offers it to billing's agent
    1002, who takes the call. CDR, attempt and ACD figures as over SIP."""
    import httpx

    from callcenter import acd
    from callcenter.store import AgentRepository, Database, QueueRepository
    from callcenter.web.app import create_app

    db = Database(engine.settings.database.url)
    with db.session() as s:
        AgentRepository(s).add("1001", "Ann", "client:alice")
        QueueRepository(s).add_member("support", "1001")
        AgentRepository(s).add("1002", "Bob", "client:bob")
        QueueRepository(s).add_member("billing", "1002")
    db.dispose()
    engine.settings.twilio.record_calls = True  # each conversation its own recording
    await engine.start()
    assert engine.twilio is not None and engine.acd is not None and engine.dialer is not None
    router, dialer = engine.acd.router, engine.dialer
    dialer.clock = Clock(T0 + timedelta(weeks=520))  # later than the leads' import
    dialer.tick_s = dialer.poll_s = 0.2

    def create(s: Session) -> None:
        repo = CampaignRepository(s)
        repo.create(
            CampaignSettings(
                name="pv", kind="telemarketing", voice_layer="twilio", caller_id=OURS,
                dial_mode="preview", queue="support", ring_timeout_s=15,
            )
        )  # fmt: skip
        repo.import_leads("pv", leads(SURVEY, OPT_OUT))
        repo.transition("pv", "running", T0)

    await engine.db.run(create)
    for code in ("1001", "1002"):
        await engine.acd.handle(acd.AgentLoggedIn(code))
        await engine.acd.handle(acd.AgentReady(code))
    for _ in range(100):
        if dialer.live_runner("pv") is not None:
            break
        await asyncio.sleep(0.05)
    ann = {"agent": "1001"}

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(engine)), base_url="http://test"
    ) as api:
        first = (await api.post("/api/campaigns/pv/preview", params=ann)).json()
        skipped = await api.post(f"/api/campaigns/pv/preview/{first['lead_id']}/skip", params=ann)
        assert skipped.status_code == 200 and skipped.json()["skips_in_a_row"] == 1
        dialer.clock.advance(seconds=1)
        lead = (await api.post("/api/campaigns/pv/preview", params=ann)).json()
        assert lead["lead_id"] != first["lead_id"] and lead["skips_in_a_row"] == 1
        dialed = await api.post(f"/api/campaigns/pv/preview/{lead['lead_id']}/dial", params=ann)
        assert dialed.status_code == 202, dialed.text

        # The person answers and waits in <Enqueue>; only Ann is rung, and bridged to them.
        person = await asyncio.wait_for(standin.created.get(), 15)
        assert person.one("To") == lead["number"]
        sid = person.form["_sid"][0]
        base = {"CallSid": sid, "AccountSid": standin.account_sid, "CallStatus": "in-progress"}
        await standin.webhook(person.one("StatusCallback"), {**base, "CallStatus": "ringing"})
        reply = await standin.webhook(person.one("Url"), base)
        old = ET.fromstring(reply.text).find("Enqueue")
        assert old is not None, reply.text
        ring = await asyncio.wait_for(standin.created.get(), 5)
        assert ring.one("To") == "client:alice"
        alice = {"CallSid": ring.form["_sid"][0], "AccountSid": standin.account_sid}
        bridge = await standin.webhook(ring.one("Url"), {**alice, "CallStatus": "in-progress"})
        assert ET.fromstring(bridge.text).findtext("Dial/Queue") == sid, bridge.text
        call_id = engine.twilio.calls[sid].rec.call_id
        assert router.task_status(call_id) == "connected"
        assert router.agent_state("1001") == "busy"

        refused = await api.post(f"/api/calls/{call_id}/transfer", json={"to": "030123456"})
        assert refused.status_code == 422 and "E.164" in refused.text
        attended = {"to": "+4930123456", "attended": True}
        refused = await api.post(f"/api/calls/{call_id}/transfer", json=attended)
        assert refused.status_code == 409 and "blind only" in refused.text
        moved = await api.post(f"/api/calls/{call_id}/transfer", json={"to": "queue:billing"})
        assert moved.status_code == 202, moved.text
        again = await api.post(f"/api/calls/{call_id}/transfer", json={"to": "queue:billing"})
        assert again.status_code == 404 and "not connected" in again.text

    # The person's leg is sent into the queue's TwiML; Ann's leg is ended; Ann wraps up.
    redirect = await asyncio.wait_for(standin.updated.get(), 5)
    assert redirect.path.endswith(f"/Calls/{sid}.json") and "/twilio/continue" in redirect.one(
        "Url"
    )
    ended = await asyncio.wait_for(standin.updated.get(), 5)
    assert ended.path.endswith(f"/Calls/{alice['CallSid']}.json")
    assert ended.one("Status") == "completed"
    assert router.agent_state("1001") == "wrap_up"
    queued = await standin.webhook(redirect.one("Url"), base)
    enqueue = ET.fromstring(queued.text).find("Enqueue")
    assert enqueue is not None and enqueue.text == sid, queued.text
    assert enqueue.attrib["action"] != old.attrib["action"]
    # Twilio may still post the old <Enqueue>'s action: the same reply, nothing changes.
    late = {**base, "QueueResult": "redirected-from-bridged"}
    assert (await standin.webhook(old.attrib["action"], late)).text == queued.text
    music = await standin.webhook(enqueue.attrib["waitUrl"], {**base, "QueueSid": "QU1"})
    assert ET.fromstring(music.text).find("Play") is not None, music.text
    await standin.webhook(ring.one("StatusCallback"), {**alice, "CallStatus": "completed"})

    # The ACD offers the person to billing's agent, who answers and gets exactly them.
    ring2 = await asyncio.wait_for(standin.created.get(), 5)
    assert ring2.one("To") == "client:bob"
    bob = {"CallSid": ring2.form["_sid"][0], "AccountSid": standin.account_sid}
    bridge2 = await standin.webhook(ring2.one("Url"), {**bob, "CallStatus": "in-progress"})
    assert ET.fromstring(bridge2.text).findtext("Dial/Queue") == sid, bridge2.text
    assert router.agent_state("1002") == "busy" and router.task_status(call_id) == "connected"
    # Bob hangs up: the person's <Enqueue> ends bridged, the flow hangs up, the call ends.
    await standin.webhook(ring2.one("StatusCallback"), {**bob, "CallStatus": "completed"})
    done = await standin.webhook(enqueue.attrib["action"], {**base, "QueueResult": "bridged"})
    assert ET.fromstring(done.text)[-1].tag == "Hangup", done.text
    await standin.webhook(person.one("StatusCallback"), {**base, "CallStatus": "completed"})
    # Both recordings come after the call (Twilio's usual timing): two files, none overwritten.
    for n, bridged in enumerate((bridge, bridge2), 1):
        dial = ET.fromstring(bridged.text).find("Dial")
        assert dial is not None
        recording = f"RE{n:032x}"
        params = {
            "CallSid": sid, "AccountSid": standin.account_sid, "RecordingSid": recording,
            "RecordingStatus": "completed", "RecordingDuration": "5", "RecordingChannels": "2",
            "RecordingUrl": standin.recording_url(recording),
        }  # fmt: skip
        stored = await standin.webhook(dial.attrib["recordingStatusCallback"], params)
        assert stored.status_code == 204

    def read(s: Session) -> tuple[Any, ...]:
        return (
            s.scalar(select(Call).where(Call.dialed == lead["number"])),
            s.scalar(select(LeadAttempt)),
            s.get(Lead, lead["lead_id"]),
            sorted(Path(r.path).name for r in s.scalars(select(Recording))),
        )

    for _ in range(100):
        call, attempt, called, recordings = await engine.db.run(read)
        if call is not None and call.ended_at is not None and attempt.outcome is not None:
            break
        await asyncio.sleep(0.1)
    assert recordings == [f"{call.id}-call-2.wav", f"{call.id}-call.wav"]
    assert attempt.outcome == "human" and attempt.call_id == call.id
    assert called.status == "done"
    assert call.agent_id == engine.directory.agents["1002"].id
    assert call.queue_id == engine.directory.queues["billing"].id
    assert [e.data["queue"] for e in call.events if e.kind == "queued"] == ["support", "billing"]
    connected = [e.data for e in call.events if e.kind == "connected"]
    assert [c["agent"] for c in connected] == ["1001", "1002"]
    # The screen pop (the agent desktop's): the campaign and the lead, as over SIP.
    assert connected[0]["campaign"] == "pv" and connected[0]["number"] == called.phone
    assert connected[0]["lead"]["first_name"] == called.first_name
    [transferred] = [e.data for e in call.events if e.kind == "transferred"]
    assert transferred == {"to": "queue:billing", "by": "1001"}
    agent_legs = [leg for leg in call.legs if leg.role == "agent"]
    assert [(leg.remote, leg.external_id) for leg in agent_legs] == [
        ("client:alice", alice["CallSid"]),
        ("client:bob", bob["CallSid"]),
    ]
    assert router.task_status(call_id) is None  # the ACD's task ended with the call
    assert router.agent_state("1002") == "wrap_up"
    now = engine.acd.clock()
    assert router.agent_stats("1001", now).tasks == 1
    assert router.agent_stats("1002", now).tasks == 1
    # The transferred call counts as the billing queue's, not as the preview queue's.
    assert router.queue_stats("billing", now).answered == 1
    assert router.queue_stats("support", now).answered == 0
    assert standin.created.empty()  # nobody else was rung


async def test_transferred_preview_call_the_acd_never_held_and_an_abandon(
    tmp_path: Path, sqlite_url: str, standin: TwilioStandIn
) -> None:
    """The ACD refused the preview call's assignment (the agent was not logged in to it): the
    call went on, and a transfer still works, the task arriving in the queue anew. The person
    then hangs up while waiting there: an abandon of that queue. A call that is not connected
    to an agent cannot be transferred."""
    from callcenter import acd
    from callcenter.voice.twilio import NotConnected, TransferNotSupported

    agents = {"1001": "client:alice", "1002": "client:bob"}
    engine = TwilioEngine(tmp_path, sqlite_url, standin, {}, agents)
    await engine.start()
    try:
        port = TwilioOutboundPort(engine.layer)
        router = engine.acd.router

        async def report(event: CallProgress) -> None:
            pass

        request = DialRequest(
            "p1", "spring", "telemarketing", SURVEY, OURS, {}, 15.0,
            flow="ivr_flows/telemarketing_drop.yaml", queue="support", amd=False, agent="1001",
        )  # fmt: skip
        placing = asyncio.create_task(port.place(request, report))
        person = await asyncio.wait_for(standin.created.get(), 5)
        sid = person.form["_sid"][0]
        base = {"CallSid": sid, "AccountSid": standin.account_sid, "CallStatus": "in-progress"}
        await standin.webhook(person.one("Url"), base)
        call_id = engine.layer.calls[sid].rec.call_id
        with pytest.raises(NotConnected, match="not connected"):  # still waiting for Ann
            await engine.layer.transfer(call_id, "queue:support")
        ring = await asyncio.wait_for(standin.created.get(), 5)
        alice = {"CallSid": ring.form["_sid"][0], "AccountSid": standin.account_sid}
        await standin.webhook(ring.one("Url"), {**alice, "CallStatus": "in-progress"})
        assert router.task_status(call_id) is None  # Ann is logged out: the ACD refused it
        with pytest.raises(TransferNotSupported, match="blind only"):
            await engine.layer.transfer(call_id, "sip:desk@example.com", attended=True)

        await engine.ready("1002")
        await engine.acd.handle(acd.AgentPaused("1002", "lunch"))  # nobody free: it waits
        await engine.layer.transfer(call_id, "queue:support")
        assert router.task_status(call_id) == "waiting"
        redirect = await asyncio.wait_for(standin.updated.get(), 5)
        queued = await standin.webhook(redirect.one("Url"), base)
        assert ET.fromstring(queued.text).find("Enqueue") is not None, queued.text
        await standin.webhook(person.one("StatusCallback"), {**base, "CallStatus": "completed"})
        outcome = await asyncio.wait_for(placing, 5)
        assert outcome.result is Result.HUMAN  # the person talked to Ann before
        assert router.task_status(call_id) is None
        assert router.queue_stats("support", engine.acd.clock()).abandoned == 1
        with engine.db.session() as s:
            call = s.get(Call, call_id)
            assert call is not None
            kinds = [e.kind for e in call.events]
            assert kinds.index("transferred") < kinds.index("abandoned")
            assert [leg.remote for leg in call.legs if leg.role == "agent"] == ["client:alice"]
    finally:
        await engine.stop()
