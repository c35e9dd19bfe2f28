"""Agents control a connected call over the API: hold, resume, transfer to a queue (keeping
the caller's place), attended transfer to another phone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from callcenter.engine import Engine
from tests.support.sip_engine import (
    agent_and_target,
    attended_transfer,
    connected_call,
    finished_call,
    make_caller,
    two_agents,
)


async def test_hold_resume_and_transfer_to_another_queue(engine: Engine, tmp_path: Path) -> None:
    first, second = await two_agents(engine, tmp_path, 20000, 2000)
    caller = make_caller(tmp_path, engine)
    await caller.start()
    call_id = await connected_call(engine, "1001")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.http_port}") as http:
        assert (await http.post(f"/api/calls/{call_id}/hold")).status_code == 202
        await asyncio.sleep(0.5)
        assert (await http.post(f"/api/calls/{call_id}/resume")).status_code == 202
        await asyncio.sleep(0.3)
        bad = await http.post(f"/api/calls/{call_id}/transfer", json={"to": "queue:nope"})
        assert bad.status_code == 404
        r = await http.post(f"/api/calls/{call_id}/transfer", json={"to": "queue:billing"})
        assert r.status_code == 202
    result = await caller.wait(60)
    assert result.ok, result.stderr + result.errors
    assert (await second.wait(10)).ok
    call = await finished_call(engine)
    kinds = [e.kind for e in call.events]
    for kind in ("held", "resumed", "transferred"):
        assert kind in kinds, kinds
    assert [e.data["agent"] for e in call.events if e.kind == "connected"] == ["1001", "1002"]
    assert call.agent_id == engine.directory.agents["1002"].id
    assert call.queue_id == engine.directory.queues["billing"].id
    assert [leg.role for leg in call.legs] == ["agent", "agent"]
    if first.proc is not None and first.proc.returncode is None:
        first.proc.kill()  # still in its long talk: the engine moved the caller away


async def test_attended_transfer_to_a_phone(engine: Engine, tmp_path: Path) -> None:
    agent, target = await agent_and_target(engine, tmp_path)
    caller = make_caller(tmp_path, engine)
    await caller.start()
    call_id = await connected_call(engine, "1001")
    await attended_transfer(engine, call_id, target)
    result = await caller.wait(60)
    assert result.ok, result.stderr + result.errors
    assert (await target.wait(10)).ok  # the target talked to the caller, then hung up
    call = await finished_call(engine)
    kinds = [e.kind for e in call.events]
    assert "consulting" in kinds
    attended = [e.data for e in call.events if e.kind == "transferred"]
    assert attended and attended[0]["attended"] is True
    assert engine.acd is not None and engine.acd.router.agent_state("1001") != "busy"
    if agent.proc is not None and agent.proc.returncode is None:
        agent.proc.kill()
