"""Answering-machine detection on a live SIP leg: the callee's audio into :mod:`dialer.amd`.

The leg's audio is read as it arrives (:mod:`callcenter.voice.sip.live_audio`: at most 250 ms
late, no Python on pjsua2's media thread). The detector decides as soon as it can (a person's
"Hello?" and the silence after it: about 1.5 s), never later than its total analysis time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from callcenter.voice.sip.live_audio import Recorder, leg_audio
from dialer.amd import AmdDetector, AmdResult, AmdSettings, Verdict

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Detection:
    result: AmdResult
    waited_s: float  # wall time from the start of the analysis to the verdict


async def detect_machine(
    stack: Recorder,
    leg_id: int,
    scratch: Path,
    settings: AmdSettings | None = None,
    poll_s: float = 0.05,
) -> Detection:
    """Listen to ``leg_id`` until :class:`~dialer.amd.AmdDetector` decides.

    A verdict is always returned: NOTSURE when the audio stops arriving (the WAV writer is
    flushed late or the leg sends nothing) past the analysis time plus a second's grace.
    """
    s = settings or AmdSettings()
    started = time.monotonic()
    detector: AmdDetector | None = None
    limit = s.total_analysis_ms / 1000.0 + 1.0
    async with leg_audio(stack, leg_id, scratch) as tail:
        while True:
            samples = tail.read()
            if detector is None and tail.rate is not None:
                detector = AmdDetector(tail.rate, s)
            if detector is not None and samples.size:
                result = detector.feed(samples)
                if result is not None:
                    return Detection(result, time.monotonic() - started)
            waited = time.monotonic() - started
            if waited >= limit:
                heard = detector.result if detector is not None else None
                return Detection(heard or AmdResult(Verdict.NOTSURE, "NOAUDIO", waited), waited)
            await asyncio.sleep(poll_s)
