"""Dialer pacing benchmark: progressive, VICIdial-style adaptive, ours and the clairvoyant bound.

Runs every pacer over the same grid of simulated campaigns (agents 5-100, answer rate
10-50 %, mean talk 60-300 s), each scenario with the same seed for every pacer, and prints
occupancy, abandon rate and connected calls per agent-hour side by side, then checks the goals:
ours never above 3 % abandon; occupancy within 2 points of the bound; at least 5 points above
the adaptive baseline where ours abandons no more than it does.

``--stress`` runs instead a second, seeded random grid of campaigns unlike the first (1-200
agents, answer rate 5-60 %, machines 0-40 %, ring mean 4-20 s and cv 0.3-1, talk 30-400 s
with cv 0.5-1.5, wrap-up 0-60 s, patience 5-40 s) and checks that ours stays at or under
3 % abandon there too: the pacer must not be tuned to the first grid only.

``--blind`` feeds ours snapshots without the means and ring times (``mean_talk_s``,
``mean_wrap_s`` ``None``, ``ring_to_answer_s`` empty), as a dialer that keeps them to itself
would: it must learn them from what it sees across snapshots. ``--tick S`` has every pacer
decide every ``S`` seconds instead of every second.

    .venv/bin/python bench/dialer_bench.py [--quick | --stress] [--blind] [--tick S]
        [--workers 2] [--plot PNG]
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dialer.pacing import (  # noqa: E402
    AdaptivePacer,
    DialerSnapshot,
    PredictivePacer,
    ProgressivePacer,
)
from dialer.sim import ClairvoyantPacer, SimConfig, SimResult, simulate  # noqa: E402

PACERS = {
    "progressive": ProgressivePacer,
    "adaptive": AdaptivePacer,
    "ours": PredictivePacer,
    "bound": ClairvoyantPacer,
}
TARGET = 0.03


class BlindPredictive:
    """Ours, fed no mean talk or wrap-up time and no ring times (``--blind``)."""

    def __init__(self) -> None:
        self.pacer = PredictivePacer()

    def calls_to_place(self, snapshot: DialerSnapshot) -> int:
        return self.pacer.calls_to_place(replace(
            snapshot, mean_talk_s=None, mean_wrap_s=None, ring_to_answer_s=()))


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


def stress_scenarios(count: int = 48, seed: int = 2026) -> list[SimConfig]:
    """Campaigns drawn at random (seeded) from ranges wider than the main grid's."""
    import numpy as np

    rng = np.random.default_rng(seed)
    teams = (1, 2, 3, 5, 8, 12, 20, 35, 50, 100, 150, 200)
    out = []
    for i in range(count):
        agents = teams[i % len(teams)]  # every team size several times
        answer = float(rng.uniform(0.05, 0.6))
        machine = float(min(rng.uniform(0.0, 0.4), 0.95 - answer))
        ring = float(rng.uniform(4.0, 20.0))
        talk = float(math.exp(rng.uniform(math.log(30.0), math.log(400.0))))
        out.append(SimConfig(
            agents=agents, answer_rate=answer, machine_rate=machine,
            ring_mean_s=ring, ring_cv=float(rng.uniform(0.3, 1.0)),
            no_answer_s=max(25.0, 2.0 * ring),
            talk_mean_s=talk, talk_cv=float(rng.uniform(0.5, 1.5)),
            wrap_mean_s=float(rng.choice([0.0, rng.uniform(2.0, 60.0)], p=[0.2, 0.8])),
            patience_mean_s=float(rng.uniform(5.0, 40.0)),
            duration_s=min(max(3600.0, 40 * 3600.0 / agents), 8 * 3600.0),
            abandon_target=TARGET, seed=5000 + i,
        ))
    return out


