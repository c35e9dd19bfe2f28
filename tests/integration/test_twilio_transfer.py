"""An agent's blind transfer of a connected Twilio call to a number or a SIP URI, through the
agent desktop's API (POST /api/calls/{id}/transfer), with the whole engine under uvicorn and
Twilio played by the stand-in (REST API and signed webhooks).

An inbound caller reaches agent 1001 through the support queue; the agent transfers them out.
The caller's leg is redirected (REST) to a ``<Dial>`` of the target with the caller ID and an
action URL, the agent's leg is ended and the agent wraps up, and the dial's outcome (the
signed action webhook) is in the CDR. A target that is neither E.164 nor a SIP URI is refused
with 422 and changes nothing. A target that does not answer puts the caller back in line.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter import acd
from callcenter.engine import Engine
from callcenter.store import AgentRepository, QueueRepository, open_database
from callcenter.store.models import Call
from callcenter.voice.twilio.transfers import SORRY
from callcenter.web.app import create_app
from tests.support.twilio_standin import SeenRequest, TwilioStandIn, whole_engine_settings

FLOW = Path(__file__).parent / "flows" / "sip_queue.yaml"  # menu, support queue, thanks, bye
NUMBER = "+12125550200"
CALLER = "+12125550100"
OURS = "+12125550999"
CALL_SID = "CA" + "c" * 32


@pytest.fixture
async def engine(tmp_path: Path, db_url: str, standin: TwilioStandIn) -> AsyncIterator[Engine]:
    """The engine, Twilio only, with agent 1001 (client:alice) in the support queue, ready."""
    settings = whole_engine_settings(
        tmp_path,
        db_url,
        standin,
        numbers={NUMBER: str(FLOW)},
        caller_id=OURS,
        transfer_timeout_s=25,
        record_calls=False,
    )
    db = open_database(db_url)
    with db.session() as s:
        AgentRepository(s).add("1001", "Ann", "client:alice")
        QueueRepository(s).add_member("support", "1001")
    db.dispose()
    eng = Engine(settings)
    await eng.start()
    assert eng.acd is not None
    await eng.acd.handle(acd.AgentLoggedIn("1001"))
    await eng.acd.handle(acd.AgentReady("1001"))
    yield eng
    await eng.stop()


@pytest.fixture
async def api(engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    """The agent desktop's HTTP API."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(engine)), base_url="http://test"
    ) as client:
        yield client


class Connected:
    """A caller talking to agent 1001: what the test needs of both legs."""

    def __init__(self, caller: dict[str, str], enqueue: ET.Element, ring: SeenRequest) -> None:
        self.caller = {**caller, "CallStatus": "in-progress"}
        self.enqueue = enqueue
        self.ring = ring
        self.agent = {"CallSid": ring.form["_sid"][0], "AccountSid": caller["AccountSid"]}


async def connect(
    engine: Engine, standin: TwilioStandIn, caller_number: str, wait_s: float = 0.0
) -> Connected:
    """Call in, press 2 for support, and let agent 1001 answer after ``wait_s``."""
    base = engine.settings.twilio.public_base_url + "/twilio"
    caller = {
        "CallSid": CALL_SID, "AccountSid": standin.account_sid, "From": caller_number,
        "To": NUMBER, "Direction": "inbound", "CallStatus": "ringing",
    }  # fmt: skip
    menu = await standin.webhook(f"{base}/voice", caller)
    gather = ET.fromstring(menu.text).find("Gather")
    assert gather is not None, menu.text
    queued = await standin.webhook(
        gather.attrib["action"], {**caller, "CallStatus": "in-progress", "Digits": "2"}
    )
    enqueue = ET.fromstring(queued.text).find("Enqueue")
    assert enqueue is not None, queued.text
    ring = await asyncio.wait_for(standin.created.get(), 5)
    assert ring.one("To") == "client:alice"
    connected = Connected(caller, enqueue, ring)
    await asyncio.sleep(wait_s)
    bridge = await standin.webhook(
        ring.one("Url"), {**connected.agent, "CallStatus": "in-progress"}
    )
    assert ET.fromstring(bridge.text).findtext("Dial/Queue") == CALL_SID, bridge.text
    return connected


def step_of(url: str) -> int:
    return int(parse_qs(urlsplit(url).query)["step"][0])


async def redirected(standin: TwilioStandIn, agent: dict[str, str]) -> SeenRequest:
    """The REST requests of a transfer: the caller's redirect, then the agent's leg ended."""
    redirect = await asyncio.wait_for(standin.updated.get(), 5)
    assert redirect.path.endswith(f"/Calls/{CALL_SID}.json"), redirect.path
    assert "/twilio/continue?step=" in redirect.one("Url")
    ended = await asyncio.wait_for(standin.updated.get(), 5)
    assert ended.path.endswith(f"/Calls/{agent['CallSid']}.json")
    assert ended.one("Status") == "completed"
    return redirect


