"""What listening for keys in the audio costs: CPU per second of a caller's audio for the
DTMF detector (callcenter/voice/inband_dtmf.py), fed in 250 ms pieces as the live-audio tail
hands them over, on recorded speech (Asterisk's English prompts) and on key presses, and how
many callers one core could listen to at that cost.

    .venv/bin/python bench/inband_dtmf_bench.py [--seconds 600] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callcenter.voice.inband_dtmf import DtmfDetector  # noqa: E402
from tests.support.amd_real_corpus import SOUNDS  # noqa: E402
from tests.support.audio import dtmf  # noqa: E402

RATE = 8000
PIECE = RATE // 4  # 250 ms: what pjmedia's WAV writer flushes at once


def speech(seconds: float) -> np.ndarray:
    parts, have = [], 0
    for path in sorted(SOUNDS.rglob("*.wav")):
        with wave.open(str(path)) as w:
            parts.append(np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"))
        have += len(parts[-1])
        if have >= seconds * RATE:
            break
    if not parts:
        raise SystemExit(f"no prompts under {SOUNDS}: apt-get install asterisk-core-sounds-en-wav")
    return np.concatenate(parts)[: int(seconds * RATE)]


def keys(seconds: float) -> np.ndarray:
    one = dtmf("0123456789*#", on_s=0.1, off_s=0.4)
    return np.tile(one, int(seconds * RATE / len(one)) + 1)[: int(seconds * RATE)]


def cost(make: Callable[[], object], audio: np.ndarray, repeat: int) -> float:
    """Best CPU seconds over ``repeat`` runs to feed ``audio`` in 250 ms pieces."""
    best = float("inf")
    for _ in range(repeat):
        detector = make()
        started = time.process_time()
        for i in range(0, len(audio), PIECE):
            detector.feed(audio[i:i + PIECE])  # type: ignore[attr-defined]
        best = min(best, time.process_time() - started)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=600.0, help="audio per kind")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    print(f"command: .venv/bin/python bench/inband_dtmf_bench.py --seconds {a.seconds:g} "
          f"--repeat {a.repeat}")
    print(f"{'audio':8} {'CPU ms per s of audio':>22} {'callers per core':>17}")
    for name, audio in (("speech", speech(a.seconds)), ("keys", keys(a.seconds))):
        per_s = 1000 * cost(DtmfDetector, audio, a.repeat) / (len(audio) / RATE)
        print(f"{name:8} {per_s:22.3f} {1000 / per_s:17,.0f}")


if __name__ == "__main__":
    main()
