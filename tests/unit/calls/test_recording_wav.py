"""Recording files: waiting for a recorder's final header, joining two sides into stereo,
and a new file name for a call's second recording of a kind."""

from __future__ import annotations

import threading
import wave
from pathlib import Path

import numpy as np
import pytest

from callcenter.calls.recording_paths import recording_path, side_paths
from callcenter.calls.recording_wav import (
    RecordingFileError,
    join_sides,
    seconds,
    wait_complete,
)


def write(path: Path, samples: np.ndarray, rate: int = 8000, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return path


def read(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return data.reshape(-1, w.getnchannels()), w.getframerate()


def test_the_sides_become_left_and_right_and_the_parts_go(tmp_path: Path) -> None:
    caller = write(tmp_path / "x.caller.wav", np.arange(1, 8001))
    agent = write(tmp_path / "x.agent.wav", -np.arange(1, 8001))
    out = tmp_path / "x.wav"
    assert join_sides(caller, agent, out) == 1.0
    frames, rate = read(out)
    assert rate == 8000 and frames.shape == (8000, 2)
    assert (frames[:, 0] == np.arange(1, 8001)).all()
    assert (frames[:, 1] == -np.arange(1, 8001)).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.wav"]


def test_the_shorter_side_is_padded_with_silence_at_the_end(tmp_path: Path) -> None:
    # longer than one joining chunk, so the padding crosses a chunk boundary
    caller = write(tmp_path / "c.wav", np.full(100_000, 7))
    agent = write(tmp_path / "a.wav", np.full(90_000, 9))
    assert join_sides(caller, agent, tmp_path / "x.wav") == 100_000 / 8000
    frames, _ = read(tmp_path / "x.wav")
    assert (frames[:, 0] == 7).all()
    assert (frames[:90_000, 1] == 9).all() and (frames[90_000:, 1] == 0).all()


def test_parts_that_cannot_be_joined_are_kept_and_the_error_says_why(tmp_path: Path) -> None:
    caller = write(tmp_path / "c.wav", np.zeros(800), rate=8000)
    agent = write(tmp_path / "a.wav", np.zeros(1600), rate=16000)
    with pytest.raises(RecordingFileError, match="differ in sample rate"):
        join_sides(caller, agent, tmp_path / "x.wav")
    stereo = write(tmp_path / "s.wav", np.zeros(1600), channels=2)
    with pytest.raises(RecordingFileError, match="expected mono 16-bit"):
        join_sides(stereo, agent, tmp_path / "x.wav")
    with pytest.raises(RecordingFileError, match="cannot be read as WAV"):
        join_sides(tmp_path / "missing.wav", agent, tmp_path / "x.wav")
    assert not (tmp_path / "x.wav").exists() and caller.exists() and agent.exists()


def unfinished(path: Path, samples: int) -> bytes:
    """What pjmedia's writer has on disk before its recorder is destroyed: sizes still 0."""
    whole = write(path, np.ones(samples)).read_bytes()
    head = bytearray(whole[:44])
    head[4:8] = head[40:44] = bytes(4)
    path.write_bytes(bytes(head) + whole[44:])
    return whole


def test_waiting_ends_when_the_recorder_writes_its_final_header(tmp_path: Path) -> None:
    path = tmp_path / "r.wav"
    whole = unfinished(path, 4000)
    threading.Timer(0.2, path.write_bytes, (whole,)).start()
    wait_complete(path, timeout_s=5)
    assert seconds(path) == 0.5


def test_a_file_never_finished_is_an_error_that_says_what_to_check(tmp_path: Path) -> None:
    path = tmp_path / "r.wav"
    unfinished(path, 400)
    with pytest.raises(RecordingFileError, match="never finished.*disk space"):
        wait_complete(path, timeout_s=0.1)
    with pytest.raises(RecordingFileError, match="does not exist"):
        wait_complete(tmp_path / "none.wav", timeout_s=0.1)


def test_a_second_recording_of_a_call_gets_a_new_name(tmp_path: Path) -> None:
    first = recording_path(tmp_path, "c1", "call")
    assert first.name == "c1-call.wav" and recording_path(tmp_path, "c1", "call") == first
    first.write_bytes(b"")
    assert recording_path(tmp_path, "c1", "call").name == "c1-call-2.wav"
    assert recording_path(tmp_path, "c1", "voicemail").name == "c1-voicemail.wav"
    assert [p.name for p in side_paths(first)] == ["c1-call.caller.wav", "c1-call.agent.wav"]
    # Promised to another recording but not written yet (Twilio's come after they end).
    promised = recording_path(tmp_path, "c2", "call")
    assert recording_path(tmp_path, "c2", "call", taken={promised}).name == "c2-call-2.wav"
