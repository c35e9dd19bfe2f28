"""Answering-machine detection on WAV recordings: read one, judge it, score a labelled set.

:func:`read_wav` reads the WAV formats telephony recordings come in: PCM 8, 16, 24 and 32-bit,
IEEE float, G.711 u-law and A-law, also as WAVE_FORMAT_EXTENSIBLE, any rate and channel count
(the stdlib ``wave`` module reads integer PCM only, and not the extensible header many tools
write). Anything else raises :class:`AudioFileError` saying what it is and how to convert it.
:func:`detect_file` runs :func:`dialer.amd.detect` on one; :func:`label_of` reads the
truth from a ``human/`` or ``machine/`` folder in its path; :func:`score` sums verdicts up.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from dialer.amd import AmdResult, AmdSettings, Verdict, detect

_PCM, _FLOAT, _ALAW, _ULAW, _EXTENSIBLE = 0x0001, 0x0003, 0x0006, 0x0007, 0xFFFE
_CONVERT = "convert it, e.g. ffmpeg -i IN -c:a pcm_s16le OUT.wav"
READ = "PCM 8/16/24/32-bit, IEEE float 32/64-bit, G.711 u-law and A-law"


class AudioFileError(ValueError):
    """A recording that cannot be read: which file, what is wrong, what to do."""

    def __init__(self, path: Path | str, problem: str, remedy: str = _CONVERT) -> None:
        self.path, self.problem, self.remedy = str(path), problem, remedy
        super().__init__(f"{path}: {problem}; {remedy}")


def _ulaw_table() -> NDArray[np.float64]:
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent, mantissa = (code >> 4) & 0x07, code & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(code & 0x80, -magnitude, magnitude).astype(np.float64)


def _alaw_table() -> NDArray[np.float64]:
    code = np.arange(256, dtype=np.int32) ^ 0x55
    exponent, mantissa = (code >> 4) & 0x07, code & 0x0F
    magnitude = np.where(exponent == 0, (mantissa << 4) + 8,
                         ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0))
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.float64)


_G711 = {_ULAW: _ulaw_table(), _ALAW: _alaw_table()}


def ulaw_decode(codes: bytes) -> NDArray[np.float64]:
    """G.711 mu-law bytes as samples on the int16 scale."""
    return _G711[_ULAW][np.frombuffer(codes, dtype=np.uint8)]


def _chunks(path: Path, data: bytes) -> dict[bytes, bytes]:
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RIFX") or data[8:12] != b"WAVE":
        raise AudioFileError(path, "not a WAV file (no RIFF/WAVE header)")
    if data[:4] == b"RIFX":
        raise AudioFileError(path, "big-endian WAV (RIFX) is not read")
    chunks: dict[bytes, bytes] = {}
    at = 12
    while at + 8 <= len(data):
        name, size = data[at:at + 4], struct.unpack_from("<I", data, at + 4)[0]
        end = at + 8 + size
        if name == b"data" and (size == 0 or end > len(data)):
            end = len(data)  # a recorder still writing (or killed) leaves the size 0 or too big
        chunks.setdefault(name, data[at + 8:end])
        at = end + size % 2  # chunks are padded to even sizes
    return chunks


def read_wav(path: Path | str) -> tuple[NDArray[np.float64], int]:
    """The samples on the int16 scale (frames x channels) and the sample rate."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AudioFileError(path, f"cannot be read ({exc.strerror})", "check the path") from exc
    chunks = _chunks(path, data)
    fmt, pcm = chunks.get(b"fmt "), chunks.get(b"data")
    if fmt is None or len(fmt) < 16:
        raise AudioFileError(path, "WAV file without a format (fmt) chunk")
    if pcm is None:
        raise AudioFileError(path, "WAV file without audio (no data chunk)")
    tag, channels, rate, _, block, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == _EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack_from("<H", fmt, 24)[0]  # the sub-format GUID starts with the tag
    if channels < 1 or rate < 1 or block < 1:
        raise AudioFileError(path, f"WAV header says {channels} channels at {rate} Hz")
    width = block // channels
    pcm = pcm[: len(pcm) - len(pcm) % block]
    if tag in _G711 and width == 1:
        samples = _G711[tag][np.frombuffer(pcm, dtype=np.uint8)]
    elif tag == _PCM and width == 1:
        samples = (np.frombuffer(pcm, dtype=np.uint8).astype(np.float64) - 128.0) * 256.0
    elif tag == _PCM and width in (2, 3, 4):
        raw = np.frombuffer(pcm, dtype=np.uint8).reshape(-1, width)
        # Little-endian signed samples of any width: the top two bytes are the int16 value.
        padded = np.zeros((raw.shape[0], 4), dtype=np.uint8)
        padded[:, 4 - width:] = raw
        samples = padded.view("<i4").ravel().astype(np.float64) / 65536.0
    elif tag == _FLOAT and width in (4, 8):
        samples = np.frombuffer(pcm, dtype="<f4" if width == 4 else "<f8") * 32768.0
    else:
        raise AudioFileError(
            path, f"WAV format 0x{tag:04x} with {bits}-bit samples is not read (read: {READ})"
        )
    if samples.size == 0:
        raise AudioFileError(path, "WAV file with no audio in it", "record some audio")
    return samples.astype(np.float64).reshape(-1, channels), rate


def detect_file(path: Path | str, settings: AmdSettings | None = None) -> AmdResult:
    """The AMD verdict on a WAV recording that starts when the call is answered."""
    samples, rate = read_wav(path)
    # detect() takes floats as [-1, 1]: the int16-scale floats read_wav gives must be scaled
    # down, or every frame is 32768 times too loud (app_amd's threshold hears noise as words).
    return detect(samples / 32768.0, rate, settings)


def label_of(path: Path | str) -> Verdict | None:
    """HUMAN or MACHINE when a folder on the path (the nearest) is named ``human`` or
    ``machine`` (any case, plural too), else None."""
    for folder in reversed(Path(path).parent.parts):
        match folder.lower():
            case "human" | "humans":
                return Verdict.HUMAN
            case "machine" | "machines":
                return Verdict.MACHINE
    return None


@dataclass(frozen=True)
class AmdScore:
    """Verdicts against the truth. A person judged a machine is hung up on (the costly error);
    a machine judged a person costs an agent a greeting. NOTSURE counts as wrong here."""

    judged: int
    accuracy: float
    human_as_machine: float  # of the persons
    machine_as_human: float  # of the machines
    not_sure: int
    mean_decision_s: float


def score(judged: Iterable[tuple[Verdict, AmdResult]]) -> AmdScore:
    """Score (truth, result) pairs; an empty set scores zeros."""
    pairs = list(judged)
    humans = [r for truth, r in pairs if truth is Verdict.HUMAN]
    machines = [r for truth, r in pairs if truth is Verdict.MACHINE]
    return AmdScore(
        judged=len(pairs),
        accuracy=sum(r.verdict is truth for truth, r in pairs) / max(1, len(pairs)),
        human_as_machine=sum(r.verdict is Verdict.MACHINE for r in humans) / max(1, len(humans)),
        machine_as_human=sum(r.verdict is Verdict.HUMAN for r in machines) / max(1, len(machines)),
        not_sure=sum(r.verdict is Verdict.NOTSURE for _, r in pairs),
        mean_decision_s=sum(r.decision_s for _, r in pairs) / max(1, len(pairs)),
    )
