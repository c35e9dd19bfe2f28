"""Dialer pacing benchmark: progressive, VICIdial-style adaptive, ours and the clairvoyant bound.

Runs every pacer over the same grid of simulated campaigns (agents 5-100, answer rate
10-50 %, mean talk 60-300 s), each scenario with the same seed for every pacer, and prints
occupancy, abandon rate and connected calls per agent-hour side by side, then checks the goals:
ours never above 3 % abandon; occupancy within 2 points of the bound; at least 5 points above
the adaptive baseline where ours abandons no more than it does.

    .venv/bin/python bench/dialer_bench.py [--quick] [--workers 2] [--plot PNG]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dialer.pacing import AdaptivePacer, PredictivePacer, ProgressivePacer  # noqa: E402
from dialer.sim import ClairvoyantPacer, SimConfig, SimResult, simulate  # noqa: E402

PACERS = {
    "progressive": ProgressivePacer,
    "adaptive": AdaptivePacer,
    "ours": PredictivePacer,
    "bound": ClairvoyantPacer,
}
TARGET = 0.03


def scenarios(quick: bool) -> list[SimConfig]:
    agents = (5, 20, 100) if quick else (5, 20, 50, 100)
    answer = (0.1, 0.3, 0.5)
    talk = (60.0, 300.0) if quick else (60.0, 180.0, 300.0)
    out = []
    for i, (a, p, t) in enumerate(itertools.product(agents, answer, talk)):
        # About 40 agent-hours per scenario (at least one hour) so small teams see enough calls.
        duration = min(max(3600.0, 40 * 3600.0 / a), 8 * 3600.0)
        out.append(SimConfig(agents=a, answer_rate=p, talk_mean_s=t, duration_s=duration,
                             abandon_target=TARGET, seed=1000 + i))
    return out


def run_one(cfg: SimConfig) -> tuple[SimConfig, dict[str, SimResult]]:
    return cfg, {name: simulate(cfg, pacer()) for name, pacer in PACERS.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smaller grid (12 scenarios)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--plot", default=str(ROOT / "docs" / "img" / "dialer_bench.png"))
    args = ap.parse_args(argv)
    grid = scenarios(args.quick)
    started = time.monotonic()
    results: list[tuple[SimConfig, dict[str, SimResult]]] = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = [pool.submit(run_one, cfg) for cfg in grid]
        for done, fut in enumerate(as_completed(futures), 1):
            results.append(fut.result())
            print(f"\r{done}/{len(grid)} scenarios, {time.monotonic() - started:.0f} s",
                  end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    results.sort(key=lambda r: (r[0].agents, r[0].answer_rate, r[0].talk_mean_s))
    print_table(results)
    print_goals(results)
    print(f"\nCommand: .venv/bin/python bench/dialer_bench.py {' '.join(argv or sys.argv[1:])}"
          f"\nWall time: {time.monotonic() - started:.0f} s with {args.workers} workers")
    plot(results, Path(args.plot))
    return 0


def print_table(results: list[tuple[SimConfig, dict[str, SimResult]]]) -> None:
    head = "| agents | answer | talk s | hours |" + "".join(
        f" {n} occ % | {n} ab % |" for n in PACERS) + " ours calls/agent-h |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for cfg, res in results:
        cells = "".join(f" {100 * r.occupancy:.1f} | {100 * r.abandon_rate:.2f} |"
                        for r in res.values())
        print(f"| {cfg.agents} | {100 * cfg.answer_rate:.0f} % | {cfg.talk_mean_s:.0f} |"
              f" {cfg.duration_s / 3600:.1f} |{cells} {res['ours'].calls_per_agent_hour:.1f} |")


def print_goals(results: list[tuple[SimConfig, dict[str, SimResult]]]) -> None:
    over = [c for c, r in results if r["ours"].abandon_rate > TARGET]
    gaps = [100 * (r["bound"].occupancy - r["ours"].occupancy) for _, r in results]
    near = sum(g <= 2.0 for g in gaps)
    comparable = [(c, r) for c, r in results
                  if r["ours"].abandon_rate <= r["adaptive"].abandon_rate + 1e-12]
    ahead = [100 * (r["ours"].occupancy - r["adaptive"].occupancy) for _, r in results]
    n = len(results)
    print(f"\nGoal 1, ours <= {100 * TARGET:.0f} % abandon: {n - len(over)}/{n} scenarios"
          + (" (over: " + ", ".join(
              f"{c.agents}/{c.answer_rate}/{c.talk_mean_s:.0f}" for c in over) + ")"
             if over else ""))
    print(f"Goal 2, ours within 2 points of the bound: {near}/{n} scenarios; "
          f"gap mean {sum(gaps) / n:.1f}, max {max(gaps):.1f} points")
    five = sum(100 * (r["ours"].occupancy - r["adaptive"].occupancy) >= 5.0 for _, r in comparable)
    print(f"Goal 3, ours >= 5 points above adaptive at equal or lower abandon: {five}/{n} "
          f"scenarios ({len(comparable)} with equal or lower abandon); lead mean "
          f"{sum(ahead) / n:.1f}, min {min(ahead):.1f} points")
    worst = max(r["adaptive"].abandon_rate for _, r in results)
    print(f"Adaptive baseline abandon: max {100 * worst:.2f} %; "
          f"ours max {100 * max(r['ours'].abandon_rate for _, r in results):.2f} %")


def plot(results: list[tuple[SimConfig, dict[str, SimResult]]], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("No plot: matplotlib is not installed (uv pip install matplotlib).")
        return
    fig, (occ, ab) = plt.subplots(2, 1, figsize=(12, 7), sharex=True)
    xs = range(len(results))
    for name in PACERS:
        occ.plot(xs, [100 * r[name].occupancy for _, r in results], marker="o", label=name)
        ab.plot(xs, [100 * r[name].abandon_rate for _, r in results], marker="o", label=name)
    ab.axhline(100 * TARGET, color="red", linestyle="--", linewidth=1, label="3 % limit")
    occ.set_ylabel("occupancy %")
    ab.set_ylabel("abandon %")
    ab.set_xticks(list(xs), [f"{c.agents}a {100 * c.answer_rate:.0f}% {c.talk_mean_s:.0f}s"
                             for c, _ in results], rotation=90, fontsize=7)
    occ.legend(ncol=4)
    occ.set_title("Dialer pacing over the scenario grid (agents, answer rate, mean talk)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"Plot: {path}")


if __name__ == "__main__":
    raise SystemExit(main())
