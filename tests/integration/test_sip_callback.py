"""Fair virtual hold over real SIP: the caller presses * in the queue, hangs up, and is called
back when the place's turn comes, by the agent, through the outbound gateway (SIPp)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from callcenter import acd
from callcenter.calls import kept_places
from callcenter.engine import Engine
from callcenter.store.models import Call
from tests.support.sip import Sipp, free_udp_port
from tests.support.sip_engine import FLOW, add_agent, engine_fixture, until

GATEWAY_PORT = free_udp_port()


@pytest.fixture
async def engine(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Engine]:
    """Number 300 waits in support with * for a call-back; calls out go to a SIPp gateway."""
    async for eng in engine_fixture(
        tmp_path, sqlite_url,
        numbers={"300": str(FLOW.with_name("sip_callback.yaml"))},
        outbound_gateway=f"127.0.0.1:{GATEWAY_PORT}",
    ):
        yield eng


def caller(tmp_path: Path, engine: Engine) -> Sipp:
    """+15550100 calls 300 and presses * 1.5 s after the answer, then waits for the BYE."""
    keys = tmp_path / "keys.csv"
    keys.write_text("SEQUENTIAL\n*;0;+15550100\n")
    return Sipp(tmp_path, "caller", "caller_dtmf_info.xml", "-s", "300", "-d", "1500", "-m",
                "1", "-inf", str(keys), f"127.0.0.1:{engine.settings.sip.port}")


def the_customer(tmp_path: Path) -> Sipp:
    """The customer's phone behind the gateway: answers, talks until the engine hangs up."""
    customer = Sipp(tmp_path, "customer", "callee_preview_stays.xml", "-m", "1",
                    agent_hz=700.0)
    customer.args[customer.args.index("-p") + 1] = str(GATEWAY_PORT)
    return customer


async def started_with_paused_agent(engine: Engine, agent: Sipp) -> None:
    """Agent 1001 (on ``agent``'s phone) in support, logged in and paused; the engine up."""
    await add_agent(engine, "1001", agent.port)
    await engine.start()
    assert engine.acd is not None
    await engine.acd.handle(acd.AgentLoggedIn("1001"))
    await engine.acd.handle(acd.AgentPaused("1001", "meeting"))


async def records(engine: Engine) -> list[Call]:
    return await engine.db.run(lambda s: list(s.scalars(select(Call).order_by(Call.started_at))))


async def test_a_caller_who_pressed_the_key_is_called_back_by_the_next_agent(
    engine: Engine, tmp_path: Path
) -> None:
    agent = Sipp(tmp_path, "agent", "agent_answer.xml", "-m", "1", "-d", "4000")
    # The customer talks until the engine hangs up (after the agent did).
    customer = the_customer(tmp_path)
    await started_with_paused_agent(engine, agent)
    await agent.start()
    await customer.start()
    phone = caller(tmp_path, engine)
    await phone.start()
    got = await phone.wait(60)  # pressed *, heard the promise, the engine hung up
    assert got.ok, got.stderr + got.errors

    async def kept() -> bool:
        assert engine.acd is not None
        return engine.acd.router.task_status(first.id) == "waiting"

    first = (await until(lambda: _ended(engine), "the caller's record"))[0]
    await until(kept, "the place kept by the ACD")
    assert [e.kind for e in first.events if e.kind.startswith("callback")] == ["callback_kept"]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.http_port}") as http:
        listed = (await http.get("/api/queues/callbacks")).json()
    assert [(p["task_id"], p["queue"], p["number"], p["shown"], p["status"], p["calls"])
            for p in listed] == [(first.id, "support", "+15550100", "300", "waiting", 0)]
    await engine.acd.handle(acd.AgentReady("1001"))  # the place's turn
    assert (await agent.wait(30)).ok
    assert (await customer.wait(30)).ok

    async def called_back() -> Call | None:
        calls = await records(engine)
        back = [c for c in calls if c.direction == "outbound" and c.ended_at]
        return back[0] if back else None

    back = await until(called_back, "the call-back's record")
    assert back.dialed == "+15550100" and back.caller == "300"  # shows the number called
    kinds = [e.kind for e in back.events]
    assert kinds.index("offered") < kinds.index("connected")  # the agent first, then dialed
    assert back.talk_s is not None and back.talk_s > 1.0
    assert engine.acd.router.task_status(first.id) is None  # done, not queued again


async def test_a_customer_who_does_not_answer_is_tried_again_then_given_up(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kept_places, "RETRY_S", 0.5)
    monkeypatch.setattr(kept_places, "ATTEMPTS", 2)
    monkeypatch.setattr(kept_places, "RING_S", 2.0)
    agent = Sipp(tmp_path, "agent", "agent_answer.xml", "-m", "2", "-d", "8000")
    await started_with_paused_agent(engine, agent)
    await agent.start()
    phone = caller(tmp_path, engine)  # nobody answers at the gateway's port
    await phone.start()
    assert (await phone.wait(60)).ok
    first = (await until(lambda: _ended(engine), "the caller's record"))[0]
    await engine.acd.handle(acd.AgentReady("1001"))

    async def given_up() -> Call | None:
        for c in await records(engine):
            if c.direction == "outbound" and any(
                    e.kind == "callback_given_up" for e in c.events):
                return c
        return None

    back = await until(given_up, "the call-back given up", timeout=60)
    unanswered = [e for e in back.events if e.kind == "callback_unanswered"]
    assert [e.data["call"] for e in unanswered] == [1, 2]
    assert engine.acd.router.task_status(first.id) is None
    assert engine.acd.router.agent_state("1001") in ("available", "wrap_up")


async def _ended(engine: Engine) -> list[Call] | None:
    calls = [c for c in await records(engine) if c.direction == "inbound" and c.ended_at]
    return calls or None


async def test_a_kept_place_outlives_a_restart_of_the_engine(
    engine: Engine, tmp_path: Path
) -> None:
    """The engine stops while the place waits; started again it puts the place back in line
    (from the record) and the agent calls the customer back."""
    agent = Sipp(tmp_path, "agent", "agent_answer.xml", "-m", "1", "-d", "3000")
    customer = the_customer(tmp_path)
    await started_with_paused_agent(engine, agent)
    phone = caller(tmp_path, engine)
    await phone.start()
    assert (await phone.wait(60)).ok
    first = (await until(lambda: _ended(engine), "the caller's record"))[0]
    assert await _place(engine, first.id) == ("waiting", 0)
    await engine.stop()

    again = Engine(engine.settings)
    try:
        await again.start()
        assert again.acd is not None
        assert again.acd.router.task_status(first.id) == "waiting"  # back in line
        await again.acd.handle(acd.AgentLoggedIn("1001"))
        await agent.start()
        await customer.start()
        await again.acd.handle(acd.AgentReady("1001"))
        assert (await agent.wait(30)).ok
        assert (await customer.wait(30)).ok

        async def done() -> bool:
            return await _place(again, first.id) == ("done", 1)

        await until(done, "the kept place called back and done")
    finally:
        await again.stop()


async def _place(engine: Engine, task_id: str) -> tuple[str, int] | None:
    from callcenter.store.queue_callbacks import QueueCallbackRow

    def read(s):  # type: ignore[no-untyped-def]
        row = s.get(QueueCallbackRow, task_id)
        return None if row is None else (row.status, row.calls)

    return await engine.db.run(read)  # type: ignore[no-any-return]
