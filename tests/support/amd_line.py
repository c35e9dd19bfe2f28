"""A greeting as a dialer hears it: its level, the line's noise, G.711, the sample rate.

Shared by the AMD corpora (``tests/support/amd_corpus.py``: synthesised voices;
``tests/support/amd_real_corpus.py``: Asterisk's recorded prompts), their unit tests and
``bench/amd_bench.py``. A :class:`Greeting` is built clean (digital silence around the
speech); :func:`on_line` puts it on a line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dialer.amd import Verdict
from dialer.amd_wav import ulaw_decode
from tests.support.audio import ulaw_encode


@dataclass(frozen=True)
class Greeting:
    label: Verdict  # HUMAN or MACHINE
    audio: np.ndarray  # float64 on the int16 scale, digital silence around the speech
    speech: slice  # where the speech (and a machine's beep) is in ``audio``
    rate: int
    name: str = ""  # what is said, for a listing of verdicts


def framed(label: Verdict, rng: np.random.Generator, said: np.ndarray, rate: int,
           tail_s: float, lead: np.ndarray | None = None, name: str = "") -> Greeting:
    """``said`` after ``lead`` (ring-back, say), or 0-1 s of silence, then ``tail_s`` of it."""
    if lead is None:
        lead = np.zeros(int(rng.uniform(0.0, 1.0) * rate))
    audio = np.concatenate([lead, said, np.zeros(int(tail_s * rate))])
    return Greeting(label, audio, slice(lead.size, lead.size + said.size), rate, name)


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


def talkers(lines: list[np.ndarray]) -> np.ndarray:
    """Voices over one another (an open-plan office, a TV): each line looped to the longest
    and started a fraction further in, so that they do not pause together."""
    n = max(x.size for x in lines)
    return np.sum([np.roll(np.resize(x, n), i * n // len(lines)) for i, x in enumerate(lines)],
                  axis=0)


def resample(audio: np.ndarray, rate: int, to: int) -> np.ndarray:
    """``audio`` at ``rate`` as heard at ``to`` (band-limited, by FFT): an 8 kHz call recorded
    at 16 kHz has nothing above 4 kHz."""
    if to == rate:
        return audio
    n = audio.size
    m = int(round(n * to / rate))
    return np.fft.irfft(np.fft.rfft(audio.astype(np.float64)), m) * (m / n)


def on_line(g: Greeting, rng: np.random.Generator, *, level_dbfs: float | None = None,
            snr_db: float | None = None, noise_rms: float = 0.0, noise_kind: str = "white",
            background: np.ndarray | None = None, ulaw: bool = False) -> np.ndarray:
    """``g`` as heard on a line, int16: its speech moved to ``level_dbfs`` (kept if None), plus
    noise ``snr_db`` below the speech level, or of ``noise_rms`` when no SNR is given: of
    ``noise_kind``, or a random stretch of ``background`` (see :func:`talkers`) if given;
    through a G.711 mu-law encoder and decoder if ``ulaw``."""
    level = speech_level_dbfs(g) if level_dbfs is None else level_dbfs
    audio = g.audio * 10 ** ((level - speech_level_dbfs(g)) / 20)
    if snr_db is not None:
        noise_rms = 32768.0 * 10 ** ((level - snr_db) / 20)
    if noise_rms > 0 and background is not None:
        heard = np.roll(np.resize(background, audio.size), int(rng.integers(background.size)))
        audio = audio + heard * noise_rms / np.sqrt(np.mean(heard**2))
    elif noise_rms > 0:
        audio = audio + noise(rng, audio.size, g.rate, noise_rms, noise_kind)
    pcm = np.clip(np.round(audio), -32768, 32767).astype(np.int16)
    return ulaw_decode(ulaw_encode(pcm)).astype(np.int16) if ulaw else pcm
