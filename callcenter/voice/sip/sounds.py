"""Built-in sounds for SIP calls: hold music and the record beep (8 kHz mono WAV).

Generated once into the prompt cache so a fresh install has music on hold without shipping
audio files; an operator points ``sip.hold_music`` at their own (licensed) WAV instead.
"""

from __future__ import annotations

import wave
from functools import lru_cache
from pathlib import Path

import numpy as np

RATE = 8000


def _write(path: Path, samples: np.ndarray) -> None:
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.clip(samples, -1, 1).__mul__(32767).astype("<i2").tobytes())
    tmp.replace(path)


def _note(freqs: list[float], seconds: float, level: float = 0.12) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    tone = sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs)
    envelope = np.minimum(1, np.minimum(t / 0.05, (seconds - t) / 0.3))
    return level * tone * envelope


def hold_music() -> np.ndarray:
    """A calm 16-second loop of four chords (C, Am, F, G)."""
    chords = [
        [261.6, 329.6, 392.0],
        [220.0, 261.6, 329.6],
        [174.6, 220.0, 261.6],
        [196.0, 246.9, 293.7],
    ]
    return np.concatenate([_note(c, 4.0) for c in chords])


def beep() -> np.ndarray:
    return _note([1000.0], 0.4, level=0.3)


def ensure_sounds(folder: Path, hold_music_file: Path | None = None) -> tuple[Path, Path]:
    """Paths of the hold music and the beep, generating the built-in ones when missing."""
    folder.mkdir(parents=True, exist_ok=True)
    beep_path = folder / "beep-v1.wav"
    if not beep_path.exists():
        _write(beep_path, beep())
    if hold_music_file is not None:
        if not hold_music_file.is_file():
            from callcenter.errors import ConfigError

            raise ConfigError(
                f"sip.hold_music {hold_music_file} does not exist: give a WAV file "
                "(8 kHz mono is best) or unset it for the built-in music"
            )
        return hold_music_file, beep_path
    music = folder / "hold-music-v1.wav"
    if not music.exists():
        _write(music, hold_music())
    return music, beep_path


@lru_cache(maxsize=4096)
def wav_seconds(path: str) -> float:
    """How long a WAV file plays (0 when it cannot be read); prompt files never change."""
    try:
        with wave.open(path) as w:
            return w.getnframes() / float(w.getframerate() or 1)
    except (OSError, EOFError, wave.Error):
        return 0.0
