"""Answering-machine detection on the first seconds of answered audio, after Asterisk's app_amd.

A person says a word or two ("Hello?") and waits; a machine talks on ("Hi, you've reached
...") or, sometimes, starts after a long silence. Frame by frame (20 ms) the detector tracks
silence and voice against an energy threshold and decides:

- MACHINE: initial silence longer than ``initial_silence_ms``; a greeting longer than
  ``greeting_ms``; ``max_words`` words or more; a single word longer than ``max_word_ms``;
- HUMAN: a short greeting followed by ``after_greeting_silence_ms`` of silence;
- NOTSURE: nothing decided within ``total_analysis_ms``.

Pure: :class:`AmdDetector` is fed frames (int16 or float in [-1, 1] numpy arrays) and
returns an :class:`AmdResult` once decided. Twilio calls use Twilio's own AMD instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray


class Verdict(StrEnum):
    HUMAN = "HUMAN"
    MACHINE = "MACHINE"
    NOTSURE = "NOTSURE"


@dataclass(frozen=True)
class AmdResult:
    verdict: Verdict
    reason: str
    decision_s: float


@dataclass(frozen=True)
class AmdSettings:
    """app_amd's amd.conf settings, with its defaults (milliseconds, int16 energy)."""

    initial_silence_ms: int = 2500
    greeting_ms: int = 1500
    after_greeting_silence_ms: int = 800
    total_analysis_ms: int = 5000
    min_word_ms: int = 100
    between_words_silence_ms: int = 50
    max_words: int = 3
    max_word_ms: int = 5000
    silence_threshold: float = 256.0
    frame_ms: int = 20


class AmdDetector:
    """Feed audio with :meth:`feed` until it returns a result (then it keeps returning it)."""

    def __init__(self, sample_rate: int = 8000, settings: AmdSettings | None = None) -> None:
        self.rate = sample_rate
        self.s = settings or AmdSettings()
        self._frame = max(1, sample_rate * self.s.frame_ms // 1000)
        self._pending = np.zeros(0, dtype=np.float64)
        self._elapsed_ms = 0
        self._silence_ms = 0
        self._voice_ms = 0  # of the current word
        self._greeting_ms = 0  # voice so far, all words
        self._words = 0
        self._in_word = False
        self._heard_voice = False
        self.result: AmdResult | None = None

    def feed(self, audio: NDArray[np.generic]) -> AmdResult | None:
        if self.result is not None:
            return self.result
        samples = np.asarray(audio)
        if samples.dtype.kind == "f":
            samples = samples * 32768.0
        self._pending = np.concatenate([self._pending, samples.astype(np.float64).ravel()])
        n = self._pending.size // self._frame
        if n == 0:
            return None
        frames = self._pending[: n * self._frame].reshape(n, self._frame)
        self._pending = self._pending[n * self._frame:]
        for energy in np.abs(frames).mean(axis=1):
            self.result = self._step(float(energy))
            if self.result is not None:
                break
        return self.result

    def _decide(self, verdict: Verdict, reason: str) -> AmdResult:
        return AmdResult(verdict, reason, self._elapsed_ms / 1000.0)

    def _step(self, energy: float) -> AmdResult | None:
        s, ms = self.s, self.s.frame_ms
        self._elapsed_ms += ms
        if energy < s.silence_threshold:
            self._silence_ms += ms
            if self._in_word and self._silence_ms >= s.between_words_silence_ms:
                self._in_word = False
                self._voice_ms = 0
            if not self._heard_voice and self._silence_ms >= s.initial_silence_ms:
                return self._decide(Verdict.MACHINE, f"INITIALSILENCE-{self._silence_ms}")
            if self._words > 0 and self._silence_ms >= s.after_greeting_silence_ms:
                return self._decide(Verdict.HUMAN, f"HUMAN-{self._words}-{self._silence_ms}")
        else:
            self._heard_voice = True
            self._voice_ms += ms
            self._greeting_ms += ms
            if self._voice_ms >= s.min_word_ms:
                if not self._in_word:
                    self._in_word = True
                    self._words += 1
                    if self._words >= s.max_words:
                        return self._decide(Verdict.MACHINE, f"MAXWORDS-{self._words}")
                self._silence_ms = 0
            if self._greeting_ms >= s.greeting_ms:
                return self._decide(Verdict.MACHINE, f"LONGGREETING-{self._greeting_ms}")
            if self._voice_ms >= s.max_word_ms:
                return self._decide(Verdict.MACHINE, f"MAXWORDLENGTH-{self._voice_ms}")
        if self._elapsed_ms >= s.total_analysis_ms:
            return self._decide(Verdict.NOTSURE, f"TOOLONG-{self._elapsed_ms}")
        return None


def detect(audio: NDArray[np.generic], sample_rate: int = 8000,
           settings: AmdSettings | None = None) -> AmdResult:
    """Run the detector over a whole recording; NOTSURE if it ends before a decision."""
    detector = AmdDetector(sample_rate, settings)
    result = detector.feed(audio)
    if result is not None:
        return result
    return AmdResult(Verdict.NOTSURE, "TOOSHORT", len(np.asarray(audio)) / sample_rate)
