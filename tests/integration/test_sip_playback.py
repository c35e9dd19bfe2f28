"""Prompts end when their file does: PlaybackFinished arrives at the file's length (not early,
not at a timeout), for files of any rate, back to back, and never for a stopped prompt."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from callcenter.voice.sip import events as ev
from callcenter.voice.sip.admission import Admission
from callcenter.voice.sip.stack import SipConfig, SipStack
from tests.support.audio import tone, write_wav
from tests.support.sip import Sipp, free_udp_port


async def test_playback_finished_arrives_at_the_end_of_each_file(tmp_path: Path) -> None:
    events: asyncio.Queue[ev.SipEvent] = asyncio.Queue()
    port = free_udp_port()
    stack = SipStack(
        SipConfig(port=port, max_calls=8), events.put_nowait, Admission(numbers=frozenset({"300"}))
    )
    short = str(write_wav(tmp_path / "short.wav", tone(0.6), rate=8000))
    wide = str(write_wav(tmp_path / "wide.wav", tone(1.2, rate=16000), rate=16000))
    long = str(write_wav(tmp_path / "long.wav", tone(5.0)))
    keys = tmp_path / "keys.csv"
    keys.write_text("SEQUENTIAL\n2;0;+15550100\n")
    caller = Sipp(
        tmp_path, "caller", "caller_dtmf_info.xml", "-s", "300", "-d", "20000", "-m", "1",
        "-inf", str(keys), f"127.0.0.1:{port}",
    )  # fmt: skip

    async def next_event(kind: type, timeout: float = 10.0) -> ev.SipEvent:
        async with asyncio.timeout(timeout):
            while True:
                item = await events.get()
                if isinstance(item, kind):
                    return item

    await stack.start()
    try:
        await caller.start()
        incoming = await next_event(ev.IncomingCall)
        assert isinstance(incoming, ev.IncomingCall)
        leg = incoming.leg_id
        await stack.answer(leg)
        await next_event(ev.LegMediaReady)

        for wav, length in ((short, 0.6), (wide, 1.2)):
            started = time.monotonic()
            pid = await stack.play(leg, wav)
            done = await next_event(ev.PlaybackFinished)
            took = time.monotonic() - started
            assert done == ev.PlaybackFinished(pid, leg)
            assert length - 0.05 <= took <= length + 0.4, (wav, took)

        stopped = await stack.play(leg, long)
        await asyncio.sleep(0.3)
        await stack.stop_playback(stopped)
        after = await stack.play(leg, short)
        done = await next_event(ev.PlaybackFinished)
        assert done.playback_id == after  # nothing came for the stopped prompt
        await asyncio.sleep(5.0)  # past the stopped file's end
        later = [events.get_nowait() for _ in range(events.qsize())]
        assert not [e for e in later if isinstance(e, ev.PlaybackFinished)]
        await stack.hangup(leg)
        assert (await next_event(ev.LegEnded)).leg_id == leg
        await caller.wait(10)  # it expected to press its key first: only reap it
    finally:
        await stack.stop()
