"""Real SIP on loopback: SIPp callers and SIPp agents against the engine's pjsua2 stack."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from callcenter.engine import Engine
from callcenter.store import AgentRepository, Database, QueueRepository
from tests.support.audio import dtmf, tone, write_ulaw
from tests.support.sip import CALLER_HZ, SCENARIOS, Sipp
from tests.support.sip_engine import (
    add_agent,
    finished_call,
    load_calls,
    make_caller,
    ready,
    served,
)

SDES_KEY = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"  # 30 bytes: an AES-128 key and salt


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_caller_reaches_an_agent_and_the_cdr_is_complete(
    engine: Engine, tmp_path: Path, transport: str
) -> None:
    """Over UDP, and over TCP both ways: the caller's phone calls over TCP, and the agent's
    phone listens on TCP only (its URI says ;transport=tcp)."""
    sipp_transport = ("-t", "t1") if transport == "tcp" else ()
    agent = Sipp(tmp_path, "agent", "agent_answer.xml", *sipp_transport, "-m", "1",
                 "-d", "3000")
    await add_agent(engine, "1001", agent.port, transport=transport)
    await engine.start()
    await ready(engine, "1001")
    await agent.start()
    (tmp_path / "caller").mkdir()
    (tmp_path / "caller" / "keys.csv").write_text("SEQUENTIAL\n2;0;+15550100\n")
    caller = Sipp(
        tmp_path,
        "caller",
        "caller_dtmf_info.xml",
        *sipp_transport,
        "-s",
        "200",
        "-d",
        "1000",
        "-m",
        "1",
        "-inf",
        str(tmp_path / "caller" / "keys.csv"),
        f"127.0.0.1:{engine.settings.sip.port}",
    )
    await caller.start()
    caller_result = await caller.wait(60)
    agent_result = await agent.wait(10)
    assert agent_result.ok, agent_result.stderr + agent_result.errors
    assert caller_result.ok, caller_result.stderr + caller_result.errors
    for _ in range(50):  # the CDR is finished just after the BYE
        calls = await load_calls(engine)
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
        "-d",
        "1000",
        "-m",
        "1",
        "-inf",
        str(tmp_path / "keys.csv"),
        f"127.0.0.1:{engine.settings.sip.port}",
    )
    await caller.start()
    result = await caller.wait(30)
    assert not result.ok and "404" in (result.errors + result.stderr)
    assert await load_calls(engine) == []
    assert engine.sip.rejected == 1


async def test_caller_who_hangs_up_in_the_queue_is_an_abandon(
    engine: Engine, tmp_path: Path
) -> None:
    await engine.start()  # no agent is logged in: the caller waits, then gives up
    caller = make_caller(tmp_path, engine, "caller_key_then_bye.xml")
    await caller.start()
    result = await caller.wait(30)
    assert result.ok, result.stderr + result.errors
    call = await finished_call(engine)
    kinds = [e.kind for e in call.events]
    assert "queued" in kinds and "abandoned" in kinds and "connected" not in kinds
    assert call.hangup_by == "caller" and call.agent_id is None
    assert call.queue_wait_s is not None and call.queue_wait_s > 1.0
    assert engine.acd is not None
    stats = engine.acd.router.queue_stats("support", engine.acd.clock())
    assert stats.abandoned == 1 and stats.waiting == 0


async def test_agent_who_does_not_answer_is_skipped_for_the_next(
    engine: Engine, tmp_path: Path
) -> None:
    silent = Sipp(tmp_path, "silent", "agent_no_answer.xml", "-m", "1")
    good = Sipp(tmp_path, "good", "agent_answer.xml", "-m", "1", "-d", "3000")
    await add_agent(engine, "1001", silent.port)
    await add_agent(engine, "1002", good.port)
    await engine.start()
    await ready(engine, "1001")  # longest idle: offered first
    await asyncio.sleep(0.05)
    await ready(engine, "1002")
    await silent.start()
    await good.start()
    caller = make_caller(tmp_path, engine)
    await caller.start()
    result = await caller.wait(60)
    assert result.ok, result.stderr + result.errors
    assert (await silent.wait(10)).ok and (await good.wait(10)).ok
    call = await finished_call(engine)
    offers = [e.data["agent"] for e in call.events if e.kind == "offered"]
    assert offers == ["1001", "1002"]
    assert engine.directory.agents["1002"].id == call.agent_id
    assert call.talk_s is not None and call.talk_s > 2.0


async def test_nailed_up_agent_logs_in_by_keypad_and_gets_the_call(
    engine: Engine, tmp_path: Path
) -> None:
    def add(s):  # type: ignore[no-untyped-def]
        AgentRepository(s).add("1001", "Ann", pin="1234")
        QueueRepository(s).add_member("support", "1001")

    db = Database(engine.settings.database.url)
    with db.session() as s:
        add(s)
    db.dispose()
    await engine.start()
    login = engine.settings.sip.agent_login_number
    (tmp_path / "line.csv").write_text("SEQUENTIAL\n1;0;0;1;#;1;2;3;4;#;#\n")
    line = Sipp(
        tmp_path,
        "line",
        "agent_line.xml",
        "-s",
        login,
        "-m",
        "1",
        "-inf",
        str(tmp_path / "line.csv"),
        f"127.0.0.1:{engine.settings.sip.port}",
    )
    await line.start()
    for _ in range(100):
        if "1001" in engine.sip.lines and engine.acd.router.agent_state("1001") == "available":
            break
        await asyncio.sleep(0.1)
    assert engine.acd.router.agent_state("1001") == "available"
    caller = make_caller(tmp_path, engine)
    t0 = asyncio.get_running_loop().time()
    await caller.start()
    result = await caller.wait(60)
    assert result.ok, result.stderr + result.errors
    assert (await line.wait(20)).ok
    call = await finished_call(engine)
    offered = [e for e in call.events if e.kind == "offered"]
    assert offered and offered[0].data.get("nailed") is True
    queued = next(e.at for e in call.events if e.kind == "queued")
    connected = next(e.at for e in call.events if e.kind == "connected")
    assert (connected - queued).total_seconds() < 1.0  # no ringing
    assert call.legs[0].remote == "nailed-up line"
    assert asyncio.get_running_loop().time() - t0 < 30
    for _ in range(50):  # the line hung up: the agent left the queue
        if engine.acd.router.agent_state("1001") == "logged_out":
            break
        await asyncio.sleep(0.1)
    assert engine.acd.router.agent_state("1001") == "logged_out"


async def test_wrong_pin_is_refused_like_an_unknown_agent(engine: Engine, tmp_path: Path) -> None:
    db = Database(engine.settings.database.url)
    with db.session() as s:
        AgentRepository(s).add("1001", "Ann", pin="1234")
    db.dispose()
    await engine.start()
    login = engine.settings.sip.agent_login_number
    (tmp_path / "line.csv").write_text("SEQUENTIAL\n1;0;0;1;#;9;9;9;9;#;#\n")
    line = Sipp(
        tmp_path,
        "line",
        "agent_line.xml",
        "-s",
        login,
        "-m",
        "1",
        "-inf",
        str(tmp_path / "line.csv"),
        f"127.0.0.1:{engine.settings.sip.port}",
    )
    await line.start()
    await line.wait(40)
    assert "1001" not in engine.sip.lines
    assert engine.acd.router.agent_state("1001") == "logged_out"


async def test_an_overloaded_engine_refuses_new_calls_with_503_until_it_catches_up(
    engine: Engine, tmp_path: Path
) -> None:
    """Past its capacity the engine turns new INVITEs away at once (503 + Retry-After) rather
    than taking calls it cannot serve; it takes calls again once its event loop is on time."""
    import time

    await engine.start()
    watch = engine.sip.loop_watch
    assert watch is not None and engine.sip.admission.overloaded == ""
    watch.detector.calm_samples = 200  # stay overloaded ~10 s: long enough for SIPp to dial
    asyncio.get_running_loop().call_soon(time.sleep, 0.6)  # the loop stalls 600 ms
    await asyncio.sleep(0.2)
    assert engine.sip.admission.overloaded.startswith("engine overloaded")

    def dial(name: str) -> Sipp:
        (tmp_path / "keys.csv").write_text("SEQUENTIAL\n2;0;+15550100\n")
        return Sipp(
            tmp_path, name, "caller_dtmf_info.xml", "-s", "999", "-d", "500", "-m", "1",
            "-inf", str(tmp_path / "keys.csv"), f"127.0.0.1:{engine.settings.sip.port}",
        )

    refused = dial("refused")
    await refused.start()
    result = await refused.wait(30)
    text = result.errors + result.stderr
    assert not result.ok and "503 Service Unavailable" in text and "Retry-After: 2" in text
    assert engine.sip.admission.shed == 1

    watch.detector.calm_samples = 5
    for _ in range(100):
        if not engine.sip.admission.overloaded:
            break
        await asyncio.sleep(0.05)
    assert engine.sip.admission.overloaded == "" and watch.episodes == 1
    # Admitted again: past the overload check, an unknown number gets its usual 404.
    again = dial("again")
    await again.start()
    result = await again.wait(30)
    assert not result.ok and "404" in (result.errors + result.stderr)
    assert "503" not in result.errors
    assert await load_calls(engine) == []


async def test_a_pj_thread_behind_on_the_sip_socket_sheds_new_calls(engine: Engine) -> None:
    """The pj thread falls behind on the SIP socket before the event loop runs late: a SIP
    socket filling up is overload too, with the loop on time."""
    import socket
    import time

    await engine.start()
    watch = engine.sip.loop_watch
    assert watch is not None and engine.sip._backlog.found
    watch.detector.calm_samples = 200
    stall = engine.sip.stack._thread.submit(lambda: time.sleep(1.5))  # the pj thread is busy
    await asyncio.sleep(0.1)
    backlog = engine.sip._backlog
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as junk:  # not SIP: dropped once read
        for _ in range(200):  # past half of whatever buffer the socket was granted
            for _ in range(100):
                junk.sendto(b"x" * 1000, ("127.0.0.1", engine.settings.sip.port))
            if backlog.fill() >= 0.6:
                break
    for _ in range(40):
        if engine.sip.admission.overloaded:
            break
        await asyncio.sleep(0.05)
    reason = engine.sip.admission.overloaded
    assert reason.startswith("engine overloaded") and "SIP socket" in reason
    assert "% full" in reason and int(reason.split("SIP socket ")[1].split("%")[0]) >= 50
    await stall
    watch.detector.calm_samples = 5
    for _ in range(100):  # the pj thread reads the backlog; calm again
        if not engine.sip.admission.overloaded:
            break
        await asyncio.sleep(0.05)
    assert engine.sip.admission.overloaded == "" and engine.sip._backlog.fill() < 0.02


@pytest.mark.parametrize("srtp", ["off", "optional"])
async def test_a_caller_offering_only_encrypted_media_needs_srtp(
    engine: Engine, tmp_path: Path, srtp: str
) -> None:
    """A phone that offers SRTP only (RTP/SAVP with an SDES key): refused (488) with
    sip.srtp off, taken through the IVR to an agent with sip.srtp optional."""
    engine.settings.sip.srtp = srtp
    offer = (SCENARIOS / "caller_dtmf_info.xml").read_text()
    offer = offer.replace("RTP/AVP 0 101", "RTP/SAVP 0 101").replace(
        "a=sendrecv", f"a=sendrecv\n      a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{SDES_KEY}", 1)
    (tmp_path / "caller_srtp.xml").write_text(offer)
    agent = Sipp(tmp_path, "agent", "agent_answer.xml", "-m", "1", "-d", "2000")
    await add_agent(engine, "1001", agent.port)
    await engine.start()
    await ready(engine, "1001")
    await agent.start()
    caller = make_caller(tmp_path, engine, str(tmp_path / "caller_srtp.xml"))
    await caller.start()
    result = await caller.wait(60)
    if srtp == "off":
        assert not result.ok and "488" in result.stderr + result.errors
        assert agent.proc is not None
        agent.proc.kill()
        return
    assert result.ok, result.stderr + result.errors
    assert (await agent.wait(10)).ok
    call = await finished_call(engine)
    assert "connected" in [e.kind for e in call.events]


async def test_keys_played_as_tones_in_the_audio_drive_the_ivr(
    engine: Engine, tmp_path: Path
) -> None:
    """A phone whose SDP offers no telephone-event plays its keys in the voice stream: the
    engine hears the 2 in the audio, and the menu sends the caller to support's agent."""
    agent = Sipp(tmp_path, "agent", "agent_answer.xml", "-m", "1", "-d", "2000")
    await add_agent(engine, "1001", agent.port)
    await engine.start()
    await ready(engine, "1001")
    await agent.start()
    caller = Sipp(tmp_path, "caller", "caller_keys_in_audio.xml", "-s", "200", "-m", "1",
                  f"127.0.0.1:{engine.settings.sip.port}")
    quiet = np.zeros(8000, dtype=np.int16)  # 1 s of silence, the key, then the caller's voice
    write_ulaw(caller.dir / "caller.ulaw", np.concatenate([quiet, dtmf("2"), quiet,
                                                           tone(20, CALLER_HZ)]))
    call, path = await served(engine, caller, agent)
    assert ("menu", "pressed '2'") in path
    assert "connected" in [e.kind for e in call.events]


