"""Fair virtual hold over Twilio, against the stand-in of Twilio's REST API and signed
webhooks: the caller presses the call-back key and hangs up; when the place's turn comes the
agent is rung, and the agent's answered leg dials the customer showing the number they had
phoned; the dial's outcome settles the place on the record (done, tried again, given up)."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import select

from callcenter.calls import kept_places
from callcenter.store.models import Call
from callcenter.store.queue_callbacks import QueueCallbackRow
from tests.support.twilio_standin import (
    SeenRequest,
    TwilioEngine,
    TwilioStandIn,
    running_engine,
)

NUMBER = "+15550200"  # the number the customer phoned
CUSTOMER = "+15550100"
SID = "CA" + "d" * 32
AGENTS = {"1001": "sip:alice@pbx.example.com"}
T = TypeVar("T")

FLOW = (
    "name: callback_test\nlanguage: en-US\nnodes:\n"
    "  q:\n    type: queue\n    queue: support\n    callback_key: '*'\n"
    "    next: bye\n    on_overflow: bye\n    on_callback: cb\n"
    "  cb:\n    type: callback\n    queue: support\n    number: '{caller}'\n    next: ok\n"
    "  ok:\n    type: say\n    text: We will call you back.\n    next: bye\n"
    "  bye:\n    type: hangup\n    reason: done\n"
)


@pytest.fixture
async def twilio(tmp_path: Path, sqlite_url: str) -> AsyncIterator[tuple[TwilioStandIn,
                                                                        TwilioEngine]]:
    flow = tmp_path / "callback.yaml"
    flow.write_text(FLOW)
    async with running_engine(tmp_path, sqlite_url, {NUMBER: flow}, agents=AGENTS,
                              queue_options={"wrapup_s": 0}) as both:
        yield both


def caller(**more: str) -> dict[str, str]:
    return {"CallSid": SID, "AccountSid": "AC" + "0" * 32, "From": CUSTOMER, "To": NUMBER,
            "CallStatus": "in-progress", "Direction": "inbound", **more}


def leg(sid: str, **more: str) -> dict[str, str]:
    """A webhook about a leg the engine created (the agent's)."""
    return {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": NUMBER,
            "To": "sip:alice@pbx.example.com", "Direction": "outbound-api", **more}


async def until(check: Callable[[], Awaitable[T | None]], what: str,
                timeout: float = 10.0) -> T:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        got = await check()
        if got:
            return got
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        await asyncio.sleep(0.05)


async def press_the_key_and_hang_up(standin: TwilioStandIn, engine: TwilioEngine) -> str:
    """The customer waits, presses *, hears the promise and hangs up; the kept task's id."""
    base = engine.public + "/twilio"
    await standin.webhook(base + "/voice", caller(CallStatus="ringing"))
    await standin.webhook(base + "/queue/key?step=1", caller(Digits="*"))
    done = await standin.webhook(base + "/queue/done?step=1", caller(QueueResult="leave"))
    assert [v.tag for v in ET.fromstring(done.text)] == ["Say", "Hangup"]
    await standin.webhook(base + "/status", caller(CallStatus="completed"))
    [call] = await records(engine)
    assert [e.kind for e in call.events if e.kind.startswith("callback")] == ["callback_kept"]
    return call.id


async def records(engine: TwilioEngine) -> list[Call]:
    return await engine.db.run(lambda s: list(s.scalars(select(Call).order_by(Call.started_at))))


async def place(engine: TwilioEngine, task_id: str) -> tuple[str, int, str, str]:
    def read(s):  # type: ignore[no-untyped-def]
        row = s.get(QueueCallbackRow, task_id)
        return row.status, row.calls, row.voice_layer, row.last_cause

    return await engine.db.run(read)  # type: ignore[no-any-return]


async def agent_answers(standin: TwilioStandIn, engine: TwilioEngine) -> tuple[SeenRequest,
                                                                              ET.Element]:
    """The stand-in sees the agent rung; the agent answers: the TwiML of its leg."""
    create = await asyncio.wait_for(standin.created.get(), 10)
    assert create.one("To") == "sip:alice@pbx.example.com"
    assert create.one("From") == NUMBER  # a phone, not a Client: the number shown
    reply = await standin.webhook(create.one("Url"), leg(create.one("_sid")))
    return create, ET.fromstring(reply.text)


async def test_the_agent_dials_the_customer_showing_the_number_they_phoned(
    twilio: tuple[TwilioStandIn, TwilioEngine],
) -> None:
    standin, engine = twilio
    task = await press_the_key_and_hang_up(standin, engine)
    assert engine.acd.router.task_status(task) == "waiting"  # the place is kept
    assert await place(engine, task) == ("waiting", 0, "twilio", "")
    await engine.ready("1001")  # the place's turn
    create, answer = await agent_answers(standin, engine)
    assert create.one("Url") == engine.public + f"/twilio/callback/answer?task={task}"
    say, dial = list(answer)
    assert (say.tag, say.text) == ("Say", "Call back 1 5 5 5 0 1 0 0.")
    assert dial.tag == "Dial" and dial.get("callerId") == NUMBER
    assert dial.get("action") == engine.public + f"/twilio/callback/dialed?task={task}&attempt=1"
    [number] = list(dial)
    assert (number.tag, number.text) == ("Number", CUSTOMER)
    assert number.get("statusCallbackEvent") == "answered"
    assert await place(engine, task) == ("calling", 1, "twilio", "")
    assert engine.acd.router.agent_state("1001") == "busy"
    # the customer answers, talks, and hangs up; the agent's leg is hung up after the dial
    await standin.webhook(number.get("statusCallback") or "",
                          leg("CA" + "c" * 32, CallStatus="in-progress", To=CUSTOMER))
    ended = await standin.webhook(dial.get("action") or "", leg(
        create.one("_sid"), CallStatus="in-progress", DialCallStatus="completed",
        DialCallSid="CA" + "c" * 32, DialCallDuration="42"))
    assert [v.tag for v in ET.fromstring(ended.text)] == ["Hangup"]
    await standin.webhook(create.one("StatusCallback"),
                          leg(create.one("_sid"), CallStatus="completed"))

    async def done() -> Call | None:
        back = [c for c in await records(engine) if c.direction == "outbound" and c.ended_at]
        return back[0] if back else None

    back = await until(done, "the call-back's record")
    assert (back.dialed, back.caller, back.voice_layer) == (CUSTOMER, NUMBER, "twilio")
    kinds = [e.kind for e in back.events]
    assert kinds.index("offered") < kinds.index("connected")
    assert "callback_unanswered" not in kinds
    assert {(g.role, g.external_id) for g in back.legs} == {
        ("agent", create.one("_sid")), ("callee", "CA" + "c" * 32)}
    assert await place(engine, task) == ("done", 1, "twilio", "served")
    assert engine.acd.router.task_status(task) is None  # done, not queued again
    assert engine.acd.router.agent_state("1001") in ("available", "wrap_up")


async def test_a_customer_who_does_not_answer_is_tried_again_then_given_up(
    twilio: tuple[TwilioStandIn, TwilioEngine], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kept_places, "RETRY_S", 0.3)
    monkeypatch.setattr(kept_places, "ATTEMPTS", 2)
    standin, engine = twilio
    task = await press_the_key_and_hang_up(standin, engine)
    await engine.ready("1001")
    for call, status in ((1, "no-answer"), (2, "busy")):
        create, answer = await agent_answers(standin, engine)
        dial = answer.find("Dial")
        assert dial is not None and dial.get("action", "").endswith(f"&attempt={call}")
        await standin.webhook(dial.get("action") or "", leg(
            create.one("_sid"), CallStatus="in-progress", DialCallStatus=status))
        await standin.webhook(create.one("StatusCallback"),
                              leg(create.one("_sid"), CallStatus="completed"))
        if call == 1:  # kept: waiting again, in the same place, for the next call
            assert await place(engine, task) == ("waiting", 1, "twilio", "no-answer")
            assert engine.acd.router.task_status(task) is None  # until RETRY_S passed

    async def given_up() -> Call | None:
        for c in await records(engine):
            if any(e.kind == "callback_given_up" for e in c.events):
                return c
        return None

    back = await until(given_up, "the call-back given up")
    unanswered = [e.data for e in back.events if e.kind == "callback_unanswered"]
    assert [(e["call"], e["cause"]) for e in unanswered] == [(1, "no-answer"), (2, "busy")]
    assert "connected" not in [e.kind for e in back.events]
    assert await place(engine, task) == ("given_up", 2, "twilio", "busy")
    assert engine.acd.router.task_status(task) is None
    assert standin.created.empty()  # no third call


async def test_an_agent_who_does_not_answer_leaves_the_place_to_the_next_offer(
    twilio: tuple[TwilioStandIn, TwilioEngine],
) -> None:
    standin, engine = twilio
    task = await press_the_key_and_hang_up(standin, engine)
    await engine.ready("1001")
    missed = await asyncio.wait_for(standin.created.get(), 10)
    await standin.webhook(missed.one("StatusCallback"),
                          leg(missed.one("_sid"), CallStatus="no-answer"))
    assert await place(engine, task) == ("waiting", 0, "twilio", "")  # nobody called
    await engine.ready("1001")  # back from the missed offer
    create, answer = await agent_answers(standin, engine)
    assert create.one("_sid") != missed.one("_sid") and answer.find("Dial") is not None
    assert await place(engine, task) == ("calling", 1, "twilio", "")


async def test_a_kept_place_outlives_a_restart_of_the_engine(
    tmp_path: Path, sqlite_url: str,
) -> None:
    """The engine stops while the place waits; started again, its Twilio layer puts the
    place back in line (from the record) and the agent calls the customer back."""
    flow = tmp_path / "callback.yaml"
    flow.write_text(FLOW)
    standin = TwilioStandIn()
    await standin.start()
    try:
        async with running_engine(tmp_path, sqlite_url, {NUMBER: flow}, standin,
                                  agents=AGENTS) as (_, engine):
            task = await press_the_key_and_hang_up(standin, engine)
        # the same database, its agents on the record
        async with running_engine(tmp_path, sqlite_url, {NUMBER: flow}, standin) as (_, again):
            assert again.acd.router.task_status(task) == "waiting"  # back in line
            await again.ready("1001")
            _, answer = await agent_answers(standin, again)
            dial = answer.find("Dial")
            assert dial is not None and dial.get("callerId") == NUMBER
            assert await place(again, task) == ("calling", 1, "twilio", "")
    finally:
        await standin.stop()
