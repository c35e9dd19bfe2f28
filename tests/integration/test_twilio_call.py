"""An inbound Twilio call end to end: the engine under uvicorn, Twilio played by the stand-in.

incoming -> menu -> gather -> enqueue -> agent rung over REST -> agent answers -> bridged ->
agent hangs up -> the flow goes on -> caller's completed status (twice) -> recording callback
(twice) -> one CDR and one recordings row in the database, on SQLite and PostgreSQL, shaped
like a SIP call's.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from callcenter.store.models import Call
from callcenter.store.recordings import Recording, RecordingAudit
from tests.support.twilio_standin import TwilioEngine, TwilioStandIn

# The SIP test's flow: one flow file serves both voice layers.
FLOW = Path(__file__).parent / "flows" / "sip_queue.yaml"
NUMBER = "+15550200"
CALLER = "+15550100"
CALL_SID = "CA" + "c" * 32

# What a served inbound SIP call leaves in the record (callcenter/voice/sip: SipCall and
# SipVoiceLayer; tests/integration/test_sip_inbound.py asserts the same call over SIP).
SIP_CALL_COLUMNS = {
    "id",
    "tenant",
    "direction",
    "voice_layer",
    "external_id",
    "caller",
    "dialed",
    "flow",
    "started_at",
    "answered_at",
    "ended_at",
    "queue_id",
    "agent_id",
    "queue_wait_s",
    "talk_s",
    "hangup_cause",
    "hangup_by",
}
SIP_EVENT_KINDS = {"ivr", "queued", "offered", "connected", "recording"}
SIP_LEG_COLUMNS = {
    "id",
    "call_id",
    "role",
    "remote",
    "agent_id",
    "started_at",
    "answered_at",
    "ended_at",
}


def filled(row: object) -> set[str]:
    return {
        c.name
        for c in row.__table__.columns  # type: ignore[attr-defined]
        if getattr(row, c.name) is not None
    }


def verbs(body: str) -> list[ET.Element]:
    root = ET.fromstring(body)
    assert root.tag == "Response"
    return list(root)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
async def twilio(tmp_path: Path, db_url: str) -> AsyncIterator[tuple[TwilioStandIn, TwilioEngine]]:
    standin = TwilioStandIn()
    await standin.start()
    engine = TwilioEngine(tmp_path, db_url, standin, {NUMBER: FLOW}, {"1001": "client:alice"})
    await engine.start()
    try:
        yield standin, engine
    finally:
        await engine.stop()
        await standin.stop()


async def test_inbound_call_reaches_an_agent_and_leaves_one_sip_shaped_cdr(
    twilio: tuple[TwilioStandIn, TwilioEngine], tmp_path: Path
) -> None:
    standin, engine = twilio
    await engine.ready("1001")
    base = engine.public + "/twilio"
    caller = {
        "CallSid": CALL_SID,
        "AccountSid": standin.account_sid,
        "From": CALLER,
        "To": NUMBER,
        "Direction": "inbound",
        "CallStatus": "ringing",
    }

    # incoming: the menu as <Gather> with its prompt inside
    reply = await standin.webhook(f"{base}/voice", caller)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/xml")
    [gather] = verbs(reply.text)
    assert gather.tag == "Gather"
    assert gather.get("input") == "dtmf" and gather.get("actionOnEmptyResult") == "true"
    assert gather.get("timeout") == "5"
    assert [(p.tag, p.text) for p in gather] == [("Say", "For support, press 2.")]
    gather_url = gather.get("action") or ""
    assert gather_url == f"{base}/gather?step=1"

    # the caller presses 2: into the queue, in a Twilio queue of its own
    reply = await standin.webhook(
        gather_url, {**caller, "CallStatus": "in-progress", "Digits": "2"}
    )
    [enqueue] = verbs(reply.text)
    assert enqueue.tag == "Enqueue" and enqueue.text == CALL_SID
    assert enqueue.get("waitUrl") == f"{base}/queue/wait?call={CALL_SID}"
    assert enqueue.get("action") == f"{base}/queue/done?step=2"

    # Twilio repeats the gather webhook: same TwiML, the flow does not advance twice
    again = await standin.webhook(gather_url, {**caller, "Digits": "2"})
    assert again.text == reply.text

    # the ACD offers the call: the agent is rung through the REST API
    create = await asyncio.wait_for(standin.created.get(), 5)
    assert create.auth == (standin.account_sid, standin.auth_token)
    assert create.path == f"/2010-04-01/Accounts/{standin.account_sid}/Calls.json"
    assert create.one("To") == "client:alice" and create.one("From") == CALLER
    assert create.one("Url") == f"{base}/agent/answer?call={CALL_SID}"
    assert create.one("StatusCallback") == f"{base}/agent/status?call={CALL_SID}"
    assert int(create.one("Timeout")) >= 5
    agent_sid = create.form["_sid"][0]

    # waiting: music from the wait URL
    wait = await standin.webhook(
        enqueue.get("waitUrl") or "",
        {**caller, "QueueSid": "QU" + "1" * 32, "QueuePosition": "1", "QueueTime": "2"},
    )
    assert "Play" in [v.tag for v in verbs(wait.text)]

    # the agent answers: <Dial><Queue> takes exactly this caller, recorded
    agent = {
        "CallSid": agent_sid,
        "AccountSid": standin.account_sid,
        "From": CALLER,
        "To": "client:alice",
        "CallStatus": "in-progress",
        "Direction": "outbound-api",
    }
    reply = await standin.webhook(create.one("Url"), agent)
    [dial] = verbs(reply.text)
    assert dial.tag == "Dial" and dial.get("record") == "record-from-answer-dual"
    assert [(q.tag, q.text) for q in dial] == [("Queue", CALL_SID)]
    recording_url = dial.get("recordingStatusCallback") or ""
    assert recording_url.startswith(f"{base}/recording?")
    assert (await standin.webhook(create.one("Url"), agent)).text == reply.text  # a retry

    await asyncio.sleep(0.3)  # they talk
    # the agent hangs up; the caller leaves <Enqueue> "bridged" and the flow goes on
    for _ in range(2):
        r = await standin.webhook(
            create.one("StatusCallback"), {**agent, "CallStatus": "completed", "CallDuration": "1"}
        )
        assert r.status_code == 200
    reply = await standin.webhook(
        enqueue.get("action") or "",
        {
            **caller,
            "CallStatus": "in-progress",
            "QueueResult": "bridged",
            "QueueSid": "QU" + "1" * 32,
            "QueueTime": "1",
        },
    )
    assert [(v.tag, v.text) for v in verbs(reply.text)] == [
        ("Say", "Thank you for calling."),
        ("Hangup", None),
    ]

    # the caller's completed status, delivered twice
    for _ in range(2):
        r = await standin.webhook(
            f"{base}/status", {**caller, "CallStatus": "completed", "CallDuration": "9"}
        )
        assert r.status_code == 200

    # the recording arrives after the call, twice; stored once
    recording = {
        "AccountSid": standin.account_sid,
        "CallSid": CALL_SID,
        "RecordingSid": "RE" + "2" * 32,
        "RecordingStatus": "completed",
        "RecordingDuration": "1",
        "RecordingChannels": "2",
        "RecordingUrl": standin.recording_url("RE" + "2" * 32),
    }
    for _ in range(2):
        r = await standin.webhook(recording_url, recording)
        assert r.status_code == 204

    # what the stand-in was asked, in all
    assert len(standin.of("POST", "/Calls.json")) == 1
    assert len(standin.of("GET", ".wav")) == 1
    assert standin.of("DELETE", f"/Queues/QU{'1' * 32}.json")

    # the record
    calls = await engine.db.run(lambda s: list(s.scalars(select(Call))))
    [call] = calls
    assert call.voice_layer == "twilio" and call.external_id == CALL_SID
    assert call.direction == "inbound" and call.caller == CALLER and call.dialed == NUMBER
    assert call.flow == "sip_queue"
    assert call.queue_id == engine.directory.queue_id("support")
    assert call.agent_id == engine.directory.agent_id("1001")
    assert call.talk_s is not None and 0.2 < call.talk_s < 10
    assert call.queue_wait_s is not None and call.queue_wait_s < 10
    assert call.hangup_by == "engine" and call.hangup_cause == "flow finished"
    assert filled(call) == SIP_CALL_COLUMNS
    kinds = [e.kind for e in call.events]
    assert set(kinds) == SIP_EVENT_KINDS
    assert [e.seq for e in call.events] == list(range(1, len(kinds) + 1))
    assert kinds.count("queued") == kinds.count("offered") == kinds.count("connected") == 1
    path = [(e.data["node"], e.data["detail"]) for e in call.events if e.kind == "ivr"]
    assert path[0][0] == "menu" and ("menu", "pressed '2'") in path
    assert ("support", "queue served") in path
    assert [n for n, _ in path].index("support") < [n for n, _ in path].index("thanks")
    assert len(path) == len(set(path))  # the repeated gather left no second step
    [leg] = call.legs
    assert leg.role == "agent" and leg.remote == "client:alice"
    assert leg.external_id == agent_sid
    assert filled(leg) - {"external_id", "hangup_cause"} == SIP_LEG_COLUMNS
    [rec] = [e.data for e in call.events if e.kind == "recording"]
    stored = Path(rec["path"])
    assert stored.is_relative_to(tmp_path / "recordings")
    assert stored.read_bytes() == standin.recording_audio
    assert rec["recording_sid"] == "RE" + "2" * 32 and rec["voicemail"] is False
    # ... and in the recordings table: one dual-channel row, audited as a SIP recording is
    [row] = await engine.db.run(lambda s: list(s.scalars(select(Recording))))
    assert row.call_id == call.id and row.kind == "call" and row.channels == 2
    assert row.path == rec["path"] and row.status == "done" and row.duration_s == 1.0
    audit = await engine.db.run(
        lambda s: [(a.action, a.by, a.reason) for a in s.scalars(select(RecordingAudit))]
    )
    assert audit == [
        ("started", "engine", f"Twilio recording RE{'2' * 32}"),
        ("stopped", "engine", ""),
    ]