async def test_an_agent_line_typing_keys_as_tones_logs_in_and_pauses(
    engine: Engine, tmp_path: Path
) -> None:
    """A nailed-up line from a phone with no telephone-event: its agent number, PIN and the
    * that pauses are heard in its audio."""
    db = Database(engine.settings.database.url)
    with db.session() as s:
        AgentRepository(s).add("1001", "Ann", pin="1234")
        QueueRepository(s).add_member("support", "1001")
    db.dispose()
    await engine.start()
    line = Sipp(tmp_path, "line", "caller_keys_in_audio.xml", "-s",
                engine.settings.sip.agent_login_number, "-m", "1",
                f"127.0.0.1:{engine.settings.sip.port}")
    second = np.zeros(8000, dtype=np.int16)
    login = np.concatenate([second, dtmf("1001#1234#")])
    write_ulaw(line.dir / "caller.ulaw", np.concatenate(
        [login, np.tile(second, 9), dtmf("*"), np.tile(second, 20)]))  # * about 10.6 s in
    await line.start()
    assert engine.acd is not None and engine.sip is not None
    states = []
    for _ in range(250):
        state = engine.acd.router.agent_state("1001")
        if not states or states[-1] != state:
            states.append(state)
        if state == "paused":
            break
        await asyncio.sleep(0.1)
    assert states[-2:] == ["available", "paused"], states
    assert "1001" in engine.sip.lines
    assert line.proc is not None
    line.proc.kill()
