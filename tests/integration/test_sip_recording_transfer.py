"""Stereo recordings across transfers: after an attended transfer the target is recorded on the
agent's channel of the same file; a caller transferred to another queue and served again gets
a second recording next to the first, not over it."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import select

from callcenter.engine import Engine
from callcenter.store.recordings import Recording
from tests.integration.test_sip_recording import AGENT_HZ, CALLER_HZ, level_at
from tests.support.sip_engine import (
    agent_and_target,
    attended_transfer,
    connected_call,
    finished_call,
    make_caller,
    two_agents,
)

OTHER_HZ = 700  # what the transfer target (or the second agent) sends


async def recordings(engine: Engine) -> list[Recording]:
    for _ in range(50):
        rows = await engine.db.run(
            lambda s: list(s.scalars(select(Recording).order_by(Recording.id)))
        )
        if rows and all(r.status == "done" for r in rows):
            return rows
        await asyncio.sleep(0.1)
    raise AssertionError(f"recordings not finished: {[(r.path, r.status) for r in rows]}")


def stereo(path: str) -> tuple[np.ndarray, int]:
    with wave.open(path) as w:
        assert w.getnchannels() == 2
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
        return data.reshape(-1, 2), w.getframerate()


def speaks(samples: np.ndarray, rate: int, hz: float, over: float) -> bool:
    return level_at(samples, rate, hz) > 20 * level_at(samples, rate, over)


async def test_the_target_of_an_attended_transfer_is_recorded_on_the_agent_channel(
    engine: Engine, tmp_path: Path
) -> None:
    agent, target = await agent_and_target(engine, tmp_path, target_hz=OTHER_HZ)
    caller = make_caller(tmp_path, engine)
    await caller.start()
    call_id = await connected_call(engine, "1001")
    await asyncio.sleep(1.5)
    await attended_transfer(engine, call_id, target)
    assert (await caller.wait(60)).ok
    assert (await target.wait(10)).ok
    await finished_call(engine)
    if agent.proc is not None and agent.proc.returncode is None:
        agent.proc.kill()

    [rec] = await recordings(engine)
    assert rec.channels == 2 and Path(rec.path).name == f"{call_id}-call.wav"
    frames, rate = stereo(rec.path)
    start, end = frames[:rate], frames[-rate:]  # the first and the last second
    assert speaks(start[:, 0], rate, CALLER_HZ, AGENT_HZ)
    assert speaks(end[:, 0], rate, CALLER_HZ, OTHER_HZ)
    assert speaks(start[:, 1], rate, AGENT_HZ, OTHER_HZ)  # the agent, then
    assert speaks(end[:, 1], rate, OTHER_HZ, AGENT_HZ)  # the target, the agent no more


async def test_a_caller_served_twice_has_two_recordings(engine: Engine, tmp_path: Path) -> None:
    first, second = await two_agents(engine, tmp_path, 20000, 2000, second_hz=OTHER_HZ)
    caller = make_caller(tmp_path, engine)
    await caller.start()
    call_id = await connected_call(engine, "1001")
    await asyncio.sleep(1.5)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.http_port}") as http:
        r = await http.post(f"/api/calls/{call_id}/transfer", json={"to": "queue:billing"})
        assert r.status_code == 202
    assert (await caller.wait(60)).ok
    assert (await second.wait(10)).ok
    await finished_call(engine)
    if first.proc is not None and first.proc.returncode is None:
        first.proc.kill()

    one, two = await recordings(engine)
    assert Path(one.path).name == f"{call_id}-call.wav"
    assert Path(two.path).name == f"{call_id}-call-2.wav"
    for rec, hz, other in ((one, AGENT_HZ, OTHER_HZ), (two, OTHER_HZ, AGENT_HZ)):
        frames, rate = stereo(rec.path)
        assert speaks(frames[:, 0], rate, CALLER_HZ, hz)
        assert speaks(frames[:, 1], rate, hz, other)
