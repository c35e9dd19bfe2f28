"""A recorded SIP conversation: metadata in the database, an audited pause (who, when, why),
and a WAV file that lacks exactly the paused time."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import select

from callcenter.engine import Engine
from callcenter.store.recordings import Recording, RecordingAudit
from tests.support.sip import Sipp
from tests.support.sip_engine import add_agent, finished_call, make_caller, ready


async def test_pause_and_resume_are_audited_and_cut_from_the_file(
    engine: Engine, tmp_path: Path
) -> None:
    agent = Sipp(tmp_path, "agent", "agent_answer.xml", "-m", "1", "-d", "5000")
    await add_agent(engine, "1001", agent.port)
    await engine.start()
    await ready(engine, "1001")
    await agent.start()
    caller = make_caller(tmp_path, engine)
    await caller.start()
    assert engine.sip is not None
    call_id = None
    for _ in range(300):
        live = [c for c in engine.sip.calls.values() if c.rec.connected_at is not None]
        if live:
            call_id = live[0].rec.call_id
            break
        await asyncio.sleep(0.1)
    assert call_id is not None
    await asyncio.sleep(1.0)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.http_port}") as http:
        r = await http.post(
            f"/api/calls/{call_id}/recording/pause", json={"by": "1001", "reason": "card number"}
        )
        assert r.status_code == 202
        await asyncio.sleep(2.0)
        r = await http.post(f"/api/calls/{call_id}/recording/resume", json={"by": "1001"})
        assert r.status_code == 202
    assert (await caller.wait(60)).ok
    assert (await agent.wait(10)).ok
    await finished_call(engine)

    def read(s):  # type: ignore[no-untyped-def]
        rec = s.scalars(select(Recording)).one()
        audit = [
            (a.action, a.by, a.reason)
            for a in s.scalars(select(RecordingAudit).order_by(RecordingAudit.id))
        ]
        return rec, audit

    rec, audit = await engine.db.run(read)
    assert rec.call_id == call_id and rec.status == "done" and rec.kind == "call"
    assert audit == [
        ("started", "engine", ""),
        ("paused", "1001", "card number"),
        ("resumed", "1001", ""),
        ("stopped", "engine", ""),
    ]
    assert 1.5 < rec.paused_s < 3.0
    assert rec.duration_s is not None and 4.0 < rec.duration_s < 8.0
    with wave.open(rec.path) as w:
        rate = w.getframerate()
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    seconds = len(audio) / rate
    # Nothing is written while paused: the file is the call minus the paused time.
    assert abs(seconds + rec.paused_s - rec.duration_s) < 0.7
    loud = float(np.sqrt(np.mean(audio**2)))
    assert loud > 500  # the tones of both sides are in what was recorded
