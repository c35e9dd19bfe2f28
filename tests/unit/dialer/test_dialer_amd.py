"""AMD on a labelled set of synthesised greetings (``tests/support/amd_corpus.py``: espeak-ng
voices and numpy voiced words; persons say a short line and wait, machines talk on and beep),
on lines app_amd's fixed threshold gets wrong, and on any input shape, rate and WAV format.
Prints accuracy and mean decision time (run pytest with -s to see them).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from dialer.amd import AmdDetector, AmdResult, AmdSettings, Verdict, detect
from dialer.amd_wav import AudioFileError, detect_file, label_of, read_wav
from tests.support.amd_corpus import greetings, synthetic_words
from tests.support.amd_line import on_line
from tests.support.audio import ulaw_encode, write_wav

RATE = 8000
FIXED = AmdSettings(adaptive=False)


def _accuracy(judged: list[tuple[Verdict, AmdResult]]) -> float:
    return sum(r.verdict is truth for truth, r in judged) / len(judged)


def test_amd_accuracy_and_decision_time_on_labelled_greetings(tmp_path: Path) -> None:
    rng = np.random.default_rng(42)
    lines = [(g.label, on_line(g, rng, noise_rms=rng.uniform(30, 170)))
             for g in greetings(tmp_path, RATE, 24, seed=42)]
    for name, settings in (("adaptive", AmdSettings()), ("fixed", FIXED)):
        judged = [(label, detect(audio, RATE, settings)) for label, audio in lines]
        accuracy = _accuracy(judged)
        mean_s = {lab: float(np.mean([r.decision_s for lb, r in judged if lb is lab]))
                  for lab in Verdict if lab is not Verdict.NOTSURE}
        print(
            f"\nAMD {name}: accuracy {100 * accuracy:.1f} % on {len(judged)} greetings; mean "
            f"decision time human {mean_s[Verdict.HUMAN]:.2f} s, machine "
            f"{mean_s[Verdict.MACHINE]:.2f} s; not sure "
            f"{sum(r.verdict is Verdict.NOTSURE for _, r in judged)}"
        )
        assert accuracy >= 0.85
        assert mean_s[Verdict.HUMAN] < 3.0 and mean_s[Verdict.MACHINE] < 4.0


def _person(rate: int = RATE, seed: int = 1) -> np.ndarray:
    """A breath, one voiced word ("Hello?") at about -25 dBFS, then 3 s of waiting (float
    on the int16 scale: to be made int16, floats are taken as [-1, 1])."""
    words = synthetic_words(np.random.default_rng(seed), 1, rate) / 2
    return np.concatenate([np.zeros(rate // 2), words, np.zeros(3 * rate)])


def _line(audio: np.ndarray, noise_rms: float, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, noise_rms, audio.size)
    return np.clip(audio + noise, -32768, 32767).astype(np.int16)


def test_streaming_frames_equals_whole_buffer_and_initial_silence_is_a_machine() -> None:
    for noise in (0.0, 400.0):
        audio = _line(_person(), noise, 2)
        det = AmdDetector(RATE)
        streamed = None
        for chunk in np.array_split(audio, 37):
            streamed = det.feed(chunk) or streamed
        assert streamed == detect(audio, RATE)
        assert streamed is not None and streamed.verdict is Verdict.HUMAN
    silent = detect(np.zeros(RATE * 4, dtype=np.int16), RATE)
    assert silent.verdict is Verdict.MACHINE and silent.reason.startswith("INITIALSILENCE")
    assert abs(silent.decision_s - 2.5) < 1e-9
    hiss = detect(_line(np.zeros(RATE * 4), 8, 3), RATE)  # -72 dBFS: an idle line, no one there
    assert hiss.reason == "INITIALSILENCE-2500"
    floats = detect(_person() / 32768.0, RATE)
    assert floats.verdict is Verdict.HUMAN


def test_noisy_line_person_is_a_person_where_the_fixed_threshold_hangs_up() -> None:
    # Hiss of RMS 400 (mean |sample| 320, above app_amd's 256), 9 dB under "Hello?".
    audio = _line(_person(), 400, 3)
    fixed = detect(audio, RATE, FIXED)
    assert fixed.verdict is Verdict.MACHINE and fixed.reason.startswith("LONGGREETING")
    adaptive = detect(audio, RATE)
    assert adaptive.verdict is Verdict.HUMAN, adaptive
    assert adaptive.decision_s < 2.5


def test_quiet_line_person_is_a_person_where_the_fixed_threshold_hears_silence() -> None:
    audio = _line(_person() / 16, 4, 4)  # "Hello?" at about -53 dBFS
    fixed = detect(audio, RATE, FIXED)
    assert fixed.verdict is Verdict.MACHINE and fixed.reason.startswith("INITIALSILENCE")
    adaptive = detect(audio, RATE)
    assert adaptive.verdict is Verdict.HUMAN, adaptive


def test_noisy_line_machine_stays_a_machine() -> None:
    rng = np.random.default_rng(5)
    greeting = synthetic_words(rng, 8, RATE) / 2
    audio = np.concatenate([np.zeros(RATE // 4), greeting, np.zeros(RATE)])
    result = detect(_line(audio, 400, 5), RATE)
    assert result.verdict is Verdict.MACHINE, result


def test_clean_line_at_normal_level_is_judged_as_app_amd_judges_it(tmp_path: Path) -> None:
    # The adaptive detector must not cost decision time where app_amd was already right.
    rng = np.random.default_rng(6)
    for g in greetings(tmp_path, RATE, 6, seed=6):
        audio = on_line(g, rng, level_dbfs=-26.0)
        assert detect(audio, RATE) == detect(audio, RATE, FIXED)


def test_stereo_float_and_16_khz_input_give_the_verdict_of_mono_8_khz() -> None:
    mono8 = _line(_person(8000), 300, 7)
    expected = detect(mono8, 8000)
    assert expected.verdict is Verdict.HUMAN
    stereo = np.stack([mono8, mono8], axis=1)  # frames x channels
    assert detect(stereo, 8000) == expected
    assert detect(stereo / 32768.0, 8000) == expected
    # The far end on one channel only: the mix is 6 dB down, the verdict the same.
    one_sided = np.stack([mono8, np.zeros_like(mono8)], axis=1)
    assert detect(one_sided, 8000).verdict is Verdict.HUMAN
    mono16 = _line(_person(16000), 300, 8)
    at16 = detect(mono16, 16000)
    assert at16.verdict is Verdict.HUMAN and abs(at16.decision_s - expected.decision_s) < 0.1
    with pytest.raises(TypeError, match="int16 or float"):
        detect(np.zeros(8000, dtype=np.uint8), 8000)


def _wav_header(tag: int, channels: int, rate: int, width: int, frames: int) -> bytes:
    data = frames * channels * width
    return (b"RIFF" + struct.pack("<I", 36 + data) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, tag, channels, rate, rate * channels * width,
                                    channels * width, 8 * width)
            + b"data" + struct.pack("<I", data))


def test_wav_files_pcm_and_ulaw_are_judged_and_bad_ones_explained(tmp_path: Path) -> None:
    audio = _line(_person(16000), 300, 9)
    (tmp_path / "human").mkdir()
    pcm = write_wav(tmp_path / "human" / "pcm.wav", audio, 16000)
    samples, rate = read_wav(pcm)
    assert rate == 16000 and samples.shape == (audio.size, 1)
    assert np.array_equal(samples[:, 0], audio)
    assert detect_file(pcm) == detect(audio, 16000)
    # The same level as in memory: noise under app_amd's 256 stays silence, read from a file.
    assert detect_file(pcm, FIXED) == detect(audio, 16000, FIXED)
    assert detect_file(pcm, FIXED).verdict is Verdict.HUMAN
    assert label_of(pcm) is Verdict.HUMAN and label_of(tmp_path / "x.wav") is None

    at8 = audio[::2]
    ulaw = tmp_path / "ulaw.wav"
    ulaw.write_bytes(_wav_header(7, 1, 8000, 1, at8.size) + ulaw_encode(at8))
    decoded, rate = read_wav(ulaw)
    assert rate == 8000 and np.max(np.abs(decoded[:, 0] - at8)) <= 512  # G.711's step
    assert detect_file(ulaw).verdict is Verdict.HUMAN

    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    with pytest.raises(AudioFileError, match="not a WAV file.*ffmpeg"):
        detect_file(text)
    adpcm = tmp_path / "adpcm.wav"
    adpcm.write_bytes(_wav_header(0x11, 1, 8000, 1, 100) + bytes(100))
    with pytest.raises(AudioFileError, match="format 0x0011.*u-law"):
        detect_file(adpcm)
    with pytest.raises(AudioFileError, match="cannot be read"):
        detect_file(tmp_path / "missing.wav")
