"""Answering-machine detection on a live SIP leg: the callee's audio into :mod:`dialer.amd`.

The leg's audio is recorded (pjsua2 ``AudioMediaRecorder``, fed by that leg alone) into a
scratch WAV file that this module reads as it grows: pjmedia's WAV writer flushes every 4,000
bytes (250 ms at the bridge's 8 kHz), so the detector hears the greeting at most that late,
and no Python code runs on pjsua2's media thread. The detector decides as soon as it can (a person's
"Hello?" and the silence after it: about 1.5 s), never later than its total analysis time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from dialer.amd import AmdDetector, AmdResult, AmdSettings, Verdict

log = logging.getLogger(__name__)

_WAV_HEADER = 44  # pjmedia writes a plain 44-byte PCM header first


class Recorder(Protocol):
    async def record(self, wav: str, *legs: int) -> int: ...

    async def stop_recording(self, recording_id: int) -> None: ...


class WavTail:
    """The 16-bit samples a WAV writer has flushed to ``path`` since the last read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rate: int | None = None
        self._offset = _WAV_HEADER

    def read(self) -> np.ndarray:
        try:
            with self.path.open("rb") as f:
                if self.rate is None:
                    header = f.read(_WAV_HEADER)
                    if len(header) < _WAV_HEADER:
                        return np.zeros(0, dtype=np.int16)
                    self.rate = struct.unpack_from("<I", header, 24)[0] or 8000
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return np.zeros(0, dtype=np.int16)
        data = data[: len(data) - len(data) % 2]
        self._offset += len(data)
        return np.frombuffer(data, dtype="<i2")


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
    scratch.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    rid = await stack.record(str(scratch), leg_id)
    tail = WavTail(scratch)
    detector: AmdDetector | None = None
    limit = s.total_analysis_ms / 1000.0 + 1.0
    try:
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
    finally:
        await stack.stop_recording(rid)
        with contextlib.suppress(OSError):
            scratch.unlink()
