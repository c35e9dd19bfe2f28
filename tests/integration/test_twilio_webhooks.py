"""Twilio webhooks under real uvicorn: signatures (missing, forged, behind a TLS proxy), unknown
numbers, a caller abandoning while an agent rings, an ACD overflow, the call-back key, and a
call this node does not know (it began at another node)."""

from __future__ import annotations

import asyncio
import logging
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.store.models import Call
from callcenter.voice.twilio.twiml import LOST_CALL
from tests.support.twilio_standin import TwilioEngine, TwilioStandIn

FLOW = Path(__file__).parent / "flows" / "sip_queue.yaml"
NUMBER = "+15550200"
SID = "CA" + "d" * 32

Start = Callable[..., "asyncio.Future[tuple[TwilioStandIn, TwilioEngine]]"]


@pytest.fixture
async def start(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Start]:
    running: list[tuple[TwilioStandIn, TwilioEngine]] = []

    async def go(**kwargs: object) -> tuple[TwilioStandIn, TwilioEngine]:
        standin = TwilioStandIn()
        await standin.start()
        numbers = kwargs.pop("numbers", {NUMBER: FLOW})
        engine = TwilioEngine(
            tmp_path,
            sqlite_url,
            standin,
            numbers,  # type: ignore[arg-type]
            **kwargs,
        )  # type: ignore[arg-type]
        await engine.start()
        running.append((standin, engine))
        return standin, engine

    yield go  # type: ignore[misc]
    for standin, engine in running:
        await engine.stop()
        await standin.stop()


def caller(**more: str) -> dict[str, str]:
    return {
        "CallSid": SID,
        "AccountSid": "AC" + "0" * 32,
        "From": "+15550100",
        "To": NUMBER,
        "CallStatus": "ringing",
        "Direction": "inbound",
        **more,
    }


def tags(body: str) -> list[str]:
    return [v.tag for v in ET.fromstring(body)]


async def calls(engine: TwilioEngine) -> list[Call]:
    return await engine.db.run(lambda s: list(s.scalars(select(Call))))


