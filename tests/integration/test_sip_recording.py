"""A recorded SIP conversation: metadata in the database, an audited pause (who, when, why),
and a WAV file that lacks exactly the paused time: stereo (the caller on the left channel, the
agent on the right) by default, or one mono mix."""

from __future__ import annotations

import asyncio
import hashlib
import wave
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import select

from callcenter.engine import Engine
from callcenter.store.recordings import Recording, RecordingAudit
from tests.support.sip import Sipp
from tests.support.sip_engine import add_agent, connected_call, finished_call, make_caller, ready

CALLER_HZ, AGENT_HZ = 300, 500  # the tones tests.support.sip.Sipp streams for each side


def level_at(samples: np.ndarray, rate: int, hz: float) -> float:
    """Magnitude of the spectrum at ``hz`` (the tones are pure: one bin each)."""
    spectrum = np.abs(np.fft.rfft(samples))
    freqs = np.fft.rfftfreq(samples.size, 1 / rate)
    return float(spectrum[np.argmin(np.abs(freqs - hz))])


@pytest.mark.parametrize("channels", ["stereo", "mono"])
async def test_pause_and_resume_are_audited_and_cut_from_the_file(
    engine: Engine, tmp_path: Path, channels: str
) -> None:
    engine.settings.sip.recording_channels = channels  # type: ignore[assignment]
    agent = Sipp(tmp_path, "agent", "agent_answer.xml", "-m", "1", "-d", "5000")
    await add_agent(engine, "1001", agent.port)
    await engine.start()
    await ready(engine, "1001")
    await agent.start()
    caller = make_caller(tmp_path, engine)
    await caller.start()
    assert engine.sip is not None
    call_id = await connected_call(engine, "1001")
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

    rec = None
    for _ in range(50):  # the row is closed once the file is finished (stereo: joined)
        rec, audit = await engine.db.run(read)
        if rec.status != "recording":
            break
        await asyncio.sleep(0.1)
    assert rec is not None
    assert rec.call_id == call_id and rec.status == "done" and rec.kind == "call"
    assert audit == [
        ("started", "engine", ""),
        ("paused", "1001", "card number"),
        ("resumed", "1001", ""),
        ("stopped", "engine", ""),
    ]
    assert 1.5 < rec.paused_s < 3.0
    assert rec.duration_s is not None and 4.0 < rec.duration_s < 8.0
    path = Path(rec.path)
    assert path.name == f"{call_id}-call.wav"
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no parts left
    body = path.read_bytes()  # the finished (joined) file is the one whose checksum is kept
    assert (rec.sha256, rec.size_bytes) == (hashlib.sha256(body).hexdigest(), len(body))
    with wave.open(rec.path) as w:
        rate, nchannels = w.getframerate(), w.getnchannels()
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    audio = audio.reshape(-1, nchannels)
    seconds = len(audio) / rate
    # Nothing is written while paused: the file is the call minus the paused time, on both
    # channels alike; the row says exactly how long the file is.
    span = (rec.ended_at - rec.started_at).total_seconds()
    assert abs(seconds + rec.paused_s - span) < 0.7
    assert abs(seconds + rec.paused_s - rec.duration_s) < 0.01
    assert rec.channels == nchannels == (2 if channels == "stereo" else 1)
    if channels == "mono":
        mix = audio[:, 0]
        assert float(np.sqrt(np.mean(mix**2))) > 500  # the tones of both sides are in the mix
        assert level_at(mix, rate, CALLER_HZ) > 0.2 * level_at(mix, rate, AGENT_HZ)
        assert level_at(mix, rate, AGENT_HZ) > 0.2 * level_at(mix, rate, CALLER_HZ)
        return
    left, right = audio[:, 0], audio[:, 1]
    for side in (left, right):
        assert float(np.sqrt(np.mean(side**2))) > 500  # each side carries its audio
    # the caller's tone on the left only, the agent's on the right only
    assert level_at(left, rate, CALLER_HZ) > 20 * level_at(left, rate, AGENT_HZ)
    assert level_at(right, rate, AGENT_HZ) > 20 * level_at(right, rate, CALLER_HZ)
