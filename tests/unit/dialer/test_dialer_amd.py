"""AMD on a labelled set of synthesised greetings (espeak-ng voices and numpy tones).

Persons: a short "hello?" then silence. Machines: a long greeting then a beep. Both over
line noise. Prints accuracy and mean decision time (run pytest with -s to see them).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from dialer.amd import AmdDetector, Verdict, detect
from tests.support.audio import speech

RATE = 8000
HUMAN_LINES = ["Hello?", "Yes?", "Hello, who is it?", "Hi.", "Speaking.", "Hello."]
MACHINE_LINES = [
    "Hi, you have reached John Smith. I cannot take your call right now, please leave a message.",
    "The person you are calling is not available. Please leave your message after the tone.",
    "Hello, this is Mary. Sorry I missed you. Leave your name and number and I will call back.",
    "Thank you for calling. Nobody can answer the phone. Please record your message now.",
]


def _noise(rng: np.random.Generator, seconds: float, level: float) -> np.ndarray:
    return rng.normal(0.0, level, int(seconds * RATE))


def _beep(seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return 6000 * np.sin(2 * np.pi * 1000 * t)


def _espeak(text: str, tmp: Path, voice: str, speed: int) -> np.ndarray:
    return speech(text, tmp, voice, speed).astype(np.float64)


def _synthetic_words(rng: np.random.Generator, words: int) -> np.ndarray:
    parts = []
    for _ in range(words):
        dur = rng.uniform(0.2, 0.45)
        t = np.arange(int(dur * RATE)) / RATE
        f0 = rng.uniform(100, 220)
        voiced = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
        parts.append(4000 * np.hanning(t.size) ** 0.3 * voiced)
        parts.append(np.zeros(int(rng.uniform(0.08, 0.25) * RATE)))
    return np.concatenate(parts)


def _corpus(tmp: Path) -> list[tuple[str, np.ndarray]]:
    if shutil.which("espeak-ng") is None:
        raise AssertionError("espeak-ng is needed for the AMD test: apt-get install espeak-ng")
    rng = np.random.default_rng(42)
    samples: list[tuple[str, np.ndarray]] = []
    for i in range(24):
        noise = rng.uniform(20, 120)
        voice, speed = ["en", "en-us", "en-gb"][i % 3], int(rng.integers(140, 190))
        # Person: rings, answers after a breath, says a short line, waits.
        human = HUMAN_LINES[i % len(HUMAN_LINES)]
        speech = _espeak(human, tmp, voice, speed) if i % 2 else _synthetic_words(rng, 1 + i % 2)
        audio = np.concatenate(
            [_noise(rng, rng.uniform(0.2, 1.0), noise), speech, _noise(rng, 4.0, noise)]
        )
        samples.append(("HUMAN", audio + rng.normal(0.0, noise, audio.size)))
        # Machine: a long greeting, a beep, then silence.
        line = MACHINE_LINES[i % len(MACHINE_LINES)]
        speech = _espeak(line, tmp, voice, speed) if i % 2 else _synthetic_words(rng, 8)
        audio = np.concatenate(
            [_noise(rng, rng.uniform(0.2, 1.0), noise), speech, _beep(), _noise(rng, 2.0, noise)]
        )
        samples.append(("MACHINE", audio + rng.normal(0.0, noise, audio.size)))
    return samples


def test_amd_accuracy_and_decision_time_on_labelled_greetings(tmp_path: Path) -> None:
    results = [(label, detect(audio.astype(np.int16), RATE)) for label, audio in _corpus(tmp_path)]
    right = [r for label, r in results if r.verdict.value == label]
    accuracy = len(right) / len(results)
    by_label = {lab: [r for lb, r in results if lb == lab] for lab in ("HUMAN", "MACHINE")}
    mean_s = {lab: float(np.mean([r.decision_s for r in rs])) for lab, rs in by_label.items()}
    print(
        f"\nAMD: accuracy {100 * accuracy:.1f} % on {len(results)} greetings; mean decision "
        f"time human {mean_s['HUMAN']:.2f} s, machine {mean_s['MACHINE']:.2f} s; "
        f"not sure {sum(r.verdict is Verdict.NOTSURE for _, r in results)}"
    )
    assert accuracy >= 0.85
    assert mean_s["HUMAN"] < 3.0 and mean_s["MACHINE"] < 4.0


def test_streaming_frames_equals_whole_buffer_and_initial_silence_is_a_machine() -> None:
    rng = np.random.default_rng(1)
    audio = np.concatenate([_synthetic_words(rng, 1), np.zeros(RATE * 2)]).astype(np.int16)
    det = AmdDetector(RATE)
    streamed = None
    for chunk in np.array_split(audio, 37):
        streamed = det.feed(chunk) or streamed
    assert streamed == detect(audio, RATE)
    assert streamed is not None and streamed.verdict is Verdict.HUMAN
    silent = detect(np.zeros(RATE * 4, dtype=np.int16), RATE)
    assert silent.verdict is Verdict.MACHINE and silent.reason.startswith("INITIALSILENCE")
    assert abs(silent.decision_s - 2.5) < 1e-9
    floats = detect(audio.astype(np.float64) / 32768.0, RATE)
    assert floats.verdict is Verdict.HUMAN
