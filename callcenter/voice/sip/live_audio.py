"""A live SIP leg's audio, readable from Python as it arrives.

The leg's audio is recorded (pjsua2 ``AudioMediaRecorder``, fed by that leg alone) into a
scratch WAV file that :class:`WavTail` reads as it grows: pjmedia's WAV writer flushes every
4,000 bytes (250 ms at the bridge's 8 kHz), so a listener hears the leg at most that late, and
no Python code runs on pjsua2's media thread. Used by answering-machine detection
(:mod:`callcenter.voice.sip.machine_detection`) and by keys heard in the audio
(:mod:`callcenter.voice.inband_dtmf`).
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import numpy as np

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


@contextlib.asynccontextmanager
async def leg_audio(stack: Recorder, leg_id: int, scratch: Path) -> AsyncIterator[WavTail]:
    """Record ``leg_id`` into ``scratch`` while the block runs, and read it with the tail;
    the recording stops and the file goes when the block ends."""
    scratch.parent.mkdir(parents=True, exist_ok=True)
    rid = await stack.record(str(scratch), leg_id)
    try:
        yield WavTail(scratch)
    finally:
        await stack.stop_recording(rid)
        with contextlib.suppress(OSError):
            scratch.unlink()
