"""Answering-machine detection benchmark: app_amd's fixed threshold against the adaptive one.

A labelled corpus (``tests/support/amd_corpus.py``: persons saying "Hello?" and the like,
machines playing long greetings ending in a beep; espeak-ng voices and numpy voiced words) is
put on lines of every combination of speech level (quiet, normal, loud), noise (none, then
white hiss, fluctuating pink noise and the babble of background talkers at SNR 30 to 5 dB)
and sample rate (8 and 16 kHz). Both detectors judge the same audio.
For each line it prints accuracy, the share of persons judged machines (hung up on: the costly
error), of machines judged persons (an agent hears a greeting), and the mean decision time.

    .venv/bin/python bench/amd_bench.py [--count 24] [--plot docs/img/amd_bench.png]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dialer.amd import AmdResult, AmdSettings, Verdict, detect  # noqa: E402
from dialer.amd_wav import AmdScore, score  # noqa: E402
from tests.support.amd_corpus import Greeting, babble, greetings, on_line  # noqa: E402

LEVELS = {"quiet": -45.0, "normal": -26.0, "loud": -12.0}  # active speech level, dBFS
SNRS = [30.0, 20.0, 15.0, 10.0, 5.0]
NOISES = ["white", "fluctuating", "babble"]  # see tests.support.amd_corpus: noise, babble
RATES = [8000, 16000]
MODES = {"fixed": AmdSettings(adaptive=False), "adaptive": AmdSettings()}


@dataclass(frozen=True)
class Line:
    level: str
    noise: str  # "clean" (digital silence) or a noise kind
    snr_db: float | None

    @property
    def snr(self) -> str:
        return "" if self.snr_db is None else f"{self.snr_db:g} dB"


LINES = [Line(level, "clean", None) for level in LEVELS] + [
    Line(level, noise, snr) for level, noise, snr in itertools.product(LEVELS, NOISES, SNRS)
]


Judged = dict[str, list[tuple[Verdict, AmdResult]]]  # by detector: (truth, result)


def run_line(line: Line, rate: int, corpus: list[Greeting], background: np.ndarray,
             seed: int) -> Judged:
    rng = np.random.default_rng([seed, rate, LINES.index(line)])
    judged: Judged = {mode: [] for mode in MODES}
    for g in corpus:
        audio = on_line(g, rng, level_dbfs=LEVELS[line.level], snr_db=line.snr_db,
                        noise_kind="white" if line.noise in ("clean", "babble") else line.noise,
                        background=background if line.noise == "babble" else None)
        for mode, settings in MODES.items():
            judged[mode].append((g.label, detect(audio, rate, settings)))
    return judged


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=24, help="persons (and machines) per rate")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--plot", type=Path, default=None, help="write a PNG plot here")
    args = ap.parse_args(argv)
    started = time.monotonic()
    by_line: dict[Line, Judged] = {line: {mode: [] for mode in MODES} for line in LINES}
    by_rate: dict[int, Judged] = {rate: {mode: [] for mode in MODES} for rate in RATES}
    with tempfile.TemporaryDirectory() as tmp:
        for rate in RATES:
            print(f"espeak-ng: {2 * args.count} greetings at {rate} Hz", file=sys.stderr)
            corpus = greetings(Path(tmp), rate, args.count, seed=args.seed)
            background = babble(Path(tmp), rate)
            for i, line in enumerate(LINES):
                for mode, j in run_line(line, rate, corpus, background, args.seed).items():
                    by_line[line][mode] += j
                    by_rate[rate][mode] += j
                print(f"\r  {rate} Hz: line {i + 1}/{len(LINES)} "
                      f"({time.monotonic() - started:.0f} s)", end="", file=sys.stderr)
            print(file=sys.stderr)
    rows = [(f"{line.level} | {line.noise} | {line.snr}", judged)
            for line, judged in by_line.items()]
    rows += [(f"all at {rate // 1000} kHz | |", judged) for rate, judged in by_rate.items()]
    rows.append(("all | |", {mode: by_rate[RATES[0]][mode] + by_rate[RATES[1]][mode]
                             for mode in MODES}))
    print_table([(name, {mode: score(j) for mode, j in judged.items()}) for name, judged in rows])
    print(f"\nCommand: .venv/bin/python bench/amd_bench.py {' '.join(argv or sys.argv[1:])}"
          f"\n({time.monotonic() - started:.0f} s, {2 * args.count} greetings per line and rate)")
    if args.plot is not None:
        plot({line: {mode: score(j) for mode, j in judged.items()}
              for line, judged in by_line.items()}, args.plot)
    return 0


def _pct(x: float) -> str:
    return f"{100 * x:.0f}"


def print_table(rows: list[tuple[str, dict[str, AmdScore]]]) -> None:
    print("\nBoth rates pooled; each cell fixed (app_amd) / adaptive. person -> machine: persons"
          " judged machines (hung up on), of persons; machine -> person: of machines.")
    print("| speech | noise | SNR | accuracy % | person -> machine % | machine -> person % "
          "| not sure | mean decision s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, by_mode in rows:
        f, a = by_mode["fixed"], by_mode["adaptive"]
        print(f"| {name} | {_pct(f.accuracy)} / {_pct(a.accuracy)} "
              f"| {_pct(f.human_as_machine)} / {_pct(a.human_as_machine)} "
              f"| {_pct(f.machine_as_human)} / {_pct(a.machine_as_human)} "
              f"| {f.not_sure} / {a.not_sure} "
              f"| {f.mean_decision_s:.2f} / {a.mean_decision_s:.2f} |")


def plot(results: dict[Line, dict[str, AmdScore]], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("No plot: matplotlib is not installed (uv pip install matplotlib).")
        return
    labels = ["clean", *(f"{s:g}" for s in SNRS)]
    x = np.arange(len(labels))
    fig, axes = plt.subplots(2, 3, figsize=(14, 7), sharex=True, sharey=True)
    colours = {"quiet": "tab:blue", "normal": "tab:green", "loud": "tab:red"}
    metrics = {"accuracy": "accuracy %", "human_as_machine": "persons judged machines %"}
    for row, (metric, ylabel) in enumerate(metrics.items()):
        for col, noise in enumerate(NOISES):
            ax = axes[row][col]
            for level, mode in itertools.product(LEVELS, MODES):
                lines = [Line(level, "clean", None), *(Line(level, noise, s) for s in SNRS)]
                y = [100 * getattr(results[line][mode], metric) for line in lines]
                ax.plot(x, y, "-" if mode == "adaptive" else "--", marker="o",
                        color=colours[level], label=f"{level}, {mode}")
            ax.set_title(f"{noise} noise", fontsize=10)
            ax.set_ylabel(ylabel)
            ax.set_ylim(-3, 103)
            ax.grid(alpha=0.3)
            ax.set_xticks(x, labels)
            if row == 1:
                ax.set_xlabel("SNR dB")
    axes[0][0].legend(fontsize=7, ncol=2)
    fig.suptitle("AMD: app_amd's fixed threshold (dashed) vs adaptive (solid), 8 and 16 kHz")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"Plot: {path}")


if __name__ == "__main__":
    sys.exit(main())
