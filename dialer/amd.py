"""Answering-machine detection on the first seconds of answered audio, after Asterisk's app_amd.

A person says a word or two ("Hello?") and waits; a machine talks on ("Hi, you've reached
...") or, sometimes, starts after a long silence. Frame by frame (20 ms) the detector tracks
silence and voice and decides:

- MACHINE: initial silence longer than ``initial_silence_ms``; a greeting longer than
  ``greeting_ms``; ``max_words`` words or more; a single word longer than ``max_word_ms``;
- HUMAN: a short greeting followed by ``after_greeting_silence_ms`` of silence;
- NOTSURE: nothing decided within ``total_analysis_ms``.

A frame is voice when its energy (mean absolute 16-bit sample) is:

- adaptive (``AmdSettings.adaptive``, the default): clearly above the line's noise floor,
  tracked as the frames arrive (:class:`LineLevels`): ``voice_margin_db`` above it if the frame
  has a voice's pitch (:func:`periodicity`), ``unvoiced_margin_db`` if not; and above both
  ``min_voice_energy`` and a gap between words (``below_peak_db`` under the loudest speech so
  far but at most ``silence_threshold``, and at least ``far_below_peak_db`` under it: on a
  clean line at normal level, app_amd's words);
- fixed (app_amd): above ``silence_threshold``. A noisy line then sounds like one endless
  greeting (a person judged LONGGREETING) and a quiet one like silence (INITIALSILENCE).

Pure: :class:`AmdDetector` is fed samples (int16 or float in [-1, 1] numpy arrays, mono or
frames x channels, at any rate) and returns an :class:`AmdResult` once decided. Twilio calls
use Twilio's own AMD instead.
"""

from __future__ import annotations

from collections import deque
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
    decision_s: float  # audio the detector had been fed when it decided


@dataclass(frozen=True)
class AmdSettings:
    """app_amd's amd.conf settings with its defaults (milliseconds, int16 energy), and ours.

    ``adaptive`` chooses the voice test: against the line's tracked noise floor and speech
    level (the fields after it) or, off, app_amd's fixed ``silence_threshold``.
    """

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
    adaptive: bool = True
    voice_margin_db: float = 6.0
    min_voice_energy: float = 40.0  # about -58 dBFS: digital silence and faint hiss stay silence
    noise_window_ms: int = 1500
    noise_rise_db_per_s: float = 3.0
    below_peak_db: float = 9.0
    voicing: float = 0.5  # periodicity from which a frame has a pitch
    unvoiced_margin_db: float = 15.0
    far_below_peak_db: float = 20.0


