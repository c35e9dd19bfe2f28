"""Answering-machine detection benchmark: app_amd's fixed threshold against the adaptive one.

Two labelled corpora of persons (a short word or two, then they wait) and machines (a long
greeting, often a beep):

- ``--corpus synth`` (``tests/support/amd_corpus.py``): espeak-ng voices and numpy voiced
  words, on lines of every combination of speech level (quiet, normal, loud), noise (none,
  then white hiss, fluctuating pink noise and the babble of espeak-ng talkers at SNR 30 to
  5 dB) and sample rate (8 and 16 kHz);
- ``--corpus asterisk`` (``tests/support/amd_real_corpus.py``): recorded human speech,
  Asterisk's prompts joined into voicemail greetings and "Hello?"s, ``--split tune`` or
  ``held-out``; levels as above, noise none, white or the babble of other recorded prompts,
  each line as linear PCM and through G.711 mu-law, at 8 kHz and resampled to 16 kHz.

Both detectors judge the same audio. For each line it prints accuracy, the share of persons
judged machines (hung up on: the costly error), of machines judged persons (an agent hears a
greeting), and the mean decision time; ``--errors`` adds the reasons of the wrong verdicts.

    .venv/bin/python bench/amd_bench.py [--corpus synth|asterisk] [--split held-out]
        [--count 24] [--rate 8000] [--errors] [--plot docs/img/amd_bench.png]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dialer.amd import AmdResult, AmdSettings, Verdict, detect  # noqa: E402
from dialer.amd_wav import AmdScore, score  # noqa: E402
from tests.support import amd_corpus, amd_real_corpus  # noqa: E402
from tests.support.amd_line import Greeting, on_line  # noqa: E402

LEVELS = {"quiet": -45.0, "normal": -26.0, "loud": -12.0}  # active speech level, dBFS
SNRS = [30.0, 20.0, 15.0, 10.0, 5.0]
NOISES = {  # by corpus; see tests.support.amd_line: noise, talkers
    "synth": ["white", "fluctuating", "babble"],
    "asterisk": ["white", "babble"],
}
CODECS = {"synth": ["pcm"], "asterisk": ["pcm", "ulaw"]}
RATES = [8000, 16000]
MODES = {"fixed": AmdSettings(adaptive=False), "adaptive": AmdSettings()}


@dataclass(frozen=True)
class Line:
    level: str
    noise: str  # "clean" (digital silence) or a noise kind
    snr_db: float | None
    codec: str = "pcm"  # or "ulaw": through a G.711 mu-law encoder and decoder

    @property
    def snr(self) -> str:
        return "" if self.snr_db is None else f"{self.snr_db:g} dB"


def lines(corpus: str) -> list[Line]:
    return [Line(level, noise, snr, codec) for codec in CODECS[corpus] for level, noise, snr in
            [(level, "clean", None) for level in LEVELS]
            + list(itertools.product(LEVELS, NOISES[corpus], SNRS))]


Judged = dict[str, list[tuple[Verdict, AmdResult]]]  # by detector: (truth, result)


def heard(line: Line, g: Greeting, rng: np.random.Generator,
          background: np.ndarray) -> np.ndarray:
    return on_line(g, rng, level_dbfs=LEVELS[line.level], snr_db=line.snr_db,
                   noise_kind="white" if line.noise in ("clean", "babble") else line.noise,
                   background=background if line.noise == "babble" else None,
                   ulaw=line.codec == "ulaw")


def judge(audio: np.ndarray, rate: int, truth: Verdict, judged: Judged) -> None:
    for mode, settings in MODES.items():
        judged[mode].append((truth, detect(audio, rate, settings)))


def run_synth(args: argparse.Namespace, each: Callable[[Line, int, Judged], None]) -> None:
    """Greetings synthesised at each rate, put on each line at that rate."""
    with tempfile.TemporaryDirectory() as tmp:
        for rate in args.rate:
            print(f"espeak-ng: {2 * args.count} greetings at {rate} Hz", file=sys.stderr)
            corpus = amd_corpus.greetings(Path(tmp), rate, args.count, seed=args.seed)
            background = amd_corpus.babble(Path(tmp), rate)
            for i, line in enumerate(lines("synth")):
                rng = np.random.default_rng([args.seed, rate, i])
                judged: Judged = {mode: [] for mode in MODES}
                for g in corpus:
                    judge(heard(line, g, rng, background), rate, g.label, judged)
                each(line, rate, judged)


def run_asterisk(args: argparse.Namespace, each: Callable[[Line, int, Judged], None]) -> None:
    """Recorded greetings put on each 8 kHz line, its audio resampled to each rate."""
    corpus = amd_real_corpus.greetings(args.split, args.count)
    background = amd_real_corpus.babble()
    for i, line in enumerate(lines("asterisk")):
        rng = np.random.default_rng([args.seed, i])
        on_8k = [(g.label, heard(line, g, rng, background)) for g in corpus]
        for rate in args.rate:
            judged: Judged = {mode: [] for mode in MODES}
            for truth, audio in on_8k:
                judge(amd_real_corpus.heard_at(audio, rate), rate, truth, judged)
            each(line, rate, judged)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", choices=["synth", "asterisk"], default="synth")
    ap.add_argument("--split", choices=list(amd_real_corpus.SPLITS), default="held-out",
                    help="asterisk corpus: tune on one, report on the other")
    ap.add_argument("--count", type=int, default=24, help="persons (and machines) per rate")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rate", type=int, action="append", help="8000, 16000 (default: both)")
    ap.add_argument("--errors", action="store_true", help="count the wrong verdicts' reasons")
    ap.add_argument("--plot", type=Path, default=None, help="write a PNG plot here")
    args = ap.parse_args(argv)
    args.rate = args.rate or RATES
    started = time.monotonic()
    all_lines = lines(args.corpus)
    by_line: dict[Line, Judged] = {line: {mode: [] for mode in MODES} for line in all_lines}
    by_rate: dict[int, Judged] = {rate: {mode: [] for mode in MODES} for rate in args.rate}
    by_codec: dict[str, Judged] = {c: {mode: [] for mode in MODES} for c in CODECS[args.corpus]}
    done = 0

    def each(line: Line, rate: int, judged: Judged) -> None:
        nonlocal done
        for mode, j in judged.items():
            by_line[line][mode] += j
            by_rate[rate][mode] += j
            by_codec[line.codec][mode] += j
        done += 1
        print(f"\r  line {done}/{len(all_lines) * len(args.rate)} "
              f"({time.monotonic() - started:.0f} s)", end="", file=sys.stderr)

    (run_synth if args.corpus == "synth" else run_asterisk)(args, each)
    print(file=sys.stderr)
    codecs = len(by_codec) > 1
    rows = [(f"{line.level} | {line.noise} | {line.snr}" + (f" | {line.codec}" if codecs else ""),
             judged) for line, judged in by_line.items()]
    blank = " | |" + (" |" if codecs else "")
    rows += [(f"all at {rate // 1000} kHz{blank}", judged) for rate, judged in by_rate.items()]
    if codecs:
        rows += [(f"all {codec} | | |", judged) for codec, judged in by_codec.items()]
    rows.append((f"all{blank}", {mode: [j for judged in by_rate.values() for j in judged[mode]]
                                 for mode in MODES}))
    print_table([(name, {mode: score(j) for mode, j in judged.items()}) for name, judged in rows],
                codecs)
    if args.errors:
        print_errors(rows[-1][1])
    print(f"\nCommand: .venv/bin/python bench/amd_bench.py {' '.join(argv or sys.argv[1:])}"
          f"\n({time.monotonic() - started:.0f} s, {2 * args.count} greetings per line and rate)")
    if args.plot is not None:
        plot({line: {mode: score(j) for mode, j in judged.items()}
              for line, judged in by_line.items()}, NOISES[args.corpus], args.plot,
             "synthesised voices" if args.corpus == "synth"
             else f"recorded voices ({args.split}), PCM and G.711")
    return 0


def print_errors(judged: Judged) -> None:
    """How often each wrong verdict's reason (its name, without the figures) was given."""
    print("\nWrong verdicts by reason (fixed / adaptive):")
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for mode, pairs in judged.items():
        for truth, result in pairs:
            if result.verdict is not truth:
                key = (truth.value, result.reason.split("-")[0])
                counts.setdefault(key, dict.fromkeys(MODES, 0))[mode] += 1
    for (truth, reason), n in sorted(counts.items()):
        print(f"  {truth:7} judged {reason:15} {n['fixed']:5} / {n['adaptive']}")


