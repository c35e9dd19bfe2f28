"""Answering-machine detection on live SIP audio: the dialer's SIP port calls SIPp "people"
who say "Hello?" and SIPp "machines" that play a long greeting (espeak-ng speech as G.711 RTP).
A person hears the campaign's flow; a machine is hung up on and recorded as one."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import numpy as np
from sqlalchemy import select

from callcenter.engine import Engine
from callcenter.store.models import Call
from callcenter.voice.sip.outbound import SipOutboundPort
from dialer.ports import Answered, CallProgress, DialRequest, Result
from tests.support.audio import speech, write_ulaw
from tests.support.sip import Sipp

FLOW = Path(__file__).parent / "flows" / "amd_message.yaml"
PERSON, MACHINE = "+12125550101", "+12125550103"
GREETING = (
    "Hi, you have reached the Smith family. We cannot take your call right now. "
    "Please leave your name and number after the tone and we will call you back."
)


def request(number: str, amd: bool = True) -> DialRequest:
    return DialRequest(
        attempt_key=f"amd:{number}",
        campaign="amd",
        kind="survey",
        number=number,
        caller_id="+12125550999",
        lead_fields={},
        ring_timeout_s=15,
        flow=str(FLOW),
        amd=amd,
    )


async def test_people_and_machines_told_apart_on_live_audio(engine: Engine, tmp_path: Path) -> None:
    assert shutil.which("espeak-ng"), "espeak-ng is needed: apt-get install espeak-ng"
    callees = Sipp(tmp_path, "callees", "callee_amd.xml", "-m", "2")
    hello = speech("Hello?", tmp_path)
    write_ulaw(callees.dir / "person.ulaw", np.concatenate([np.zeros(4000, np.int16), hello]))
    write_ulaw(callees.dir / "machine.ulaw", speech(GREETING, tmp_path))
    engine.settings.sip.outbound_gateway = f"127.0.0.1:{callees.port}"
    await callees.start()
    await engine.start()
    assert engine.sip is not None
    port = SipOutboundPort(engine.sip)
    seen: dict[str, list[CallProgress]] = {PERSON: [], MACHINE: []}

    def sink(number: str):  # type: ignore[no-untyped-def]
        async def report(event: CallProgress) -> None:
            seen[number].append(event)

        return report

    person, machine = await asyncio.gather(
        port.place(request(PERSON), sink(PERSON)), port.place(request(MACHINE), sink(MACHINE))
    )
    result = await callees.wait(30)
    assert result.ok, result.stderr + result.errors

    def amd_events(s):  # type: ignore[no-untyped-def]
        calls = {c.dialed: c for c in s.scalars(select(Call))}
        return {n: [e.data for e in calls[n].events if e.kind == "amd"] for n in calls}

    events = await engine.db.run(amd_events)
    assert person.result is Result.HUMAN and machine.result is Result.MACHINE, events
    assert machine.talk_s is not None and machine.talk_s < 4.0  # hung up on at the verdict
    assert Answered(human=True) in seen[PERSON] and Answered(human=False) in seen[MACHINE]

    (p,), (m,) = events[PERSON], events[MACHINE]
    assert p["verdict"] == "HUMAN" and p["reason"].startswith("HUMAN")
    assert m["verdict"] == "MACHINE"
    # A person is judged within about 2 s of speaking (a 500 ms pause, "Hello?", 800 ms quiet).
    assert p["decision_ms"] < 3000, p
    assert m["decision_ms"] < 3000, m  # a long greeting: decided at 1.5 s of speech

    def kinds(s):  # type: ignore[no-untyped-def]
        return {
            c.dialed: ([e.kind for e in c.events], c.hangup_cause) for c in s.scalars(select(Call))
        }

    done = await engine.db.run(kinds)
    assert done[PERSON] == (["amd", "ivr", "ivr"], "message played")  # the person hears the flow
    assert done[MACHINE][0] == ["amd"]  # a machine is not played it
    leftovers = list((tmp_path / "recordings").rglob("*-amd.wav"))
    assert leftovers == []  # the scratch audio is removed


async def test_without_amd_every_answer_counts_as_a_person(engine: Engine, tmp_path: Path) -> None:
    callees = Sipp(tmp_path, "callees", "callee_amd.xml", "-m", "1")
    write_ulaw(callees.dir / "machine.ulaw", np.zeros(8000, np.int16))
    write_ulaw(callees.dir / "person.ulaw", np.zeros(8000, np.int16))
    engine.settings.sip.outbound_gateway = f"127.0.0.1:{callees.port}"
    await callees.start()
    await engine.start()
    assert engine.sip is not None
    got: list[CallProgress] = []

    async def report(event: CallProgress) -> None:
        got.append(event)

    outcome = await SipOutboundPort(engine.sip).place(request(MACHINE, amd=False), report)
    assert (await callees.wait(30)).ok
    assert outcome.result is Result.HUMAN and Answered(human=True) in got