async def the_call(engine: Engine) -> Call:
    def read(s: Session) -> Call | None:
        call = s.scalar(select(Call).where(Call.external_id == CALL_SID))
        if call is not None:
            _ = call.events, call.legs  # loaded inside the session
        return call

    for _ in range(100):
        call = await engine.db.run(read)
        if call is not None and call.ended_at is not None:
            return call
        await asyncio.sleep(0.05)
    raise AssertionError("the call's CDR was not closed")


async def test_transfer_to_a_number_dials_it_frees_the_agent_and_records_the_outcome(
    engine: Engine, standin: TwilioStandIn, api: httpx.AsyncClient
) -> None:
    assert engine.twilio is not None and engine.acd is not None
    router = engine.acd.router
    talk = await connect(engine, standin, CALLER)
    call_id = engine.twilio.calls[CALL_SID].rec.call_id
    assert router.agent_state("1001") == "busy" and router.task_status(call_id) == "connected"

    # Bad targets: 422 saying what was wrong and what to send; the call stays connected.
    for bad, says in [
        ("5551234567", "E.164 form, starting with + and the country code"),
        ("+1555", "unknown country code or wrong length"),
        ("sip:desk@", "sip:user@host"),
        ("client:bob", "send an E.164 number (+15551234567"),
    ]:
        refused = await api.post(f"/api/calls/{call_id}/transfer", json={"to": bad})
        assert refused.status_code == 422, refused.text
        assert says in refused.json()["detail"] and repr(bad) in refused.json()["detail"]
    assert standin.updated.empty() and standin.created.empty()
    assert router.agent_state("1001") == "busy" and router.task_status(call_id) == "connected"
    assert engine.twilio.calls[CALL_SID].queue_state == "bridging"
    unknown = await api.post("/api/calls/nope/transfer", json={"to": "+15551234567"})
    assert unknown.status_code == 404 and "not a live Twilio call" in unknown.text

    moved = await api.post(f"/api/calls/{call_id}/transfer", json={"to": "tel:+1-555-123-4567"})
    assert moved.status_code == 202, moved.text
    again = await api.post(f"/api/calls/{call_id}/transfer", json={"to": "+15551234567"})
    assert again.status_code == 404 and "not connected" in again.text

    # The caller's leg is redirected to a <Dial> of the number; the agent's leg is ended,
    # and the ACD's task ended as after any conversation: the agent wraps up.
    redirect = await redirected(standin, talk.agent)
    assert router.task_status(call_id) is None
    assert router.agent_state("1001") == "wrap_up"
    reply = await standin.webhook(redirect.one("Url"), talk.caller)
    [dial] = ET.fromstring(reply.text)
    assert dial.tag == "Dial", reply.text
    assert [(n.tag, n.text) for n in dial] == [("Number", "+15551234567")]
    assert dial.get("callerId") == CALLER  # the caller's own number, as over SIP
    assert dial.get("timeout") == "25"
    action = dial.get("action") or ""
    assert action.startswith(engine.twilio.urls.base + "/transfer/out?step=")
    assert step_of(action) == step_of(redirect.one("Url")) + 1
    # Twilio may still post the old <Enqueue>'s action: the same reply, nothing changes.
    late = {**talk.caller, "QueueResult": "redirected-from-bridged"}
    assert (await standin.webhook(talk.enqueue.attrib["action"], late)).text == reply.text
    await standin.webhook(
        talk.ring.one("StatusCallback"), {**talk.agent, "CallStatus": "completed"}
    )
    await engine.acd.handle(acd.WrapUpEnded("1001"))
    assert router.agent_state("1001") == "available"  # free for the next caller

    # The target answers, talks, hangs up: the flow goes on from its queue node (served).
    outcome = {
        **talk.caller, "DialCallStatus": "completed", "DialCallSid": "CA" + "d" * 32,
        "DialCallDuration": "42",
    }  # fmt: skip
    done = await standin.webhook(action, outcome)
    assert [(v.tag, v.text) for v in ET.fromstring(done.text)] == [
        ("Say", "Thank you for calling."),
        ("Hangup", None),
    ]
    assert (await standin.webhook(action, outcome)).text == done.text  # a retry: once
    await standin.webhook(
        f"{engine.twilio.urls.base}/status", {**talk.caller, "CallStatus": "completed"}
    )
    assert standin.created.empty()  # the engine placed no call of its own to the target

    call = await the_call(engine)
    assert call.agent_id == engine.directory.agent_id("1001")
    assert call.hangup_cause == "flow finished"
    kinds = [e.kind for e in call.events]
    assert kinds.count("transferred") == kinds.count("transfer_result") == 1
    assert kinds.index("connected") < kinds.index("transferred") < kinds.index("transfer_result")
    [transferred] = [e.data for e in call.events if e.kind == "transferred"]
    assert transferred == {"to": "+15551234567", "by": "1001"}
    [result] = [e.data for e in call.events if e.kind == "transfer_result"]
    assert result == {"to": "+15551234567", "outcome": "answered", "status": "completed"}
    path = [(e.data["node"], e.data["detail"]) for e in call.events if e.kind == "ivr"]
    assert ("support", "queue served") in path
    legs = {leg.role: leg for leg in call.legs}
    assert set(legs) == {"agent", "transfer"}
    assert legs["agent"].remote == "client:alice"
    assert legs["agent"].external_id == talk.agent["CallSid"]
    target = legs["transfer"]
    assert (target.remote, target.external_id) == ("+15551234567", "CA" + "d" * 32)
    assert target.hangup_cause == "answered" and target.answered_at is not None
    assert target.ended_at is not None
    assert abs((target.ended_at - target.answered_at).total_seconds() - 42) < 1
    assert router.agent_stats("1001", engine.acd.clock()).tasks == 1