def _pct(x: float) -> str:
    return f"{100 * x:.0f}"


def print_table(rows: list[tuple[str, dict[str, AmdScore]]], codecs: bool = False) -> None:
    print("\nBoth rates pooled; each cell fixed (app_amd) / adaptive. person -> machine: persons"
          " judged machines (hung up on), of persons; machine -> person: of machines.")
    print("| speech | noise | SNR |" + (" codec |" if codecs else "") + " accuracy % "
          "| person -> machine % | machine -> person % | not sure | mean decision s |")
    print("|---|---|---|" + ("---|" if codecs else "") + "---|---|---|---|---|")
    for name, by_mode in rows:
        f, a = by_mode["fixed"], by_mode["adaptive"]
        print(f"| {name} | {_pct(f.accuracy)} / {_pct(a.accuracy)} "
              f"| {_pct(f.human_as_machine)} / {_pct(a.human_as_machine)} "
              f"| {_pct(f.machine_as_human)} / {_pct(a.machine_as_human)} "
              f"| {f.not_sure} / {a.not_sure} "
              f"| {f.mean_decision_s:.2f} / {a.mean_decision_s:.2f} |")


def plot(results: dict[Line, dict[str, AmdScore]], noises: list[str], path: Path,
         corpus: str) -> None:
    """Accuracy and persons hung up on against SNR, a column per noise; lines through G.711
    (if any) are pooled with the linear ones."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("No plot: matplotlib is not installed (uv pip install matplotlib).")
        return
    labels = ["clean", *(f"{s:g}" for s in SNRS)]
    x = np.arange(len(labels))
    fig, axes = plt.subplots(2, len(noises), figsize=(4.7 * len(noises), 7), sharex=True,
                             sharey=True, squeeze=False)
    codecs = sorted({line.codec for line in results})
    colours = {"quiet": "tab:blue", "normal": "tab:green", "loud": "tab:red"}
    metrics = {"accuracy": "accuracy %", "human_as_machine": "persons judged machines %"}
    for row, (metric, ylabel) in enumerate(metrics.items()):
        for col, noise in enumerate(noises):
            ax = axes[row][col]
            for level, mode in itertools.product(LEVELS, MODES):
                y = [np.mean([100 * getattr(results[Line(level, n, s, c)][mode], metric)
                              for c in codecs])
                     for n, s in [("clean", None), *((noise, s) for s in SNRS)]]
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
    fig.suptitle(f"AMD on {corpus}, 8 and 16 kHz:\n"
                 "app_amd's fixed threshold (dashed) vs adaptive (solid)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"Plot: {path}")


if __name__ == "__main__":
    sys.exit(main())