async def test_missing_or_forged_signatures_are_refused_and_logged(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    standin, engine = await start()
    url = engine.public + "/twilio/voice"
    caplog.set_level(logging.WARNING, "callcenter.voice.twilio")
    missing = await standin.webhook(url, caller(), signed=False)
    forged = await standin.webhook(url, caller(), signature=standin.sign(url, caller(), "guess"))
    tampered = await standin.webhook(
        url, caller(), signature=standin.sign(url, caller(From="+15559999"))
    )
    other_url = await standin.webhook(
        url, caller(), signature=standin.sign(url + "?step=1", caller())
    )
    assert [r.status_code for r in (missing, forged, tampered, other_url)] == [403] * 4
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 4 and "no X-Twilio-Signature" in refusals[0]
    assert await calls(engine) == []  # nothing was started by a refused request
    ok = await standin.webhook(url, caller())
    assert ok.status_code == 200 and tags(ok.text) == ["Gather"]


async def test_signature_is_checked_against_the_public_url_behind_a_tls_proxy(
    start: Start,
) -> None:
    standin, engine = await start(public_base_url="https://cc.example.com")
    public = "https://cc.example.com/twilio/voice"
    # the proxy forwards to the engine on loopback; Twilio signed the https URL it called
    ok = await standin.webhook(public, caller(), via=engine.url)
    assert ok.status_code == 200
    [gather] = ET.fromstring(ok.text)
    assert gather.get("action") == "https://cc.example.com/twilio/gather?step=1"
    signed_for_loopback = await standin.webhook(
        engine.url + "/twilio/voice", caller(CallSid="CA" + "e" * 32)
    )
    assert signed_for_loopback.status_code == 403


async def test_unknown_number_is_rejected_without_a_record(start: Start) -> None:
    standin, engine = await start()
    reply = await standin.webhook(engine.public + "/twilio/voice", caller(To="+15550999"))
    assert tags(reply.text) == ["Reject"]
    assert await calls(engine) == []


async def test_caller_hanging_up_while_the_agent_rings_abandons_and_cancels_the_leg(
    start: Start,
) -> None:
    standin, engine = await start(agents={"1001": "sip:alice@pbx.example.com"})
    await engine.ready("1001")
    base = engine.public + "/twilio"
    await standin.webhook(base + "/voice", caller())
    await standin.webhook(base + "/gather?step=1", caller(Digits="2"))
    create = await asyncio.wait_for(standin.created.get(), 5)
    assert create.one("To") == "sip:alice@pbx.example.com"
    assert create.one("From") == NUMBER  # not a Client: our own number as caller id
    for _ in range(2):
        await standin.webhook(base + "/status", caller(CallStatus="completed"))
    cancel = await asyncio.wait_for(standin.updated.get(), 5)
    assert cancel.path.endswith(f"/Calls/{create.form['_sid'][0]}.json")
    assert cancel.one("Status") == "canceled"
    [call] = await calls(engine)
    kinds = [e.kind for e in call.events]
    assert kinds.count("abandoned") == 1 and "connected" not in kinds
    assert call.hangup_by == "caller" and call.hangup_cause == "completed"
    assert call.talk_s is None and call.queue_wait_s is not None
    assert engine.acd.router.queue_stats("support", engine.acd.clock()).abandoned == 1


async def test_acd_overflow_takes_the_caller_out_of_the_queue_by_rest_redirect(
    start: Start,
) -> None:
    standin, engine = await start(queue_options={"max_wait_s": 1, "overflow_target": "voicemail"})
    base = engine.public + "/twilio"
    await standin.webhook(base + "/voice", caller())
    reply = await standin.webhook(base + "/gather?step=1", caller(Digits="2"))
    assert tags(reply.text) == ["Enqueue"]
    redirect = await asyncio.wait_for(standin.updated.get(), 5)  # max_wait_s passed
    assert redirect.one("Url") == base + "/queue/done?step=2"
    assert redirect.one("Method") == "POST"
    # the redirect fetches the flow's on_overflow branch; Enqueue's action gets the same
    after = await standin.webhook(redirect.one("Url"), caller(CallStatus="in-progress"))
    assert tags(after.text) == ["Hangup"]
    again = await standin.webhook(base + "/queue/done?step=2", caller(QueueResult="redirected"))
    assert again.text == after.text
    wait = await standin.webhook(base + f"/queue/wait?call={SID}", caller())
    assert tags(wait.text) == ["Leave"]  # a late wait request leaves the queue
    await standin.webhook(base + "/status", caller(CallStatus="completed"))
    [call] = await calls(engine)
    overflow = [e.data for e in call.events if e.kind == "overflow"]
    assert len(overflow) == 1 and call.hangup_by == "engine"


async def test_callback_key_while_waiting_leaves_for_on_callback(
    start: Start, tmp_path: Path
) -> None:
    flow = tmp_path / "callback.yaml"
    flow.write_text(
        "name: callback_test\nlanguage: en-US\nnodes:\n"
        "  q:\n    type: queue\n    queue: support\n    callback_key: '*'\n"
        "    announcements:\n      say: Press star to be called back.\n"
        "    next: bye\n    on_overflow: bye\n    on_callback: cb\n"
        "  cb:\n    type: callback\n    queue: support\n    number: '{caller}'\n    next: ok\n"
        "  ok:\n    type: say\n    text: We will call you back.\n    next: bye\n"
        "  bye:\n    type: hangup\n    reason: done\n"
    )
    standin, engine = await start(numbers={NUMBER: flow}, agents={"1001": "client:bob"})
    base = engine.public + "/twilio"
    reply = await standin.webhook(base + "/voice", caller())
    assert tags(reply.text) == ["Enqueue"]
    wait = ET.fromstring(
        (
            await standin.webhook(
                base + f"/queue/wait?call={SID}", caller(QueueSid="QU" + "3" * 32)
            )
        ).text
    )
    [gather] = wait
    assert gather.tag == "Gather" and gather.get("numDigits") == "1"
    assert [(p.tag, p.text) for p in gather][0] == ("Say", "Press star to be called back.")
    assert [p.tag for p in gather][-1] == "Play"
    other = await standin.webhook(gather.get("action") or "", caller(Digits="5"))
    assert tags(other.text) == []  # not the key: keep waiting
    left = await standin.webhook(gather.get("action") or "", caller(Digits="*"))
    assert tags(left.text) == ["Leave"]
    done = await standin.webhook(base + "/queue/done?step=1", caller(QueueResult="leave"))
    assert [(v.tag, v.text) for v in ET.fromstring(done.text)] == [
        ("Say", "We will call you back."),
        ("Hangup", None),
    ]
    await standin.webhook(base + "/status", caller(CallStatus="completed"))
    [call] = await calls(engine)
    kinds = [e.kind for e in call.events]
    assert "request_callback" in kinds and "abandoned" not in kinds


async def test_voicemail_recording_is_fetched_again_when_the_first_download_fails(
    start: Start, tmp_path: Path
) -> None:
    flow = tmp_path / "vm.yaml"
    flow.write_text(
        "name: vm\nlanguage: en-US\nnodes:\n"
        "  rec:\n    type: voicemail\n    max_s: 30\n    next: bye\n"
        "  bye:\n    type: hangup\n    reason: done\n"
    )
    standin, engine = await start(numbers={NUMBER: flow})
    standin.fail_downloads = 1
    base = engine.public + "/twilio"
    [record] = ET.fromstring((await standin.webhook(base + "/voice", caller())).text)
    assert record.tag == "Record" and record.get("action") == base + "/record?step=1"
    status_url = record.get("recordingStatusCallback") or ""
    done = await standin.webhook(
        base + "/record?step=1",
        caller(RecordingUrl=standin.recording_url("RE" + "4" * 32), RecordingDuration="7"),
    )
    assert tags(done.text) == ["Hangup"]
    await standin.webhook(base + "/status", caller(CallStatus="completed"))
    params = caller(
        RecordingSid="RE" + "4" * 32,
        RecordingStatus="completed",
        RecordingDuration="7",
        RecordingUrl=standin.recording_url("RE" + "4" * 32),
    )
    codes = [(await standin.webhook(status_url, params)).status_code for _ in range(3)]
    assert codes == [503, 204, 204]
    assert len(standin.of("GET", ".wav")) == 2
    [call] = await calls(engine)
    [event] = [e.data for e in call.events if e.kind == "recording"]
    assert event["voicemail"] is True and event["duration_s"] == 7.0
    assert Path(event["path"]).read_bytes() == standin.recording_audio
    assert Path(event["path"]).name == f"{call.id}-voicemail.wav"


async def test_a_call_this_node_does_not_know_hears_why_and_an_ended_one_is_hung_up(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    standin, engine = await start()
    base = engine.public + "/twilio"
    caplog.set_level(logging.WARNING, "callcenter.voice.twilio")
    # Began at another node (the ACD's leader before) or before a restart: told, then ended.
    stranger = caller(CallSid="CA" + "f" * 32, CallStatus="in-progress")
    for url in (f"{base}/gather?step=2", f"{base}/queue/wait?call={stranger['CallSid']}",
                f"{base}/queue/key?step=2", f"{base}/queue/done?step=2"):
        reply = await standin.webhook(url, stranger)
        assert [(v.tag, v.text) for v in ET.fromstring(reply.text)] == [
            ("Say", LOST_CALL), ("Hangup", None)]
    assert sum("does not know" in r.getMessage() for r in caplog.records) == 4
    # A call this node had, over now: no apology.
    await standin.webhook(base + "/voice", caller())
    await standin.webhook(base + "/status", caller(CallStatus="completed"))
    late = await standin.webhook(f"{base}/gather?step=1", caller(CallStatus="in-progress"))
    assert tags(late.text) == ["Hangup"]