def run_one(cfg: SimConfig, blind: bool = False) -> tuple[SimConfig, dict[str, SimResult]]:
    pacers = {**PACERS, "ours": BlindPredictive} if blind else PACERS
    return cfg, {name: simulate(cfg, pacer()) for name, pacer in pacers.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smaller grid (12 scenarios)")
    ap.add_argument("--stress", action="store_true",
                    help="the robustness grid (48 random campaigns) instead of the main grid")
    ap.add_argument("--blind", action="store_true",
                    help="feed ours no means and no ring times (it learns them itself)")
    ap.add_argument("--tick", type=float, default=None,
                    help="seconds between the pacers' decisions (default 1; the robustness of "
                         "a dialer that asks more or less often)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--plot", default=None,
                    help="PNG to write (default docs/img/dialer_bench.png, _stress for --stress)")
    args = ap.parse_args(argv)
    grid = stress_scenarios() if args.stress else scenarios(args.quick)
    if args.tick is not None:
        grid = [replace(cfg, tick_s=max(args.tick, 0.01)) for cfg in grid]
    default_plot = ("dialer_bench_stress.png" if args.stress else "dialer_bench.png").replace(
        ".png", "_blind.png" if args.blind else ".png")
    plot_path = Path(args.plot or ROOT / "docs" / "img" / default_plot)
    started = time.monotonic()
    results: list[tuple[SimConfig, dict[str, SimResult]]] = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = [pool.submit(run_one, cfg, args.blind) for cfg in grid]
        for done, fut in enumerate(as_completed(futures), 1):
            results.append(fut.result())
            print(f"\r{done}/{len(grid)} scenarios, {time.monotonic() - started:.0f} s",
                  end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    results.sort(key=lambda r: (r[0].agents, r[0].answer_rate, r[0].talk_mean_s))
    if args.stress:
        print_stress(results)
    else:
        print_table(results)
        print_goals(results)
    print(f"\nCommand: .venv/bin/python bench/dialer_bench.py {' '.join(argv or sys.argv[1:])}"
          f"\nWall time: {time.monotonic() - started:.0f} s with {args.workers} workers")
    plot(results, plot_path)
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


def print_stress(results: list[tuple[SimConfig, dict[str, SimResult]]]) -> None:
    head = ("| agents | answer | machine | ring s (cv) | talk s (cv) | wrap s | patience s |"
            " hours |" + "".join(f" {n} occ % | {n} ab % |" for n in PACERS))
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for c, res in results:
        cells = "".join(f" {100 * r.occupancy:.1f} | {100 * r.abandon_rate:.2f} |"
                        for r in res.values())
        print(f"| {c.agents} | {100 * c.answer_rate:.0f} % | {100 * c.machine_rate:.0f} % |"
              f" {c.ring_mean_s:.0f} ({c.ring_cv:.1f}) | {c.talk_mean_s:.0f} ({c.talk_cv:.1f}) |"
              f" {c.wrap_mean_s:.0f} | {c.patience_mean_s:.0f} | {c.duration_s / 3600:.1f} |"
              + cells)
    n = len(results)
    over = [(c, r["ours"]) for c, r in results if r["ours"].abandon_rate > TARGET]
    print(f"\nStress, ours <= {100 * TARGET:.0f} % abandon: {n - len(over)}/{n} scenarios"
          + (" (over: " + ", ".join(f"{c.agents} agents {100 * r.abandon_rate:.2f} %"
                                    for c, r in over) + ")" if over else ""))
    gaps = [100 * (r["bound"].occupancy - r["ours"].occupancy) for _, r in results]
    ahead = [100 * (r["ours"].occupancy - r["adaptive"].occupancy) for _, r in results]
    print(f"Stress, gap to the bound: mean {sum(gaps) / n:.1f}, max {max(gaps):.1f} points; "
          f"lead over adaptive: mean {sum(ahead) / n:.1f}, min {min(ahead):.1f} points")
    ours_max = max(r["ours"].abandon_rate for _, r in results)
    adaptive_max = max(r["adaptive"].abandon_rate for _, r in results)
    adaptive_over = sum(r["adaptive"].abandon_rate > TARGET for _, r in results)
    print(f"Stress, abandon max: ours {100 * ours_max:.2f} %, adaptive {100 * adaptive_max:.2f} %"
          f" (adaptive over 3 % in {adaptive_over})")


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
    occ.set_title("Dialer pacing over the scenario grid (agents, answer rate, mean talk)"
                  + (": stress grid" if any(c.seed >= 5000 for c, _ in results) else ""))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"Plot: {path}")


if __name__ == "__main__":
    raise SystemExit(main())
