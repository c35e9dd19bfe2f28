"""Supervisors listen, whisper and barge: checked by what their phone really receives."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from callcenter.engine import Engine
from tests.support.rtp import open_sink
from tests.support.sip import Sipp
from tests.support.sip_engine import add_agent, connected_call, make_caller, ready


@pytest.mark.parametrize("mode", ["listen", "barge"])
async def test_supervisor_hears_a_connected_call(engine: Engine, tmp_path: Path, mode: str) -> None:
    agent = Sipp(tmp_path, "agent", "agent_answer.xml", "-m", "1", "-d", "6000")
    await add_agent(engine, "1001", agent.port)
    await engine.start()
    await ready(engine, "1001")
    await agent.start()
    caller = make_caller(tmp_path, engine)
    await caller.start()
    assert engine.sip is not None
    call_id = await connected_call(engine, "1001")

    sink, rtp_port, transport = await open_sink()
    sup_keys = tmp_path / "sup.csv"
    sup_keys.write_text(f"SEQUENTIAL\n{rtp_port}\n")
    supervisor = Sipp(tmp_path, "sup", "supervisor_answer.xml", "-m", "1", "-inf", str(sup_keys))
    await supervisor.start()
    await asyncio.sleep(0.3)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.http_port}") as http:
        reply = await http.post(
            f"/api/calls/{call_id}/monitor",
            json={"supervisor": f"sip:sup@127.0.0.1:{supervisor.port}", "mode": mode},
        )
        assert reply.status_code == 201, reply.text
        missing = await http.post(
            "/api/calls/nope/monitor", json={"supervisor": "sip:x@127.0.0.1:9"}
        )
        assert missing.status_code == 404
    await asyncio.sleep(2.0)
    heard_packets, heard_rms = sink.packets, sink.rms()
    assert (await caller.wait(60)).ok
    assert (await agent.wait(10)).ok
    assert (await supervisor.wait(10)).ok  # the engine hung up the supervisor with the call
    transport.close()
    assert heard_packets > 50  # 20 ms packets: ~2 s of audio
    assert heard_rms > 500  # the caller's and agent's tones, not silence
