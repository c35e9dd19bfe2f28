"""Dialer calls over Twilio: calls.create with status callbacks and async AMD, the drop message
when no agent is free, the machine flow after the greeting, unanswered attempts on record."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter import ivr
from callcenter.store.models import Call
from tests.support.twilio_standin import TwilioEngine, TwilioStandIn

ROOT = Path(__file__).parents[2]
DROP = ROOT / "ivr_flows" / "telemarketing_drop.yaml"
LEAD = "+15550123"
OURS = "+15550200"


@pytest.fixture
async def twilio(
    tmp_path: Path, sqlite_url: str
) -> AsyncIterator[tuple[TwilioStandIn, TwilioEngine]]:
    standin = TwilioStandIn()
    await standin.start()
    engine = TwilioEngine(tmp_path, sqlite_url, standin, {}, {"1001": "client:alice"})
    await engine.start()
    yield standin, engine
    await engine.stop()
    await standin.stop()


def flows(tmp_path: Path) -> tuple[ivr.Flow, ivr.Flow, ivr.Flow]:
    (tmp_path / "pitch.yaml").write_text(
        "name: pitch\nlanguage: en-US\nnodes:\n"
        "  hello:\n    type: say\n    text: Hello from Example Corp.\n    next: q\n"
        "  q:\n    type: queue\n    queue: support\n    next: bye\n    on_overflow: bye\n"
        "  bye:\n    type: hangup\n    reason: done\n"
    )
    (tmp_path / "machine.yaml").write_text(
        "name: machine\nlanguage: en-US\nnodes:\n"
        "  msg:\n    type: say\n    text: Please call us back.\n    next: bye\n"
        "  bye:\n    type: hangup\n    reason: message left\n"
    )
    queues = {"sales", "support", "billing"}
    return (
        ivr.load_flow(tmp_path / "pitch.yaml", queues),
        ivr.load_flow(DROP, queues),
        ivr.load_flow(tmp_path / "machine.yaml", queues),
    )


def verbs(body: str) -> list[tuple[str, str | None]]:
    return [(v.tag, v.text) for v in ET.fromstring(body)]


async def test_dialer_call_with_amd_drop_message_and_machine_flow(
    twilio: tuple[TwilioStandIn, TwilioEngine], tmp_path: Path
) -> None:
    standin, engine = twilio
    pitch, drop, machine = flows(tmp_path)
    call = await engine.layer.dial(
        LEAD,
        pitch,
        caller_id=OURS,
        queue="support",
        drop_flow=drop,
        machine_flow=machine,
        variables={"company": "Example Corp"},
    )
    [create] = standin.of("POST", "/Calls.json")
    assert create.one("To") == LEAD and create.one("From") == OURS
    assert create.one("MachineDetection") == "DetectMessageEnd"
    assert create.one("AsyncAmd") == "true"
    attempt = call.rec.call_id
    base = engine.public + "/twilio"
    assert create.one("AsyncAmdStatusCallback") == f"{base}/outbound/amd?attempt={attempt}"
    assert create.one("StatusCallback") == f"{base}/outbound/status?attempt={attempt}"
    assert create.form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert create.one("Timeout") == "15"
    sid = create.form["_sid"][0]
    assert call.call_sid == sid

    # answered while no agent is ready: the drop message, not the pitch
    params = {
        "CallSid": sid,
        "AccountSid": standin.account_sid,
        "From": OURS,
        "To": LEAD,
        "CallStatus": "in-progress",
        "Direction": "outbound-api",
    }
    reply = await standin.webhook(create.one("Url"), params)
    got = verbs(reply.text)
    assert got[0][0] == "Say" and "all our agents are busy" in (got[0][1] or "")
    assert got[-1][0] == "Gather"
    assert (await standin.webhook(create.one("Url"), params)).text == reply.text  # retried

    # AMD: a machine, at the end of its greeting: the machine flow replaces the drop flow
    amd = {**params, "AnsweredBy": "machine_end_beep", "MachineDetectionDuration": "4100"}
    for _ in range(2):
        await standin.webhook(create.one("AsyncAmdStatusCallback"), amd)
    redirect = await asyncio.wait_for(standin.updated.get(), 5)
    assert redirect.path.endswith(f"/Calls/{sid}.json")
    assert redirect.one("Url").startswith(base + "/continue?step=")
    assert standin.updated.empty()  # the repeated AMD callback did nothing
    message = await standin.webhook(redirect.one("Url"), params)
    assert verbs(message.text) == [("Say", "Please call us back."), ("Hangup", None)]
    for _ in range(2):
        await standin.webhook(create.one("StatusCallback"), {**params, "CallStatus": "completed"})

    [row] = await engine.db.run(lambda s: list(s.scalars(select(Call))))
    assert row.direction == "outbound" and row.external_id == sid and row.dialed == LEAD
    assert row.answered_at is not None and row.ended_at is not None
    assert row.hangup_by == "engine" and row.hangup_cause == "message left"
    kinds = [e.kind for e in row.events]
    assert kinds.count("drop") == 1 and kinds.count("amd") == 1
    [amd_event] = [e.data for e in row.events if e.kind == "amd"]
    assert amd_event == {"answered_by": "machine_end_beep", "detection_ms": 4100}


async def test_answered_with_a_free_agent_runs_the_flow_and_unanswered_is_recorded(
    twilio: tuple[TwilioStandIn, TwilioEngine], tmp_path: Path
) -> None:
    standin, engine = twilio
    pitch, drop, _ = flows(tmp_path)
    await engine.ready("1001")
    call = await engine.layer.dial(LEAD, pitch, caller_id=OURS, queue="support", drop_flow=drop)
    [create] = standin.of("POST", "/Calls.json")
    params = {
        "CallSid": call.call_sid,
        "AccountSid": standin.account_sid,
        "From": OURS,
        "To": LEAD,
        "CallStatus": "in-progress",
    }
    reply = await standin.webhook(create.one("Url"), params)
    assert [t for t, _ in verbs(reply.text)] == ["Say", "Enqueue"]
    human = await standin.webhook(
        create.one("AsyncAmdStatusCallback"), {**params, "AnsweredBy": "human"}
    )
    assert human.status_code == 200

    unanswered = await engine.layer.dial("+15550999", pitch, caller_id=OURS)
    status_url = standin.of("POST", "/Calls.json")[-1].one("StatusCallback")
    for status in ("initiated", "ringing", "no-answer", "no-answer"):
        await standin.webhook(
            status_url,
            {
                "CallSid": unanswered.call_sid,
                "CallStatus": status,
                "AccountSid": standin.account_sid,
            },
        )
    rows = await engine.db.run(
        lambda s: list(s.scalars(select(Call).where(Call.external_id == unanswered.call_sid)))
    )
    [row] = rows
    assert row.answered_at is None and row.hangup_cause == "no-answer"
    assert row.ended_at is not None and row.events == []
