"""AMD on recorded human voices (``tests/support/amd_real_corpus.py``: Asterisk's prompts
joined into voicemail greetings and "Hello?"s), both splits, on five lines: clean at normal
level, quiet with hiss, G.711 with hiss 10 dB under the voice, loud with hiss 15 dB under it,
background talk 30 dB under a normal voice; a third at 16 kHz. The floors are what
``bench/amd_bench.py --corpus asterisk`` measured on these lines, less a margin (adaptive:
95-100 % right, persons hung up on 0-7 %; app_amd's fixed threshold 60-63 %).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dialer.amd import AmdResult, AmdSettings, Verdict, detect
from dialer.amd_wav import score
from tests.support import amd_real_corpus
from tests.support.amd_line import on_line
from tests.support.amd_real_corpus import babble, greetings, heard_at

LINES = [  # speech level dBFS, SNR dB, G.711 mu-law, background talk instead of hiss
    (-26.0, None, False, False),
    (-45.0, 20.0, False, False),
    (-26.0, 10.0, True, False),
    (-12.0, 15.0, False, False),
    (-26.0, 30.0, False, True),
]


def _judged(split: str, settings: AmdSettings) -> list[tuple[Verdict, AmdResult]]:
    rng = np.random.default_rng(3)
    talk = babble()
    judged = []
    for level, snr, ulaw, talking in LINES:
        for i, g in enumerate(greetings(split, 12)):
            rate = 16000 if i % 3 == 2 else 8000
            line = on_line(g, rng, level_dbfs=level, snr_db=snr, ulaw=ulaw,
                           background=talk if talking else None)
            audio = heard_at(line, rate)
            judged.append((g.label, detect(audio, rate, settings)))
    return judged


@pytest.mark.parametrize("split", list(amd_real_corpus.SPLITS))
def test_amd_on_recorded_voices(split: str) -> None:
    adaptive = score(_judged(split, AmdSettings()))
    fixed = score(_judged(split, AmdSettings(adaptive=False)))
    print(f"\nAMD on recorded voices ({split}, {adaptive.judged} greetings): adaptive {adaptive}"
          f"\n  fixed {fixed}")
    assert adaptive.accuracy >= 0.92
    assert adaptive.human_as_machine <= 0.10
    assert adaptive.machine_as_human <= 0.05
    assert adaptive.not_sure == 0
    assert adaptive.mean_decision_s < 2.2
    # app_amd's threshold fails on these lines (quiet: machines pass as persons; hiss over
    # 256: persons hung up on): the floors above are not met by any detector.
    assert fixed.accuracy <= 0.75


def test_missing_sounds_say_what_to_install(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(amd_real_corpus, "SOUNDS", tmp_path)
    with pytest.raises(AssertionError, match="apt-get install asterisk-core-sounds-en-wav"):
        amd_real_corpus.prompt.__wrapped__("hello")
