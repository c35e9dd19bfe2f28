"""The WAV files recorders leave: wait until one is complete, measure it, and join the two
sides of a stereo recording into one file (caller on the left channel, agent on the right).

Blocking file work: the voice layers run it with ``asyncio.to_thread``. pjsua2 closes a
recorder's file on its media clock thread a tick or more after the recorder is destroyed
(the conference releases the port then), so :func:`wait_complete` watches the RIFF header,
which the writer fills in last, before anything reads the file.
"""

from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np

from callcenter.errors import CallCenterError

_HEADER = 44  # a PCM WAV header as pjmedia writes it: RIFF, fmt and data chunks, nothing else
_CHUNK_FRAMES = 8000 * 10  # joined ten seconds (at 8 kHz) at a time: memory stays flat


class RecordingFileError(CallCenterError):
    """A recording's file is missing, unfinished or not the audio it should be."""


def wait_complete(path: Path, timeout_s: float = 10.0, poll_s: float = 0.02) -> None:
    """Return once the recorder has written ``path``'s final header (its RIFF and data sizes
    match the file's length); raise :class:`RecordingFileError` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not _complete(path):
        if time.monotonic() >= deadline:
            state = "does not exist" if not path.exists() else "was never finished (no header)"
            raise RecordingFileError(
                f"recording file {path} {state} {timeout_s:.0f} s after its recorder stopped: "
                "check free disk space and that recordings_dir is writable"
            )
        time.sleep(poll_s)


def _complete(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            head = f.read(_HEADER)
            size = f.seek(0, 2)
    except OSError:
        return False
    if len(head) < _HEADER or head[:4] != b"RIFF" or head[36:40] != b"data":
        return False
    riff_len = int.from_bytes(head[4:8], "little")
    data_len = int.from_bytes(head[40:44], "little")
    return riff_len == size - 8 and data_len == size - _HEADER


def seconds(path: Path) -> float:
    """The length of a complete WAV file."""
    with _open(path) as w:
        return w.getnframes() / w.getframerate()


def join_sides(caller: Path, agent: Path, out: Path) -> float:
    """Interleave two complete mono 16-bit WAV files of the same rate into stereo ``out``
    (``caller`` left, ``agent`` right), pad the shorter one with silence at the end, delete
    the two parts and return the length in seconds. ``out`` appears whole or not at all."""
    with _open(caller) as left, _open(agent) as right:
        for part, part_path in ((left, caller), (right, agent)):
            if part.getnchannels() != 1 or part.getsampwidth() != 2:
                raise RecordingFileError(
                    f"recording part {part_path} has {part.getnchannels()} channel(s) of "
                    f"{8 * part.getsampwidth()}-bit audio, expected mono 16-bit: it was not "
                    "written by the engine's recorder; keep it and rejoin the sides by hand"
                )
        rate = left.getframerate()
        if right.getframerate() != rate:
            raise RecordingFileError(
                f"recording parts {caller} ({rate} Hz) and {agent} ({right.getframerate()} Hz) "
                "differ in sample rate: they cannot be joined; keep them as they are"
            )
        total = max(left.getnframes(), right.getnframes())
        tmp = out.with_suffix(out.suffix + ".part")
        with wave.open(str(tmp), "wb") as joined:
            joined.setnchannels(2)
            joined.setsampwidth(2)
            joined.setframerate(rate)
            done = 0
            while done < total:
                n = min(_CHUNK_FRAMES, total - done)
                frames = np.zeros((n, 2), dtype="<i2")
                for channel, part in enumerate((left, right)):
                    samples = np.frombuffer(part.readframes(n), dtype="<i2")
                    frames[: samples.size, channel] = samples
                joined.writeframes(frames.tobytes())
                done += n
    tmp.replace(out)
    caller.unlink()
    agent.unlink()
    return total / rate


def _open(path: Path) -> wave.Wave_read:
    try:
        return wave.open(str(path), "rb")
    except (OSError, EOFError, wave.Error) as exc:
        raise RecordingFileError(
            f"recording file {path} cannot be read as WAV ({exc}): "
            "check that recordings_dir is intact and not being cleaned up by another process"
        ) from None
