"""Intermediate bounds for the dialer benchmark: what knowing the agents (or the calls) buys.

The clairvoyant bound (``ClairvoyantPacer``) knows two things no pacer can: which calls will be
answered and when, and when every agent frees up. This program measures what each alone is
worth, on the grid and seeds of ``bench/dialer_bench.py``, with a research pacer that is given
one of them and the true distributions for the rest:

- ``agent``: **agent-clairvoyant, answer-blind**. Knows exactly when each talking or
  wrapping-up agent will be free (from the simulation's pre-drawn fates); of each call it
  knows only the scenario's true distributions (answer and machine rates, AMD errors, the
  ring-time distribution), conditioned on how long a line has rung, like a real pacer.
- ``answer``: **answer-clairvoyant, agent-blind**. Knows each call's fate (whether it will
  reach an agent, and when) but of the agents only the true talk and wrap-up distributions,
  conditioned on each one's elapsed time.
- ``causal``: neither; the true distributions for both (what a causal pacer could at best
  know about the scenario; its parameter is still tuned with hindsight).

The policy is the same for all three. At each tick it forecasts, by Monte Carlo over what it
does not know (``--samples`` draws), the answers arriving at each of the next 26 s (half-second
bins) against the agents free by then plus the 2-second connect window; the abandons a set
of calls brings is the reflected shortfall ``max(0, max_t(answers by t - agents by t + 2))``
(exact for a loss system with that supply). It places calls, in lead order, while the next
one adds at most ``budget`` expected abandons per live answer it brings (for a call whose
answer is unknown the added abandons are computed exactly over its ring-time distribution).
``budget`` is tuned per scenario by bisection on its logarithm to the highest occupancy whose
abandon rate stays at or under 3 % **in that very run**: tuned with hindsight on one seed,
the result errs on the generous side, which is the side an upper estimate should err on.

These pacers read the simulation's internals (like ``ClairvoyantPacer``): benchmark only.

    nice -n 19 .venv/bin/python bench/dialer_bounds.py [--quick] [--variants agent,answer]
        [--steps 7] [--budgets 0.001,0.7] [--samples 256] [--max-hours 8] [--workers 2]
        [--plot PNG] [--json OUT]
    .venv/bin/python bench/dialer_bounds.py --from-json OUT [--variants ...] [--plot PNG]
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, replace
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.dialer_bench import TARGET, scenarios  # noqa: E402
from dialer.pacing import (  # noqa: E402
    CONNECT_WINDOW_S,
    AdaptivePacer,
    DialerSnapshot,
    PredictivePacer,
)
from dialer.sim import ClairvoyantPacer, SimConfig, SimResult, Simulation, simulate  # noqa: E402

VARIANTS = {"agent": (True, False), "answer": (False, True), "causal": (False, False)}
LABELS = {
    "agent": "agent-clairvoyant, answer-blind",
    "answer": "answer-clairvoyant, agent-blind",
    "causal": "causal (true distributions)",
}


class _Dist:
    """A lognormal duration (mean, cv), optionally capped, by a table of its quantiles."""

    _U = np.linspace(0.0, 1.0, 8193)

    def __init__(self, mean: float, cv: float, cap: float | None = None) -> None:
        self.mean, self.cap = max(mean, 0.0), cap
        sigma = math.sqrt(math.log1p(cv * cv))
        mu = math.log(self.mean) - sigma * sigma / 2.0 if self.mean > 0 else 0.0
        nd = NormalDist()
        inner = [math.exp(mu + sigma * nd.inv_cdf(min(max(u, 1e-9), 1.0 - 1e-9)))
                 for u in self._U[1:]]
        self._q = np.array([0.0, *inner]) if self.mean > 0 else np.zeros(self._U.size)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        if self.mean <= 0:
            return np.where(x >= 0.0, 1.0, 0.0)
        f = np.interp(x, self._q, self._U)
        return np.where(x >= self.cap, 1.0, f) if self.cap is not None else f

    def quantile(self, u: np.ndarray) -> np.ndarray:
        q = np.interp(u, self._U, self._q)
        return np.minimum(q, self.cap) if self.cap is not None else q

    def beyond(self, elapsed: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Durations drawn given that each is longer than ``elapsed`` (``u`` uniform)."""
        f = self.cdf(elapsed)
        return np.maximum(self.quantile(f + (1.0 - f) * u), elapsed)


