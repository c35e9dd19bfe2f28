"""A labelled corpus of synthesised greetings for answering-machine detection.

Persons: a breath (up to 1 s, or none) after answering, a short "Hello?" (espeak-ng voices,
or numpy voiced "words"), then silence while they wait. Machines: a long greeting, a beep,
then silence.
:func:`greetings` builds them clean (digital silence around the speech), once per sample rate;
:func:`on_line` puts one on a line: the speech at a level, with white noise at an SNR or an
absolute level. The AMD unit test and ``bench/amd_bench.py`` both use it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dialer.amd import Verdict
from tests.support.audio import speech

HUMAN_LINES = ["Hello?", "Yes?", "Hello, who is it?", "Hi.", "Speaking.", "Hello."]
MACHINE_LINES = [
    "Hi, you have reached John Smith. I cannot take your call right now, please leave a message.",
    "The person you are calling is not available. Please leave your message after the tone.",
    "Hello, this is Mary. Sorry I missed you. Leave your name and number and I will call back.",
    "Thank you for calling. Nobody can answer the phone. Please record your message now.",
]
VOICES = ["en", "en-us", "en-gb"]


@dataclass(frozen=True)
class Greeting:
    label: Verdict  # HUMAN or MACHINE
    audio: np.ndarray  # float64 on the int16 scale, digital silence around the speech
    speech: slice  # where the speech (and a machine's beep) is in ``audio``
    rate: int


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
        out.append(_framed(Verdict.HUMAN, rng, said, rate, tail_s=4.0))
        said = (
            speech(MACHINE_LINES[i % len(MACHINE_LINES)], tmp, voice, speed, rate).astype(
                np.float64
            )
            if i % 2
            else synthetic_words(rng, 8, rate)
        )
        greeting = np.concatenate([said, beep(rate)])
        out.append(_framed(Verdict.MACHINE, rng, greeting, rate, tail_s=2.0))
    return out


def _framed(label: Verdict, rng: np.random.Generator, said: np.ndarray, rate: int,
            tail_s: float) -> Greeting:
    lead = int(rng.uniform(0.0, 1.0) * rate)
    audio = np.concatenate([np.zeros(lead), said, np.zeros(int(tail_s * rate))])
    return Greeting(label, audio, slice(lead, lead + said.size), rate)


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


def beep(rate: int = 8000, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return 6000 * np.sin(2 * np.pi * 1000 * t)


def speech_level_dbfs(g: Greeting) -> float:
    """Active speech level in dBFS (RMS against 32768): the RMS of the 20 ms frames within
    30 dB of the loudest, so that pauses do not count (as ITU-T P.56 leaves them out)."""
    x = g.audio[g.speech]
    n = g.rate // 50
    rms = np.sqrt(np.mean(x[: x.size // n * n].reshape(-1, n) ** 2, axis=1))
    active = rms[rms >= rms.max() * 10 ** (-30 / 20)]
    return float(20 * np.log10(np.sqrt(np.mean(active**2)) / 32768.0))


def noise(rng: np.random.Generator, n: int, rate: int, rms: float,
          kind: str = "white") -> np.ndarray:
    """``n`` samples of noise of RMS ``rms``: ``white`` (steady hiss) or ``fluctuating`` (pink,
    its level swaying +-6 dB at 0.2-2 Hz, as traffic or a room: the hard case for a floor)."""
    if kind == "white":
        return rng.normal(0.0, rms, n)
    if kind != "fluctuating":
        raise ValueError(f"noise kind {kind!r}: white or fluctuating")
    size = 1 << max(0, n - 1).bit_length()  # a power of two: fast FFTs at every length
    spectrum = np.fft.rfft(rng.normal(0.0, 1.0, size))
    spectrum /= np.sqrt(np.maximum(np.fft.rfftfreq(size, 1 / rate), 20.0))
    pink = np.fft.irfft(spectrum, size)[:n]
    t = np.arange(n) / rate
    sway = sum(np.sin(2 * np.pi * rng.uniform(0.2, 2.0) * t + rng.uniform(0, 2 * np.pi))
               for _ in range(3))
    shaped = pink * 10 ** (6 * sway / 3 / 20)
    return shaped * rms / np.sqrt(np.mean(shaped**2))


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
    n = max(x.size for x in lines)
    return np.sum([np.roll(np.resize(x, n), i * n // talkers) for i, x in enumerate(lines)],
                  axis=0)


def on_line(g: Greeting, rng: np.random.Generator, *, level_dbfs: float | None = None,
            snr_db: float | None = None, noise_rms: float = 0.0, noise_kind: str = "white",
            background: np.ndarray | None = None) -> np.ndarray:
    """``g`` as heard on a line, int16: its speech moved to ``level_dbfs`` (kept if None), plus
    noise ``snr_db`` below the speech level, or of ``noise_rms`` when no SNR is given: of
    ``noise_kind``, or a random stretch of ``background`` (see :func:`babble`) if given."""
    level = speech_level_dbfs(g) if level_dbfs is None else level_dbfs
    audio = g.audio * 10 ** ((level - speech_level_dbfs(g)) / 20)
    if snr_db is not None:
        noise_rms = 32768.0 * 10 ** ((level - snr_db) / 20)
    if noise_rms > 0 and background is not None:
        heard = np.roll(np.resize(background, audio.size), int(rng.integers(background.size)))
        audio = audio + heard * noise_rms / np.sqrt(np.mean(heard**2))
    elif noise_rms > 0:
        audio = audio + noise(rng, audio.size, g.rate, noise_rms, noise_kind)
    return np.clip(np.round(audio), -32768, 32767).astype(np.int16)
