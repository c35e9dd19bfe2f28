"""A running engine for SIP tests, and helpers to populate it and read its call records."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx
from sqlalchemy import select

from callcenter import acd
from callcenter.config import load_settings
from callcenter.engine import Engine
from callcenter.store import AgentRepository, Database, QueueRepository, open_database, upgrade
from callcenter.store.models import Call
from tests.support.brokers import free_port as free_tcp_port
from tests.support.sip import AGENT_HZ, Sipp, free_udp_port

FLOW = Path(__file__).parents[1] / "integration" / "flows" / "sip_queue.yaml"
T = TypeVar("T")


async def until(check: Callable[[], Awaitable[T | None]], what: str, timeout: float = 20) -> T:
    """What ``check`` returns once it is true; fails after ``timeout`` seconds saying ``what``
    it waited for and the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        got = await check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: last saw {got!r}")
        await asyncio.sleep(0.1)


async def engine_fixture(tmp_path: Path, sqlite_url: str,
                         **sip: object) -> AsyncIterator[Engine]:
    """An engine (not started) on ``sqlite_url``; ``sip`` adds or replaces SIP settings."""
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
            "numbers": {"200": str(FLOW), "201": str(FLOW.with_name("sip_resolution.yaml"))},
            "prompt_cache_dir": str(tmp_path / "prompts"),
            # SIPp agent scenarios do not answer OPTIONS: presence has its own test.
            "presence_interval_s": 0,
            **sip,
        },
        backoffice={"smtp_port": free_tcp_port()},
    )
    eng = Engine(settings)
    yield eng
    await eng.stop()


async def add_agent(engine: Engine, code: str, port: int, queue: str = "support",
                    transport: str = "udp") -> None:
    uri = f"sip:agent{code}@127.0.0.1:{port}" + (f";transport={transport}"
                                                  if transport != "udp" else "")

    def write(s):  # type: ignore[no-untyped-def]
        AgentRepository(s).add(code, f"Agent {code}", uri)
        QueueRepository(s).add_member(queue, code)

    db = Database(engine.settings.database.url)
    with db.session() as s:
        write(s)
    db.dispose()


async def two_agents(
    engine: Engine,
    tmp_path: Path,
    first_talk_ms: int,
    second_talk_ms: int,
    second_hz: float = AGENT_HZ,
) -> tuple[Sipp, Sipp]:
    """Agent 1001 (queue support) and agent 1002 (queue billing) ready on SIPp phones that
    answer and hang up after talking ``first_talk_ms`` / ``second_talk_ms``, the second
    streaming a ``second_hz`` tone; the engine started. Returns the two phones."""
    first = Sipp(tmp_path, "first", "agent_answer.xml", "-m", "1", "-d", str(first_talk_ms))
    second = Sipp(tmp_path, "second", "agent_answer.xml", "-m", "1", "-d", str(second_talk_ms),
                  agent_hz=second_hz)
    await add_agent(engine, "1001", first.port)
    await add_agent(engine, "1002", second.port, queue="billing")
    await engine.start()
    await ready(engine, "1001")
    await ready(engine, "1002")
    await first.start()
    await second.start()
    return first, second


async def agent_and_target(
    engine: Engine, tmp_path: Path, target_hz: float = AGENT_HZ
) -> tuple[Sipp, Sipp]:
    """Agent 1001 (queue support) ready on a SIPp phone that answers and talks 20 s, and a
    phone that is no agent's, to transfer to: it answers after 0.5 s, streams a
    ``target_hz`` tone and hangs up after 4 s; the engine started. Returns the two phones."""
    agent = Sipp(tmp_path, "agent", "agent_answer.xml", "-m", "1", "-d", "20000")
    target = Sipp(tmp_path, "target", "agent_answer.xml", "-m", "1", "-d", "4000",
                  agent_hz=target_hz)
    await add_agent(engine, "1001", agent.port)
    await engine.start()
    await ready(engine, "1001")
    await agent.start()
    await target.start()
    return agent, target


async def attended_transfer(engine: Engine, call_id: str, target: Sipp) -> None:
    """The agent on ``call_id`` transfers it to the ``target`` phone, attended, over the API:
    the caller on hold, the agent talks to the target (1.5 s), then completes the transfer."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.http_port}") as http:
        r = await http.post(
            f"/api/calls/{call_id}/transfer",
            json={"to": f"sip:desk@127.0.0.1:{target.port}", "attended": True},
        )
        assert r.status_code == 202
        await asyncio.sleep(1.5)  # the target answers after 0.5 s; the agent talks to it
        assert (await http.post(f"/api/calls/{call_id}/transfer/complete")).status_code == 202


async def ready(engine: Engine, code: str) -> None:
    assert engine.acd is not None
    await engine.acd.handle(acd.AgentLoggedIn(code))
    await engine.acd.handle(acd.AgentReady(code))


async def load_calls(engine: Engine) -> list[Call]:
    return await engine.db.run(lambda s: list(s.scalars(select(Call))))


def make_caller(
    tmp_path: Path,
    engine: Engine,
    scenario: str = "caller_dtmf_info.xml",
    name: str = "caller",
    number: str = "200",
    key_after_ms: int = 1000,
) -> Sipp:
    """A SIPp caller from +15550100 that presses 2 ``key_after_ms`` after being answered."""
    keys = tmp_path / f"{name}-keys.csv"
    keys.write_text("SEQUENTIAL\n2;0;+15550100\n")
    return Sipp(
        tmp_path,
        name,
        scenario,
        "-s",
        number,
        "-d",
        str(key_after_ms),
        "-m",
        "1",
        "-inf",
        str(keys),
        f"127.0.0.1:{engine.settings.sip.port}",
    )


async def served(engine: Engine, caller: Sipp, agent: Sipp) -> tuple[Call, list[tuple[str, str]]]:
    """Start ``caller``, wait for both SIPp phones to finish well, and return the finished
    call with its IVR path ((node, detail) in order)."""
    await caller.start()
    result = await caller.wait(60)
    assert result.ok, result.stderr + result.errors
    agent_result = await agent.wait(10)
    assert agent_result.ok, agent_result.stderr + agent_result.errors
    call = await finished_call(engine)
    return call, [(e.data["node"], e.data["detail"]) for e in call.events if e.kind == "ivr"]


async def finished_call(engine: Engine) -> Call:
    for _ in range(100):
        calls = await load_calls(engine)
        if calls and calls[0].ended_at is not None:
            return calls[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no finished CDR: {calls}")


async def connected_call(engine: Engine, agent: str) -> str:
    """The id of the call the engine has connected to ``agent`` (waits up to 30 s)."""
    assert engine.sip is not None
    for _ in range(300):
        for call in engine.sip.calls.values():
            if call.agent_id == agent and call.rec.connected_at is not None:
                return call.rec.call_id
        await asyncio.sleep(0.1)
    raise AssertionError(f"no call connected to agent {agent}")
