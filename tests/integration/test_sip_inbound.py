"""Real SIP on loopback: SIPp callers and SIPp agents against the engine's pjsua2 stack."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter import acd
from callcenter.config import load_settings
from callcenter.engine import Engine
from callcenter.store import AgentRepository, QueueRepository, open_database, upgrade
from callcenter.store.models import Call
from tests.support.sip import Sipp, free_udp_port

FLOW = Path(__file__).parent / "flows" / "sip_queue.yaml"


@pytest.fixture
async def engine(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Engine]:
    db = open_database(sqlite_url)
    upgrade(db)
    db.dispose()
    settings = load_settings(
        database={"url": sqlite_url},
        http={"port": 0},
        var_dir=tmp_path / "var",
        recordings_dir=tmp_path / "recordings",
        sip={
            "port": free_udp_port(),
            "max_calls": 64,
            "numbers": {"200": str(FLOW)},
            "prompt_cache_dir": str(tmp_path / "prompts"),
            "agent_answer_timeout_s": 5,
        },
    )
    eng = Engine(settings)
    yield eng
    await eng.stop()


async def _add_agent(engine: Engine, code: str, port: int) -> None:
    def write(s):  # type: ignore[no-untyped-def]
        AgentRepository(s).add(code, f"Agent {code}", f"sip:agent{code}@127.0.0.1:{port}")
        QueueRepository(s).add_member("support", code)

    from callcenter.store import Database

    db = Database(engine.settings.database.url)
    with db.session() as s:
        write(s)
    db.dispose()


async def _ready(engine: Engine, code: str) -> None:
    assert engine.acd is not None
    await engine.acd.handle(acd.AgentLoggedIn(code))
    await engine.acd.handle(acd.AgentReady(code))


async def _calls(engine: Engine) -> list[Call]:
    return await engine.db.run(lambda s: list(s.scalars(select(Call))))


async def test_caller_reaches_an_agent_and_the_cdr_is_complete(
    engine: Engine, tmp_path: Path
) -> None:
    agent = Sipp(tmp_path, "agent", "agent_answer.xml", "-m", "1")
    await _add_agent(engine, "1001", agent.port)
    await engine.start()
    await _ready(engine, "1001")
    await agent.start()
    (tmp_path / "caller").mkdir()
    (tmp_path / "caller" / "keys.csv").write_text("SEQUENTIAL\n2;0;+15550100\n")
    caller = Sipp(
        tmp_path,
        "caller",
        "caller_dtmf_info.xml",
        "-s",
        "200",
        "-m",
        "1",
        "-inf",
        str(tmp_path / "caller" / "keys.csv"),
        f"127.0.0.1:{engine.settings.sip.port}",
    )
    await caller.start()
    caller_result = await caller.wait(60)
    agent_result = await agent.wait(10)
    assert caller_result.ok, caller_result.stderr + caller_result.errors
    assert agent_result.ok, agent_result.stderr + agent_result.errors
    for _ in range(50):  # the CDR is finished just after the BYE
        calls = await _calls(engine)
        if calls and calls[0].ended_at is not None:
            break
        await asyncio.sleep(0.1)
    [call] = calls
    kinds = [e.kind for e in call.events]
    assert call.caller == "+15550100" and call.dialed == "200"
    assert call.agent_id is not None and call.queue_id is not None
    assert call.talk_s is not None and 2.0 < call.talk_s < 6.0
    assert call.queue_wait_s is not None and call.queue_wait_s < 3.0
    assert call.hangup_by == "engine"
    for kind in ("ivr", "queued", "offered", "recording", "connected"):
        assert kind in kinds, kinds
    path = [(e.data["node"], e.data["detail"]) for e in call.events if e.kind == "ivr"]
    assert ("menu", "pressed '2'") in path
    assert [n for n, _ in path].index("support") < [n for n, _ in path].index("thanks")
    assert ("support", "queue served") in path
    [rec] = [e.data["path"] for e in call.events if e.kind == "recording"]
    assert Path(rec).stat().st_size > 8000  # seconds of audio from both sides
    assert [leg.role for leg in call.legs] == ["agent"]


async def test_unknown_number_gets_404_before_anything_is_answered(
    engine: Engine, tmp_path: Path
) -> None:
    await engine.start()
    (tmp_path / "keys.csv").write_text("SEQUENTIAL\n2;0;+15550100\n")
    caller = Sipp(
        tmp_path,
        "caller",
        "caller_dtmf_info.xml",
        "-s",
        "999",
        "-m",
        "1",
        "-inf",
        str(tmp_path / "keys.csv"),
        f"127.0.0.1:{engine.settings.sip.port}",
    )
    await caller.start()
    result = await caller.wait(30)
    assert not result.ok and "404" in (result.errors + result.stderr)
    assert await _calls(engine) == []
    assert engine.sip.rejected == 1
