"""An on-demand agent whose softphone stops answering leaves the queue within seconds."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from callcenter.engine import Engine
from tests.support.sip import Sipp
from tests.support.sip_engine import add_agent, ready


async def _state_becomes(engine: Engine, agent: str, state: str, within: float) -> float:
    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() - start < within:
        if engine.acd is not None and engine.acd.router.agent_state(agent) == state:
            return loop.time() - start
        await asyncio.sleep(0.1)
    raise AssertionError(f"agent {agent} did not become {state} within {within} s")


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_softphone_gone_pauses_the_agent_and_back_makes_it_ready(
    engine: Engine, tmp_path: Path, transport: str
) -> None:
    """A phone on UDP, or on TCP only (its URI says ;transport=tcp: pinged over TCP)."""
    engine.settings.sip.presence_interval_s = 0.5  # the fixture turns it off
    sipp_transport = ("-t", "t1") if transport == "tcp" else ()
    phone = Sipp(tmp_path, "phone", "options_responder.xml", *sipp_transport, "-m", "1000")
    await add_agent(engine, "1001", phone.port, transport=transport)
    await phone.start()
    await engine.start()
    await ready(engine, "1001")
    await asyncio.sleep(2.0)  # answered pings: the agent stays available
    assert engine.acd is not None and engine.acd.router.agent_state("1001") == "available"

    assert phone.proc is not None
    phone.proc.kill()
    await phone.proc.wait()
    took = await _state_becomes(engine, "1001", "paused", within=10)
    assert took < 6

    again = Sipp(tmp_path, "phone2", "options_responder.xml", *sipp_transport, "-m", "1000")
    again.port = phone.port  # the same softphone comes back
    again.args[again.args.index("-p") + 1] = str(phone.port)
    await again.start()
    await _state_becomes(engine, "1001", "available", within=10)
    assert again.proc is not None
    again.proc.kill()