async def test_transfer_to_a_sip_uri_that_does_not_answer_puts_the_caller_back_in_line(
    engine: Engine, standin: TwilioStandIn, api: httpx.AsyncClient
) -> None:
    """The caller withheld their number: the target sees the configured caller ID. The SIP
    URI is busy: an apology and the support queue again, where the agent (after wrap-up)
    is offered the caller once more; then the caller gives up: an abandon."""
    assert engine.twilio is not None and engine.acd is not None
    router = engine.acd.router
    talk = await connect(engine, standin, "anonymous", wait_s=0.6)
    call_id = engine.twilio.calls[CALL_SID].rec.call_id
    await asyncio.sleep(1.0)  # they talk

    target = "sips:desk@pbx.example.com;transport=tls"
    moved = await api.post(f"/api/calls/{call_id}/transfer", json={"to": target})
    assert moved.status_code == 202, moved.text
    redirect = await redirected(standin, talk.agent)
    assert router.agent_state("1001") == "wrap_up"
    reply = await standin.webhook(redirect.one("Url"), talk.caller)
    [dial] = ET.fromstring(reply.text)
    assert [(n.tag, n.text) for n in dial] == [("Sip", target)]
    assert dial.get("callerId") == OURS

    busy = {**talk.caller, "DialCallStatus": "busy", "DialCallSid": "CA" + "e" * 32}
    back = await standin.webhook(dial.get("action") or "", busy)
    say, enqueue = ET.fromstring(back.text)
    assert (say.tag, say.text) == ("Say", SORRY)
    assert (enqueue.tag, enqueue.text) == ("Enqueue", CALL_SID)
    assert step_of(enqueue.attrib["action"]) == step_of(dial.get("action") or "") + 1
    assert router.task_status(call_id) == "waiting"
    # Back in their place: the 0.6 s they waited before count, the talk and the ring do not.
    waited = router.queue_stats("support", engine.acd.clock()).longest_wait_s
    assert 0.6 <= waited < 1.4, waited
    await engine.acd.handle(acd.WrapUpEnded("1001"))
    ring = await asyncio.wait_for(standin.created.get(), 5)  # offered to the agent again
    assert ring.one("To") == "client:alice"
    again = {"CallSid": ring.form["_sid"][0], "AccountSid": standin.account_sid}
    await standin.webhook(ring.one("StatusCallback"), {**again, "CallStatus": "no-answer"})

    gone = {**talk.caller, "CallStatus": "completed"}
    await standin.webhook(f"{engine.twilio.urls.base}/status", gone)
    call = await the_call(engine)
    kinds = [e.kind for e in call.events]
    assert [e.data["queue"] for e in call.events if e.kind == "queued"] == ["support", "support"]
    [result] = [e.data for e in call.events if e.kind == "transfer_result"]
    assert result == {"to": target, "outcome": "busy", "status": "busy"}
    assert kinds.index("transfer_result") < kinds.index("abandoned")
    [leg] = [leg for leg in call.legs if leg.role == "transfer"]
    assert (leg.remote, leg.hangup_cause, leg.answered_at) == (target, "busy", None)
    assert router.task_status(call_id) is None
    assert router.queue_stats("support", engine.acd.clock()).abandoned == 1


async def test_a_caller_who_hangs_up_during_the_transfer_is_only_recorded(
    engine: Engine, standin: TwilioStandIn, api: httpx.AsyncClient
) -> None:
    assert engine.twilio is not None and engine.acd is not None
    talk = await connect(engine, standin, CALLER)
    call_id = engine.twilio.calls[CALL_SID].rec.call_id
    moved = await api.post(f"/api/calls/{call_id}/transfer", json={"to": "sip:desk@10.0.0.2"})
    assert moved.status_code == 202, moved.text
    redirect = await redirected(standin, talk.agent)
    [dial] = ET.fromstring((await standin.webhook(redirect.one("Url"), talk.caller)).text)
    gone: dict[str, Any] = {**talk.caller, "CallStatus": "completed"}
    reply = await standin.webhook(dial.get("action") or "", {**gone, "DialCallStatus": "canceled"})
    assert list(ET.fromstring(reply.text)) == []
    await standin.webhook(f"{engine.twilio.urls.base}/status", gone)
    call = await the_call(engine)
    kinds = [e.kind for e in call.events]
    assert "abandoned" not in kinds and kinds.count("queued") == 1
    [result] = [e.data for e in call.events if e.kind == "transfer_result"]
    assert result["outcome"] == "canceled"
    assert engine.acd.router.task_status(call_id) is None
