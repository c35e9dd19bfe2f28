"""Text prompts rendered to 8 kHz mono 16-bit WAV with espeak-ng, cached by content hash.

The SIP layer plays these files; the Twilio layer speaks ``Say`` actions with
``<Say>`` instead. A file's name is the SHA-256 of everything that changes the
audio (text, voice, language, espeak-ng version, output format), so a cache
hit never runs espeak-ng and an engine upgrade never serves stale audio.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

SAMPLE_RATE = 8000
_FORMAT = "wav-8000-mono-s16-v1"
_VARIANTS = {"female": "+f3", "male": "+m3"}
_KNOWN_MAX = 4096


class PromptError(RuntimeError):
    """espeak-ng is missing or failed."""


class PromptRenderer:
    """Render ``Say`` texts to WAV files under ``cache_dir``.

    ``voice`` may be ``"female"``/``"male"`` (an espeak-ng variant) or ``None``;
    other values (Twilio voice names) are ignored here. ``language`` is a BCP 47
    tag such as ``en-US`` or ``de-DE``, mapped to an espeak-ng voice.
    """

    def __init__(self, cache_dir: str | Path, espeak: str = "espeak-ng") -> None:
        self.cache_dir = Path(cache_dir)
        self.espeak = espeak
        self._version: str | None = None
        # Files are named by content and never rewritten, so once known a path stays right;
        # this spares every prompt of every call a hash and a stat. (A dict's get and set are
        # atomic, and render runs in worker threads.)
        self._known: dict[tuple[str, str, str | None], Path] = {}
        # Renders under way, shared by every call that wants the same prompt meanwhile: a
        # burst of calls into a new (or restarted) engine starts one espeak-ng, not hundreds.
        self._rendering: dict[tuple[str, str, str | None], asyncio.Future[Path]] = {}

    def render(self, text: str, language: str = "en-US", voice: str | None = None) -> Path:
        """The cached WAV for ``text``, rendering it first if needed."""
        known = self._known.get((text, language, voice))
        if known is not None:
            return known
        target = self._render(text, language, voice)
        if len(self._known) >= _KNOWN_MAX:  # texts with data in them (balances) keep coming
            self._known.clear()
        self._known[(text, language, voice)] = target
        return target

    async def render_async(
        self, text: str, language: str = "en-US", voice: str | None = None
    ) -> Path:
        """:meth:`render` for the event loop: a known prompt is answered at once, only a new
        one goes to a worker thread (espeak-ng and the disk), once however many calls ask."""
        key = (text, language, voice)
        known = self._known.get(key)
        if known is not None:
            return known
        pending = self._rendering.get(key)
        if pending is None:
            pending = asyncio.ensure_future(asyncio.to_thread(self.render, text, language, voice))
            self._rendering[key] = pending
            pending.add_done_callback(lambda _: self._rendering.pop(key, None))
        # A caller who hangs up meanwhile must not cancel the render the others wait for.
        return await asyncio.shield(pending)

    def _render(self, text: str, language: str, voice: str | None) -> Path:
        espeak_voice = _espeak_voice(language, voice)
        key = "\0".join([_FORMAT, self.version(), espeak_voice, language, voice or "", text])
        target = self.cache_dir / f"{hashlib.sha256(key.encode()).hexdigest()}.wav"
        if target.is_file():
            return target
        raw = self._run(["-v", espeak_voice, "--stdout", "--stdin"], text.encode())
        audio, rate = _read_wav(raw)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a concurrent reader never sees half a file.
        with tempfile.NamedTemporaryFile(dir=self.cache_dir, suffix=".tmp", delete=False) as tmp:
            _write_wav(tmp, resample(audio, rate, SAMPLE_RATE), SAMPLE_RATE)
        os.replace(tmp.name, target)
        return target

    def version(self) -> str:
        if self._version is None:
            self._version = self._run(["--version"], b"").decode(errors="replace").strip()
        return self._version

    def _run(self, args: list[str], stdin: bytes) -> bytes:
        binary = shutil.which(self.espeak)
        if binary is None:
            raise PromptError(
                f"{self.espeak!r} not found; install the Debian package "
                "'espeak-ng' (apt-get install espeak-ng)"
            )
        done = subprocess.run(
            [binary, *args], input=stdin, capture_output=True, timeout=60, check=False
        )
        if done.returncode != 0:
            raise PromptError(
                f"espeak-ng failed ({done.returncode}): "
                f"{done.stderr.decode(errors='replace').strip()}"
            )
        return done.stdout


def _espeak_voice(language: str, voice: str | None) -> str:
    base = language.lower()
    # espeak-ng names most voices by language only (de, fr); English and a few others by region.
    if base.split("-")[0] not in ("en", "pt"):
        base = base.split("-")[0]
    return base + _VARIANTS.get((voice or "").lower(), "")


def resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Band-limited resampling of int16 mono audio by FFT (fine for prompt-length audio)."""
    if rate == target or audio.size == 0:
        return audio.astype(np.int16)
    count = int(round(audio.size * target / rate))
    spectrum = np.fft.rfft(audio.astype(np.float64))
    keep = count // 2 + 1
    spectrum = (
        spectrum[:keep] if keep <= spectrum.size else np.pad(spectrum, (0, keep - spectrum.size))
    )
    out = np.fft.irfft(spectrum, n=count) * (count / audio.size)
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


def _read_wav(data: bytes) -> tuple[np.ndarray, int]:
    # espeak-ng writes a streaming header whose sizes are 0xFFFFFFFF; wave copes when
    # reading everything, but the frame count is wrong, so take the samples from the data.
    with wave.open(io.BytesIO(data)) as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise PromptError("espeak-ng produced audio that is not 16-bit mono")
        rate = wav.getframerate()
        frames = wav.readframes(wav.getnframes())
    return np.frombuffer(frames[: len(frames) // 2 * 2], dtype="<i2"), rate


def _write_wav(file: object, audio: np.ndarray, rate: int) -> None:
    with wave.open(file, "wb") as wav:  # type: ignore[call-overload]
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(audio.astype("<i2").tobytes())
