"""On-demand agents behind a real registrar: baresip softphones register with Kamailio, and the
agent's ``sip_uri`` is their address of record there, not a static contact."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.engine import Engine
from callcenter.store import AgentRepository, Database, QueueRepository
from callcenter.store.models import AgentStateChange
from tests.support.audio import tone, write_wav
from tests.support.kamailio import Kamailio, registering_phone
from tests.support.sip_engine import finished_call, make_caller, ready


@pytest.fixture
async def registrar(tmp_path: Path) -> AsyncIterator[Kamailio]:
    kamailio = Kamailio(tmp_path)
    await kamailio.start()
    try:
        yield kamailio
    finally:
        await kamailio.stop()
        print(f"--- kamailio log ---\n{kamailio.log()}")  # pytest shows it when a test fails


def add_agent(engine: Engine, code: str, sip_uri: str) -> None:
    db = Database(engine.settings.database.url)
    with db.session() as s:
        AgentRepository(s).add(code, f"Agent {code}", sip_uri, {"en-US": 5})
        QueueRepository(s).add_member("support", code)
    db.dispose()


async def state_becomes(engine: Engine, agent: str, state: str, within: float) -> float:
    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() - start < within:
        if engine.acd is not None and engine.acd.router.agent_state(agent) == state:
            return loop.time() - start
        await asyncio.sleep(0.1)
    raise AssertionError(f"agent {agent} did not become {state} within {within} s")


async def until(condition: Callable[[], bool], within: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.1)


async def test_registered_softphone_takes_the_queued_call(
    engine: Engine, registrar: Kamailio, tmp_path: Path
) -> None:
    phone = registering_phone(tmp_path, registrar, "1001")
    add_agent(engine, "1001", registrar.uri("1001"))
    await phone.start()
    try:
        await registrar.wait_for_status("1001", 200)  # registered: OPTIONS reach the phone
        await engine.start()
        await ready(engine, "1001")
        caller = make_caller(tmp_path, engine, "caller_key_then_bye.xml")
        await caller.start()
        result = await caller.wait(60)
        assert result.ok, result.stderr + result.errors
        call = await finished_call(engine)
        await asyncio.sleep(0.5)  # baresip closes its WAV dumps after the BYE
    finally:
        await phone.stop()
    # The engine rang the address of record; Kamailio found the phone's contact and relayed.
    assert "INVITE relayed to sip:1001-" in registrar.log()
    assert f"@127.0.0.1:{phone.port}" in registrar.log()
    kinds = [e.kind for e in call.events]
    assert "connected" in kinds and "abandoned" not in kinds
    assert call.agent_id == engine.directory.agents["1001"].id
    assert call.talk_s is not None and call.talk_s > 1.0
    assert call.hangup_by == "caller"
    assert phone.heard_rms() > 300, list(phone.snd.iterdir())  # the caller's tone reached it


@pytest.mark.parametrize("lapse", ["unregistered", "phone crashed"])
async def test_lapsed_registration_takes_the_agent_out_of_the_queue(
    engine: Engine, registrar: Kamailio, tmp_path: Path, lapse: str
) -> None:
    engine.settings.sip.presence_interval_s = 0.5  # the fixture turns presence off
    phone = registering_phone(tmp_path, registrar, "1001")
    add_agent(engine, "1001", registrar.uri("1001"))
    await phone.start()
    try:
        await registrar.wait_for_status("1001", 200)
        await engine.start()
        await ready(engine, "1001")
        # The engine's pings go through Kamailio to the phone, which answers: still available.
        await until(
            lambda: registrar.log().count("OPTIONS relayed to sip:1001-") >= 4,
            within=10,
            what="presence pings relayed to the registered phone",
        )
        assert engine.acd is not None and engine.acd.router.agent_state("1001") == "available"

        assert phone.proc is not None
        if lapse == "unregistered":
            await phone.stop()  # baresip unregisters on SIGTERM (REGISTER, Expires: 0)
            assert await registrar.options("1001") == 404
            expected: tuple[str, ...] = ("(last: 404 Not Found)",)
        else:
            phone.proc.kill()  # no goodbye: the registration stays, nothing answers behind it
            await phone.proc.wait()
            assert await registrar.options("1001") == 408  # relayed, and nothing answered
            # Kamailio's 408 or the engine's own ping time-out, whichever comes first.
            expected = ("(last: 408 Request Timeout)", "(last: no answer)")
        took = await state_becomes(engine, "1001", "paused", within=15)
        assert took < 8
    finally:
        await phone.stop()

    def history(s: Session) -> list[tuple[str, str]]:
        agent_id = engine.directory.agents["1001"].id
        rows = s.scalars(select(AgentStateChange).where(AgentStateChange.agent_id == agent_id))
        return [(r.state, r.reason) for r in rows]

    states: list[tuple[str, str]] = []

    async def recorded_pause() -> bool:  # the history row is written just after the change
        states[:] = await engine.db.run(history)
        return any(state == "paused" for state, _ in states)

    for _ in range(50):
        if await recorded_pause():
            break
        await asyncio.sleep(0.1)
    paused = [reason for state, reason in states if state == "paused"]
    assert len(paused) == 1, states
    assert "softphone unreachable: 2 OPTIONS pings failed" in paused[0]
    assert any(why in paused[0] for why in expected), paused[0]

    # The phone registers again: the next answered ping makes the agent ready.
    again = registering_phone(tmp_path, registrar, "1001", name="phone-1001-again")
    await again.start()
    try:
        await state_becomes(engine, "1001", "available", within=10)
    finally:
        await again.stop()


async def test_registered_agent_who_does_not_answer_is_skipped_for_the_next(
    engine: Engine, registrar: Kamailio, tmp_path: Path
) -> None:
    db = Database(engine.settings.database.url)
    with db.session() as s:
        QueueRepository(s).get("support").no_answer_timeout_s = 2  # the ACD's ring time
    db.dispose()
    ringing = registering_phone(tmp_path, registrar, "1001", answer="manual")
    answering = registering_phone(tmp_path, registrar, "1002")
    write_wav(answering.dir / "tone.wav", tone(3, 600))  # it hangs up at the end of its file
    add_agent(engine, "1001", registrar.uri("1001"))
    add_agent(engine, "1002", registrar.uri("1002"))
    await ringing.start()
    await answering.start()
    try:
        await registrar.wait_for_status("1001", 200)
        await registrar.wait_for_status("1002", 200)
        await engine.start()
        await ready(engine, "1001")  # longest idle: offered first
        await asyncio.sleep(0.05)
        await ready(engine, "1002")
        caller = make_caller(tmp_path, engine)  # waits for the engine's BYE after the agent's
        await caller.start()
        result = await caller.wait(60)
        assert result.ok, result.stderr + result.errors
        call = await finished_call(engine)
    finally:
        await ringing.stop()
        await answering.stop()
    assert [e.data["agent"] for e in call.events if e.kind == "offered"] == ["1001", "1002"]
    assert call.agent_id == engine.directory.agents["1002"].id
    assert call.talk_s is not None and call.talk_s > 1.5
    offered = [e.at for e in call.events if e.kind == "offered"]
    assert (offered[1] - offered[0]).total_seconds() < 5  # the ring time, not a stuck offer
    # The ringing phone was rung through Kamailio and the engine's CANCEL was relayed to it.
    log = registrar.log()
    assert "INVITE relayed to sip:1001-" in log and "reply 487 Request Terminated" in log
