"""Test audio: tones as 8 kHz WAV or raw G.711 mu-law (what SIPp's rtp_stream sends)."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np


def tone(seconds: float, freq: float = 440.0, rate: int = 8000, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (level * np.sin(2 * np.pi * freq * t) * 32767).astype(np.int16)


def dtmf(keys: str, on_s: float = 0.08, off_s: float = 0.08, rate: int = 8000,
         level: float = 0.25) -> np.ndarray:
    """The tones of ``keys`` as a phone plays them in the audio: each ``on_s`` long, the two
    frequencies at ``level`` each, ``off_s`` of silence after each."""
    from callcenter.voice.inband_dtmf import COLS, KEYS, ROWS

    t = np.arange(int(rate * on_s)) / rate
    parts = []
    for key in keys:
        row = next(i for i, r in enumerate(KEYS) if key in r)
        col = KEYS[row].index(key)
        pair = np.sin(2 * np.pi * ROWS[row] * t) + np.sin(2 * np.pi * COLS[col] * t)
        parts += [level * pair * 32767, np.zeros(int(rate * off_s))]
    return np.concatenate(parts).astype(np.int16)


def write_wav(path: Path, samples: np.ndarray, rate: int = 8000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return path


def ulaw_encode(samples: np.ndarray) -> bytes:
    """G.711 mu-law, as in ITU-T G.711 (bias 0x84, clip 32635)."""
    x = samples.astype(np.int32)
    sign = np.where(x < 0, 0x80, 0)
    mag = np.minimum(np.abs(x), 32635) + 0x84
    exponent = np.floor(np.log2(mag)).astype(np.int32) - 7
    mantissa = (mag >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def write_ulaw(path: Path, samples: np.ndarray) -> Path:
    path.write_bytes(ulaw_encode(samples))
    return path


def speech(
    text: str, tmp: Path, voice: str = "en-us", speed: int = 160, rate: int = 8000
) -> np.ndarray:
    """``text`` spoken by espeak-ng, resampled to ``rate``, its padding silence trimmed."""
    out = tmp / "say.wav"
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(out), text],
        check=True,
        capture_output=True,
    )
    with wave.open(str(out)) as w:
        src = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
    idx = np.arange(0, pcm.size, src / rate)
    said = np.interp(idx, np.arange(pcm.size), pcm)
    nz = np.nonzero(np.abs(said) > 300)[0]
    return (said[nz[0] : nz[-1] + 1] if nz.size else said).astype(np.int16)