class InformedPacer:
    """A research pacer told the agents' free times and/or the calls' fates (see module doc).

    Drive it with :func:`run`, which hands it the simulation before the first tick.
    """

    def __init__(self, cfg: SimConfig, budget: float, know_agents: bool, know_answers: bool,
                 samples: int = 256, dt: float = 0.5) -> None:
        self.cfg, self.budget = cfg, budget
        self.know_agents, self.know_answers = know_agents, know_answers
        self.m, self.dt = samples, dt
        self.k = int(math.ceil((cfg.no_answer_s + 1.0) / dt))  # every answer falls inside
        self.rng = np.random.default_rng([cfg.seed, 77])
        self.ring = _Dist(cfg.ring_mean_s, cfg.ring_cv, cap=cfg.no_answer_s - 0.5)
        self.talk = _Dist(cfg.talk_mean_s, cfg.talk_cv)
        self.wrap = _Dist(cfg.wrap_mean_s, cfg.wrap_cv)
        self.answer = cfg.answer_rate + cfg.machine_rate
        r_human = cfg.answer_rate * (1.0 - cfg.amd_false_machine)
        r_machine = cfg.machine_rate * cfg.amd_false_human
        self.q = r_human + r_machine  # live answers (reaching an agent) per call placed
        self.p_machine = r_machine / self.q if self.q > 0 else 0.0
        edges = np.arange(1, self.k + 1) * dt
        self.p_new = self.q * np.diff(np.concatenate([[0.0], self.ring.cdf(edges)]))
        self.p_full = np.concatenate([self.p_new, [max(1.0 - self.p_new.sum(), 0.0)]])
        self.p_full /= self.p_full.sum()
        self.sim: Simulation | None = None
        self._routed: list[int] = []  # indices of leads that will reach an agent
        self._scanned = 0

    # --- bins -------------------------------------------------------------------------------

    def _arrival_bins(self, rel: np.ndarray) -> np.ndarray:
        """Bin of an answer ``rel`` seconds from now (bin b covers (b dt, (b + 1) dt])."""
        b = np.ceil(rel / self.dt) - 1.0
        return np.clip(b, 0, self.k).astype(np.int64)

    def _supply_bins(self, rel: np.ndarray) -> np.ndarray:
        """First bin whose answers (taken at the bin's middle) an agent free at ``rel`` serves."""
        b = np.ceil((rel - CONNECT_WINDOW_S) / self.dt - 0.5)
        return np.clip(b, 0, self.k).astype(np.int64)

    def _cumulative(self, bins: np.ndarray) -> np.ndarray:
        """(rows, items) bins -> (rows, k) counts up to and including each bin."""
        rows = bins.shape[0]
        offs = bins + (self.k + 1) * np.arange(rows)[:, None]
        counts = np.bincount(offs.ravel(), minlength=rows * (self.k + 1))
        return np.cumsum(counts.reshape(rows, self.k + 1), axis=1)[:, : self.k]

    # --- what it knows ----------------------------------------------------------------------

    def _supply(self, sim: Simulation, now: float) -> np.ndarray:
        """Agents free (per bin), deterministic (1, k) or sampled (m, k)."""
        leads = sim.leads
        available = len(sim._free)
        if self.know_agents:
            known = [s + leads[sim._agent_call[a]].talk_s + leads[sim._agent_call[a]].wrap_s - now
                     for a, s in sim._talk_start.items()]
            known += [s + leads[sim._agent_call[a]].wrap_s - now
                      for a, s in sim._wrap_start.items()]
            return available + self._cumulative(self._supply_bins(np.array(known))[None, :])
        m, rng = self.m, self.rng
        talk_e = np.array([now - s for s in sim._talk_start.values()])
        wrap_e = np.array([now - s for s in sim._wrap_start.values()])
        mt = self.cfg.machine_talk_s
        surv = 1.0 - self.talk.cdf(talk_e)
        pm = np.where(talk_e < mt, self.p_machine
                      / np.maximum(self.p_machine + (1.0 - self.p_machine) * surv, 1e-12), 0.0)
        u = rng.random((3, m, talk_e.size))
        talk_end = np.where(u[0] < pm, np.maximum(mt, talk_e), self.talk.beyond(talk_e, u[1]))
        free_talk = talk_end - talk_e + self.wrap.quantile(u[2])
        free_wrap = self.wrap.beyond(wrap_e, rng.random((m, wrap_e.size))) - wrap_e
        rel = np.concatenate([free_talk, free_wrap], axis=1)
        return available + self._cumulative(self._supply_bins(rel))

    def _arrivals(self, sim: Simulation, now: float) -> np.ndarray:
        """Answers from calls ringing or waiting, per bin: (1, k) or (m, k)."""
        waiting = len(sim._waiting_set)
        leads = sim.leads
        if self.know_answers:
            rel = [s + leads[i].ring_s - now for i, s in sim._ringing.items() if leads[i].routed]
            return waiting + self._cumulative(self._arrival_bins(np.array(rel))[None, :])
        e = np.array([now - s for s in sim._ringing.values()])
        fe = self.ring.cdf(e)
        later = self.answer * (1.0 - fe) / np.maximum(1.0 - self.answer * fe, 1e-12)
        p = later * (self.q / self.answer if self.answer > 0 else 0.0)
        u = self.rng.random((self.m, e.size))
        arrives = u < p
        u2 = np.where(arrives, u / np.maximum(p, 1e-12), 0.5)
        rel = self.ring.quantile(fe + (1.0 - fe) * u2) - e
        bins = np.where(arrives, self._arrival_bins(rel), self.k)
        return waiting + self._cumulative(bins)

    def _routed_from(self, sim: Simulation, start: int, need: int) -> list[int]:
        """The first ``need`` leads from ``start`` on that will reach an agent."""
        while True:
            i = bisect.bisect_left(self._routed, start)
            if len(self._routed) - i >= need:
                return self._routed[i : i + need]
            for j in range(self._scanned, self._scanned + 4096):
                if sim.leads[j].routed:
                    self._routed.append(j)
            self._scanned += 4096

    # --- the decision -----------------------------------------------------------------------

    @staticmethod
    def _loss_and_suffix(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        loss = np.maximum(d.max(axis=1), 0)
        suffix = np.maximum.accumulate(d[:, ::-1], axis=1)[:, ::-1]
        return loss, suffix

    def calls_to_place(self, snapshot: DialerSnapshot) -> int:
        sim = self.sim
        if sim is None:
            return 0
        now = snapshot.now
        supply = self._supply(sim, now)
        if self.know_agents and not self.know_answers and supply[0, -1] <= 0:
            return 0  # nobody free within the horizon: any answer would be abandoned
        d0 = self._arrivals(sim, now) - supply
        if self.know_answers:
            return self._known_calls(sim, d0)
        return self._blind_calls(d0)

    def _blind_calls(self, d0: np.ndarray) -> int:
        """Calls of unknown fate: the n-th is placed if it adds <= budget x q abandons."""
        limit = self.budget * self.q

        def ok(n: int) -> bool:
            d = d0
            if n > 1:
                d = d0 + np.cumsum(self.rng.multinomial(n - 1, self.p_full, size=self.m),
                                   axis=1)[:, : self.k]
            loss, suffix = self._loss_and_suffix(d)
            # The n-th call, answered in bin j, adds an abandon iff suffix_j >= loss.
            added = float(((suffix >= loss[:, None]) @ self.p_new).mean())
            return added <= limit

        return _largest(ok, 4000)

    def _known_calls(self, sim: Simulation, d0: np.ndarray) -> int:
        """Calls of known fate: all up to the first routed one that adds > budget abandons."""
        cap = 2 * self.cfg.agents + 50
        routed = self._routed_from(sim, sim.next_lead, cap + 1)
        bins = self._arrival_bins(np.array([sim.leads[i].ring_s for i in routed]))

        def ok(j: int) -> bool:  # may the j-th routed lead (1-based) be placed?
            d = d0
            if j > 1:
                d = d0 + self._cumulative(bins[None, : j - 1])
            loss, suffix = self._loss_and_suffix(d)
            return float((suffix[:, bins[j - 1]] >= loss).mean()) <= self.budget

        j = _largest(ok, cap)
        return routed[j] - sim.next_lead  # the leads before the first routed one not placed


def _largest(ok: Any, cap: int) -> int:
    """The largest n <= cap with ok(1..n) (ok taken as monotone), by doubling then bisection."""
    if cap < 1 or not ok(1):
        return 0
    lo, hi = 1, 2
    while hi <= cap and ok(hi):
        lo, hi = hi, 2 * hi
    hi = min(hi, cap + 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def run(cfg: SimConfig, variant: str, budget: float, samples: int) -> SimResult:
    know_agents, know_answers = VARIANTS[variant]
    pacer = InformedPacer(cfg, budget, know_agents, know_answers, samples=samples)
    sim = Simulation(cfg, pacer)
    pacer.sim = sim
    return sim.run()


def tune(cfg: SimConfig, variant: str, steps: int, samples: int,
         budgets: tuple[float, float] = (1e-3, 0.7)) -> dict[str, Any]:
    """Bisection on log(budget) for the highest occupancy at <= 3 % abandon in this run."""
    lo, hi = math.log(budgets[0]), math.log(budgets[1])
    tried: list[tuple[float, SimResult]] = []
    for _ in range(steps):
        mid = (lo + hi) / 2.0
        res = run(cfg, variant, math.exp(mid), samples)
        tried.append((math.exp(mid), res))
        lo, hi = (mid, hi) if res.abandon_rate <= TARGET else (lo, mid)
    feasible = [(b, r) for b, r in tried if r.abandon_rate <= TARGET]
    if not feasible:  # even the most careful budget tried went over: try the floor
        b = math.exp(lo)
        tried.append((b, run(cfg, variant, b, samples)))
        feasible = [(b, r) for b, r in tried[-1:] if r.abandon_rate <= TARGET]
    best = max(feasible, key=lambda br: br[1].occupancy) if feasible else None
    return {
        "budget": best[0] if best else None,
        "occupancy": best[1].occupancy if best else None,
        "abandon": best[1].abandon_rate if best else None,
        "tried": [(b, r.occupancy, r.abandon_rate) for b, r in tried],
    }


def reference(cfg: SimConfig) -> dict[str, Any]:
    out = {}
    for name, pacer in (("bound", ClairvoyantPacer), ("ours", PredictivePacer),
                        ("adaptive", AdaptivePacer)):
        r = simulate(cfg, pacer())
        out[name] = {"occupancy": r.occupancy, "abandon": r.abandon_rate}
    return out


def _job(kind: str, cfg: SimConfig, steps: int, samples: int,
         budgets: tuple[float, float]) -> tuple[str, SimConfig, Any]:
    if kind == "ref":
        return kind, cfg, reference(cfg)
    return kind, cfg, tune(cfg, kind, steps, samples, budgets)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the 12-scenario grid")
    ap.add_argument("--variants", default="agent", help="comma list of agent, answer, causal")
    ap.add_argument("--steps", type=int, default=7, help="bisection steps per scenario")
    ap.add_argument("--budgets", default="0.001,0.7",
                    help="the budget range the bisection searches (low,high)")
    ap.add_argument("--samples", type=int, default=256, help="Monte Carlo draws per decision")
    ap.add_argument("--max-hours", type=float, default=None,
                    help="cap each scenario's simulated hours (the reference pacers too)")
    ap.add_argument("--only", default=None,
                    help="agents,answer,talk of one scenario, e.g. 5,0.3,60")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--plot", default=None, help="PNG of the gaps")
    ap.add_argument("--json", default=None, help="write the raw figures here")
    ap.add_argument("--from-json", default=None,
                    help="print (and plot) the figures a --json run wrote, without running")
    args = ap.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    if args.from_json:
        rows = [{**r, "cfg": SimConfig(**r["cfg"])}
                for r in json.loads(Path(args.from_json).read_text())]
        print_table(rows, variants)
        if args.plot:
            plot(rows, variants, Path(args.plot))
        return 0
    grid = scenarios(args.quick)
    if args.max_hours:
        grid = [replace(c, duration_s=min(c.duration_s, 3600.0 * args.max_hours)) for c in grid]
    if args.only:
        a, p, t = args.only.split(",")
        grid = [c for c in grid if (c.agents, c.answer_rate, c.talk_mean_s)
                == (int(a), float(p), float(t))]
    started = time.monotonic()
    # The longest jobs first, so that the two workers finish together.
    jobs = sorted([(k, c) for c in grid for k in ["ref", *variants]],
                  key=lambda kc: -kc[1].duration_s * (1 if kc[0] == "ref" else args.steps))
    table: dict[tuple[int, float, float], dict[str, Any]] = {}
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        lo, hi = (float(x) for x in args.budgets.split(","))
        futures = [pool.submit(_job, k, c, args.steps, args.samples, (lo, hi)) for k, c in jobs]
        for done, fut in enumerate(as_completed(futures), 1):
            kind, cfg, res = fut.result()
            key = (cfg.agents, cfg.answer_rate, cfg.talk_mean_s)
            row = table.setdefault(key, {"cfg": cfg})
            if kind == "ref":
                row.update(res)
            else:
                row[kind] = res
            print(f"\r{done}/{len(jobs)} jobs, {time.monotonic() - started:.0f} s",
                  end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    rows = [table[k] for k in sorted(table)]
    print_table(rows, variants)
    print(f"\nCommand: nice -n 19 .venv/bin/python bench/dialer_bounds.py "
          f"{' '.join(argv if argv is not None else sys.argv[1:])}"
          f"\nWall time: {time.monotonic() - started:.0f} s with {args.workers} workers")
    if args.json:
        Path(args.json).write_text(json.dumps(
            [{**{k: v for k, v in r.items() if k != "cfg"}, "cfg": asdict(r["cfg"])}
             for r in rows], indent=1))
    if args.plot:
        plot(rows, variants, Path(args.plot))
    return 0


def _pts(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def print_table(rows: list[dict[str, Any]], variants: list[str]) -> None:
    head = "| agents | answer | talk s | hours | bound occ % |"
    for v in variants:
        head += f" {v} occ % | {v} ab % | bound - {v} |"
    head += " ours occ % | ours ab % | bound - ours |"
    if "agent" in variants:
        head += " agent - ours |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    gaps: dict[str, list[float]] = {v: [] for v in [*variants, "ours"]}
    for r in rows:
        c, bound = r["cfg"], r["bound"]["occupancy"]
        line = (f"| {c.agents} | {100 * c.answer_rate:.0f} % | {c.talk_mean_s:.0f} |"
                f" {c.duration_s / 3600:.1f} | {100 * bound:.1f} |")
        for v in variants:
            occ = r[v]["occupancy"]
            gap = None if occ is None else bound - occ
            if gap is not None:
                gaps[v].append(100 * gap)
            line += f" {_pts(occ)} | {_pts(r[v]['abandon'])} | {_pts(gap)} |"
        ours = r["ours"]["occupancy"]
        gaps["ours"].append(100 * (bound - ours))
        line += (f" {100 * ours:.1f} | {100 * r['ours']['abandon']:.2f} |"
                 f" {100 * (bound - ours):.1f} |")
        if "agent" in variants:
            occ = r["agent"]["occupancy"]
            line += f" {_pts(None if occ is None else occ - ours)} |"
        print(line)
    n = len(rows)
    print()
    for v, g in gaps.items():
        if not g:
            continue
        label = LABELS.get(v, "ours (PredictivePacer)")
        tuned = f" ({len(g)} with a budget at <= 3 %)" if v in LABELS else ""
        print(f"- {label}: within 2 points of the bound in {sum(x <= 2.0 for x in g)}/{n}"
              f" scenarios{tuned}; gap mean {sum(g) / len(g):.1f},"
              f" min {min(g):.1f}, max {max(g):.1f} points")
    for a in sorted({r["cfg"].agents for r in rows}):
        part = [r for r in rows if r["cfg"].agents == a]
        bits = []
        for v in [*variants, "ours"]:
            g = [100 * (r["bound"]["occupancy"] - r[v]["occupancy"]) for r in part
                 if r[v]["occupancy"] is not None]
            if g:
                bits.append(f"{v} {min(g):.1f}-{max(g):.1f}")
        print(f"- {a} agents, gap to the bound: " + ", ".join(bits) + " points")


def plot(rows: list[dict[str, Any]], variants: list[str], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("No plot: matplotlib is not installed.")
        return
    fig, ax = plt.subplots(figsize=(12, 5))
    xs = range(len(rows))
    for v in [*variants, "ours"]:
        ys = [math.nan if r[v]["occupancy"] is None
              else 100 * (r["bound"]["occupancy"] - r[v]["occupancy"]) for r in rows]
        ax.plot(xs, ys, marker="o", label=LABELS.get(v, "ours (PredictivePacer)"))
    ax.axhline(2.0, color="red", linestyle="--", linewidth=1, label="goal: 2 points")
    ax.set_ylabel("points of occupancy below the clairvoyant bound")
    ax.set_xticks(list(xs), [f"{r['cfg'].agents}a {100 * r['cfg'].answer_rate:.0f}% "
                             f"{r['cfg'].talk_mean_s:.0f}s" for r in rows],
                  rotation=90, fontsize=7)
    ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    ax.set_title("Gap to the clairvoyant bound, each informed pacer tuned to <= 3 % abandon")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"Plot: {path}")


if __name__ == "__main__":
    raise SystemExit(main())
