"""``callcenter dialer simulate`` prints the figures and is deterministic by seed;
``callcenter dialer amd`` judges WAV recordings and scores the labelled ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from callcenter.cli.dialer import app
from tests.support.amd_corpus import synthetic_words
from tests.support.audio import write_wav


def test_simulate_prints_occupancy_abandon_and_calls_per_agent_hour() -> None:
    args = [
        "simulate",
        "--agents",
        "8",
        "--duration",
        "600",
        "--pacer",
        "progressive",
        "--seed",
        "3",
    ]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    for label in ("occupancy", "abandon rate          0.00 %", "calls per agent-hour"):
        assert label in first.output
    assert CliRunner().invoke(app, args).output == first.output


def test_amd_judges_labelled_recordings_and_names_the_unreadable_one(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    person = np.concatenate([np.zeros(4000), synthetic_words(rng, 1) / 2, np.zeros(24000)])
    machine = np.concatenate([np.zeros(2000), synthetic_words(rng, 8) / 2, np.zeros(8000)])
    for folder, audio in (("human", person), ("machine", machine)):
        (tmp_path / folder).mkdir()
        noisy = audio + rng.normal(0, 400, audio.size)  # too noisy for app_amd's threshold
        write_wav(tmp_path / folder / "a.wav", noisy.astype(np.int16))
    (tmp_path / "human" / "b.WAV").write_bytes(b"ID3 not a wav")

    adaptive = CliRunner().invoke(app, ["amd", str(tmp_path)])
    assert adaptive.exit_code == 1  # one file could not be read
    assert "b.WAV: not a WAV file" in adaptive.output
    assert "HUMAN    HUMAN-1-800" in adaptive.output
    assert "2 labelled: accuracy 100.0 %, persons judged machines 0.0 %" in adaptive.output

    fixed = CliRunner().invoke(app, ["amd", "--fixed", str(tmp_path / "human" / "a.wav")])
    assert fixed.exit_code == 0, fixed.output
    assert "MACHINE  LONGGREETING-1500" in fixed.output and "WRONG" in fixed.output
    assert "1 labelled: accuracy 0.0 %, persons judged machines 100.0 %" in fixed.output
