"""A labelled corpus of synthesised greetings for answering-machine detection.

Persons: a breath (up to 1 s, or none) after answering, a short "Hello?" (espeak-ng voices,
or numpy voiced "words"), then silence while they wait. Machines: a long greeting, a beep,
then silence.
:func:`greetings` builds them clean (digital silence around the speech), once per sample rate;
``tests/support/amd_line.py: on_line`` puts one on a line. The AMD unit test and
``bench/amd_bench.py`` both use it; ``tests/support/amd_real_corpus.py`` is its counterpart
with recorded voices.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from dialer.amd import Verdict
from tests.support.amd_line import Greeting, beep, framed
from tests.support.amd_line import talkers as mix
from tests.support.audio import speech

HUMAN_LINES = ["Hello?", "Yes?", "Hello, who is it?", "Hi.", "Speaking.", "Hello."]
MACHINE_LINES = [
    "Hi, you have reached John Smith. I cannot take your call right now, please leave a message.",
    "The person you are calling is not available. Please leave your message after the tone.",
    "Hello, this is Mary. Sorry I missed you. Leave your name and number and I will call back.",
    "Thank you for calling. Nobody can answer the phone. Please record your message now.",
]
VOICES = ["en", "en-us", "en-gb"]


def greetings(tmp: Path, rate: int = 8000, count: int = 24, seed: int = 42) -> list[Greeting]:
    """``count`` persons and ``count`` machines, alternately; half espeak-ng, half numpy words.

    The same ``seed`` gives the same greetings at every rate (the draws do not depend on it).
    """
    if shutil.which("espeak-ng") is None:
        raise AssertionError("espeak-ng is needed for the AMD corpus: apt-get install espeak-ng")
    rng = np.random.default_rng(seed)
    out: list[Greeting] = []
    for i in range(count):
        voice, speed = VOICES[i % len(VOICES)], int(rng.integers(140, 190))
        said = (
            speech(HUMAN_LINES[i % len(HUMAN_LINES)], tmp, voice, speed, rate).astype(np.float64)
            if i % 2
            else synthetic_words(rng, 1 + i % 2, rate)
        )
        out.append(framed(Verdict.HUMAN, rng, said, rate, tail_s=4.0))
        said = (
            speech(MACHINE_LINES[i % len(MACHINE_LINES)], tmp, voice, speed, rate).astype(
                np.float64
            )
            if i % 2
            else synthetic_words(rng, 8, rate)
        )
        greeting = np.concatenate([said, beep(rate)])
        out.append(framed(Verdict.MACHINE, rng, greeting, rate, tail_s=2.0))
    return out


def synthetic_words(rng: np.random.Generator, words: int, rate: int = 8000) -> np.ndarray:
    """Voiced "words" (five harmonics of 100-220 Hz, 0.2-0.45 s) with short pauses between."""
    parts = []
    for _ in range(words):
        dur = rng.uniform(0.2, 0.45)
        t = np.arange(int(dur * rate)) / rate
        f0 = rng.uniform(100, 220)
        voiced = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
        parts.append(4000 * np.hanning(t.size) ** 0.3 * voiced)
        parts.append(np.zeros(int(rng.uniform(0.08, 0.25) * rate)))
    return np.concatenate(parts)


BABBLE_LINES = [
    "So I told him we would meet on Tuesday, but then the train was late again and nobody knew.",
    "Can you pass me the file for the Johnson account? I think the numbers are wrong this month.",
    "The weather was lovely all week, we went to the beach twice and had dinner by the harbour.",
    "Please hold while I transfer you. Your call is important to us, an agent will be with you.",
]


def babble(tmp: Path, rate: int = 8000, talkers: int = 4) -> np.ndarray:
    """Voices talking in the background (an open-plan office, a TV): ``talkers`` espeak-ng
    voices over one another, each looping its line. Noise with a pitch, the hardest kind."""
    lines = [speech(line, tmp, VOICES[i % len(VOICES)], 150 + 10 * i, rate).astype(np.float64)
             for i, line in enumerate(BABBLE_LINES[:talkers])]
    return mix(lines)