class LineLevels:
    """The line's noise floor and loudest speech so far, one frame energy at a time.

    Floor, by minimum statistics: the lowest smoothed energy (three frames' mean) over the
    last ``window`` frames. Speech has pauses, noise does not, so the lowest recent energy is
    the noise. It falls at once (a quieter frame proves the noise is lower) and rises at most
    ``rise`` times per frame, so a long greeting without pauses does not lift it to the speech.

    Peak: the loudest frame so far that is not a lone spike (the median of three frames), so
    the click of a handset picked up does not pass for speech.
    """

    _SMOOTH = 3

    def __init__(self, window: int, rise: float) -> None:
        self._recent: deque[float] = deque(maxlen=self._SMOOTH)
        self._window: deque[float] = deque(maxlen=max(1, window))
        self._rise = rise
        self.floor: float | None = None
        self.peak = 0.0

    def update(self, energy: float) -> None:
        self._recent.append(energy)
        self._window.append(sum(self._recent) / len(self._recent))
        self.peak = max(self.peak, sorted(self._recent)[(len(self._recent) - 1) // 2])
        lowest = min(self._window)
        if self.floor is None or lowest <= self.floor:
            self.floor = lowest
        else:
            self.floor = min(lowest, self.floor * self._rise)

    def prime(self) -> None:
        """Start from the lowest energy seen so far, not from the first frames' level."""
        self.floor = min(self._window)


class AmdDetector:
    """Feed audio with :meth:`feed` until it returns a result (then it keeps returning it).

    Adaptive, the first second of frames is held, then judged in order against the levels
    seen in it: a greeting may start at once, before any noise was heard, and noise heard
    before a person's "Hello?" must not count as words for want of knowing how loud they
    speak. It costs no decision time: app_amd's earliest verdict on a person is 0.9 s (a
    0.1 s word, then 0.8 s of silence), and people take longer.
    """

    _WARMUP_MS = 1000

    def __init__(self, sample_rate: int = 8000, settings: AmdSettings | None = None) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample rate must be positive, got {sample_rate}")
        self.rate = sample_rate
        self.s = settings or AmdSettings()
        ms = self.s.frame_ms
        self._frame = max(1, sample_rate * ms // 1000)
        self._pending = np.zeros(0, dtype=np.float64)
        self._fed_ms = 0
        self._elapsed_ms = 0
        self._silence_ms = 0
        self._voice_ms = 0  # of the current word
        self._greeting_ms = 0  # voice so far, all words
        self._words = 0
        self._in_word = False
        self._heard_voice = False
        self._levels = LineLevels(
            self.s.noise_window_ms // ms, 10 ** (self.s.noise_rise_db_per_s * ms / 20_000)
        )
        self._margin = 10 ** (self.s.voice_margin_db / 20)
        self._below_peak = 10 ** (-self.s.below_peak_db / 20)
        self._unvoiced_margin = 10 ** (self.s.unvoiced_margin_db / 20)
        self._far_below_peak = 10 ** (-self.s.far_below_peak_db / 20)
        self._last_frame = np.zeros(self._frame)
        self._warmup: list[tuple[float, float]] | None = [] if self.s.adaptive else None
        self.result: AmdResult | None = None

    def feed(self, audio: NDArray[np.generic]) -> AmdResult | None:
        if self.result is not None:
            return self.result
        self._pending = np.concatenate([self._pending, mono(audio)])
        n = self._pending.size // self._frame
        if n == 0:
            return None
        frames = self._pending[: n * self._frame].reshape(n, self._frame)
        self._pending = self._pending[n * self._frame:]
        energies = np.abs(frames).mean(axis=1)
        if self.s.adaptive:
            # Each frame with the one before it: 40 ms holds two periods of a 50 Hz voice.
            before = np.vstack([self._last_frame, frames[:-1]])
            self._last_frame = frames[-1]
            voicing = periodicity(np.hstack([before, frames]), self.rate)
        else:
            voicing = np.zeros(n)
        for energy, voiced in zip(energies, voicing, strict=True):
            self._fed_ms += self.s.frame_ms
            self.result = self._on_frame(float(energy), float(voiced))
            if self.result is not None:
                break
        return self.result

    def _on_frame(self, energy: float, voicing: float) -> AmdResult | None:
        if not self.s.adaptive:
            return self._step(energy >= self.s.silence_threshold)
        self._levels.update(energy)
        if self._warmup is None:
            return self._step(self._is_voice(energy, voicing))
        self._warmup.append((energy, voicing))
        if len(self._warmup) * self.s.frame_ms < self._WARMUP_MS:
            return None
        held, self._warmup = self._warmup, None
        self._levels.prime()
        for e, v in held:
            result = self._step(self._is_voice(e, v))
            if result is not None:
                return result
        return None

    def _is_voice(self, energy: float, voicing: float) -> bool:
        levels = self._levels
        # The loudest speech so far sets how deep a gap between words is. At normal level
        # that is app_amd's threshold, so a clean line is cut into app_amd's words (same
        # verdicts, same decision times); quieter speech gets a lower one, louder speech a
        # higher one (app_amd's 256 is about 20 dB under a normal voice's loudest frames),
        # which keeps a TV 30 dB under a loud "Hello?" out of the words.
        gap = max(min(self.s.silence_threshold, levels.peak * self._below_peak),
                  levels.peak * self._far_below_peak)
        if energy < max(gap, self.s.min_voice_energy):
            return False
        # Above the noise: a little if the frame has a pitch (noise swells have none), a lot
        # if not (a loud consonant, or a swell of noise too big to be anything else).
        floor = levels.floor or 0.0
        if voicing >= self.s.voicing:
            return energy >= floor * self._margin
        return energy >= floor * self._unvoiced_margin

    def _decide(self, verdict: Verdict, reason: str) -> AmdResult:
        return AmdResult(verdict, reason, self._fed_ms / 1000.0)

    def _step(self, voice: bool) -> AmdResult | None:
        s, ms = self.s, self.s.frame_ms
        self._elapsed_ms += ms
        if not voice:
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


def periodicity(windows: NDArray[np.float64], rate: int) -> NDArray[np.float64]:
    """How periodic each row is at a voice's pitch (60-400 Hz): the highest normalised
    autocorrelation over those lags, 0 (noise) to 1 (a steady vowel). Only 100-1000 Hz counts,
    where a voice's first harmonics are strong: the rumble of traffic below and the hiss of a
    line above would otherwise swamp them."""
    x = windows - windows.mean(axis=1, keepdims=True)
    m = x.shape[1]
    lags = np.arange(max(1, rate // 400), min(m // 2, rate // 60) + 1)
    size = 1 << (2 * m - 1).bit_length()
    freqs = np.fft.rfftfreq(size, 1 / rate)
    power = np.abs(np.fft.rfft(x, size, axis=1)) ** 2 * ((freqs >= 100) & (freqs <= 1000))
    ac = np.fft.irfft(power, size, axis=1)
    r = ac[:, lags] / np.maximum(ac[:, :1], 1e-12) * (m / (m - lags))
    return np.asarray(np.minimum(r.max(axis=1), 1.0), dtype=np.float64)


def mono(audio: NDArray[np.generic]) -> NDArray[np.float64]:
    """Samples on the int16 scale, one channel: floats in [-1, 1] are scaled by 32768, integers
    are taken as 16-bit values, a 2-D array is frames x channels and its channels are mixed."""
    samples = np.asarray(audio)
    if samples.dtype.kind not in "if":
        raise TypeError(
            f"AMD takes int16 or float samples, got {samples.dtype}: convert them first "
            "(8-bit unsigned PCM: (x - 128) * 256)"
        )
    if samples.ndim > 2:
        raise ValueError(f"AMD takes mono or frames x channels audio, got shape {samples.shape}")
    out = samples.astype(np.float64)
    if samples.dtype.kind == "f":
        out *= 32768.0
    return out.mean(axis=1) if out.ndim == 2 else out.ravel()


def detect(audio: NDArray[np.generic], sample_rate: int = 8000,
           settings: AmdSettings | None = None) -> AmdResult:
    """Run the detector over a whole recording; NOTSURE if it ends before a decision."""
    detector = AmdDetector(sample_rate, settings)
    result = detector.feed(audio)
    if result is not None:
        return result
    return AmdResult(Verdict.NOTSURE, "TOOSHORT", len(np.asarray(audio)) / sample_rate)
