"""Erlang B, C and A: how many agents a queue needs.

- Erlang B (M/M/N/N): the probability that a call finds every line busy and is lost.
- Erlang C (M/M/N): the probability a call waits; service level, ASA and occupancy follow.
- Erlang A (M/M/N+M, Palm): Erlang C with callers who hang up after an exponential
  patience; it counts abandons and does not need more agents than traffic to be stable.

Traffic ``A`` is in Erlangs: calls per second times average handle time in seconds.
Erlang B uses the stable recursion ``B(n) = A B(n-1) / (n + A B(n-1))`` (no factorials,
no overflow for thousands of agents); Erlang C is derived from it. Erlang A solves the
birth-death chain of the number of callers in the system (numpy, truncated where the
tail is negligible) and follows a tagged caller's wait with uniformisation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def traffic_erlangs(calls: float, period_s: float, aht_s: float) -> float:
    return calls * aht_s / period_s


def erlang_b(traffic: float, agents: int) -> float:
    """Probability that all ``agents`` lines are busy (blocking), for ``traffic`` Erlangs."""
    if agents < 0 or traffic < 0:
        raise ValueError("traffic and agents must be non-negative")
    b = 1.0
    for n in range(1, agents + 1):
        b = traffic * b / (n + traffic * b)
    return b


def erlang_c(traffic: float, agents: int) -> float:
    """Probability that a call waits (all agents busy); 1.0 when the queue is unstable."""
    if agents <= traffic:
        return 1.0
    b = erlang_b(traffic, agents)
    return agents * b / (agents - traffic * (1.0 - b))


def service_level(traffic: float, agents: int, aht_s: float, target_s: float) -> float:
    """Fraction of calls answered within ``target_s`` (Erlang C)."""
    if agents <= traffic:
        return 0.0
    c = erlang_c(traffic, agents)
    return 1.0 - c * math.exp(-(agents - traffic) * target_s / aht_s)


def average_speed_of_answer(traffic: float, agents: int, aht_s: float) -> float:
    """Mean wait over all calls, answered at once or not (Erlang C); inf if unstable."""
    if agents <= traffic:
        return math.inf
    return erlang_c(traffic, agents) * aht_s / (agents - traffic)


def occupancy(traffic: float, agents: int) -> float:
    return min(1.0, traffic / agents) if agents else 1.0


def agents_for_service_level(
    traffic: float, aht_s: float, target_sl: float, target_s: float
) -> int:
    """Fewest agents giving at least ``target_sl`` (0..1) answered within ``target_s``."""
    n = max(1, math.floor(traffic) + 1)
    while service_level(traffic, n, aht_s, target_s) < target_sl:
        n += 1
    return n


def agents_for_asa(traffic: float, aht_s: float, max_asa_s: float) -> int:
    n = max(1, math.floor(traffic) + 1)
    while average_speed_of_answer(traffic, n, aht_s) > max_asa_s:
        n += 1
    return n


def agents_for_occupancy(traffic: float, max_occupancy: float) -> int:
    """Fewest agents keeping occupancy at or below ``max_occupancy`` (0..1)."""
    return max(1, math.ceil(traffic / max_occupancy - 1e-12))


@dataclass(frozen=True, slots=True)
class ErlangAResult:
    """Erlang A figures for one staffing level.

    ``service_level``: fraction of *all* callers answered within the target (a caller who
    hangs up counts as not answered). ``asa_s``: mean wait of answered callers.
    """

    agents: int
    p_wait: float
    p_abandon: float
    service_level: float
    asa_s: float
    occupancy: float


def erlang_a(
    calls_per_s: float, aht_s: float, patience_s: float, agents: int, target_s: float
) -> ErlangAResult:
    """Erlang A (M/M/N+M) for ``agents`` agents and mean patience ``patience_s``."""
    if agents < 1 or calls_per_s <= 0 or aht_s <= 0 or patience_s <= 0:
        raise ValueError("Erlang A needs agents >= 1 and positive rates")
    lam, mu, theta = calls_per_s, 1.0 / aht_s, 1.0 / patience_s
    # Stationary distribution of the number in system, in logs, until the tail vanishes.
    log_p = [0.0]
    n = 0
    while True:
        n += 1
        death = min(n, agents) * mu + max(n - agents, 0) * theta
        log_p.append(log_p[-1] + math.log(lam / death))
        if n > agents and lam < death and log_p[-1] < max(log_p) - 40.0:
            break
        if n > agents + 200_000:  # pragma: no cover - absurd inputs
            break
    lp = np.array(log_p)
    p = np.exp(lp - lp.max())
    p /= p.sum()
    states = np.arange(len(p))
    queued = np.maximum(states - agents, 0)
    p_wait = float(p[agents:].sum())
    mean_queue = float((queued * p).sum())
    p_abandon = theta * mean_queue / lam
    served_rate = lam * (1.0 - p_abandon)
    # A tagged caller who finds n >= N in system has k = n - N callers ahead. Each step
    # down (a service ends, or a caller ahead leaves) has rate N mu + k theta; the caller
    # itself leaves at rate theta. Reaching service from k means k + 1 steps down.
    ahead = p[agents:]  # arrival-state distribution over k = 0.. (PASTA)
    k = np.arange(len(ahead))
    down = agents * mu + k * theta
    stay = down / (down + theta)  # probability the next event is a step down
    # P(served | k) and E[wait * 1{served} | k] in closed form along the straight path.
    log_stay = np.cumsum(np.log(stay))
    p_served_k = np.exp(log_stay)
    mean_wait_k = np.cumsum(1.0 / (down + theta))
    served_waiting = float((ahead * p_served_k).sum())
    wait_served = float((ahead * p_served_k * mean_wait_k).sum())
    p_served = (1.0 - p_wait) + served_waiting
    asa = wait_served / p_served if p_served > 0 else math.inf
    served_within = (1.0 - p_wait) + _served_within(ahead, down, agents * mu, theta, target_s)
    return ErlangAResult(
        agents=agents,
        p_wait=p_wait,
        p_abandon=p_abandon,
        service_level=served_within,
        asa_s=asa,
        occupancy=min(1.0, served_rate * aht_s / agents),
    )


def _served_within(
    start: np.ndarray, down: np.ndarray, service_rate: float, theta: float, t: float
) -> float:
    """P(reach service within ``t``) for the tagged caller, by uniformisation."""
    if t <= 0:
        return 0.0
    rate = float(down[-1] + theta)  # the fastest state's total rate bounds every state
    steps_mean = rate * t
    n_steps = int(steps_mean + 10.0 * math.sqrt(steps_mean) + 20)
    v = start.astype(float).copy()
    leave = (down + theta) / rate
    move_down = down / rate
    served = 0.0
    weight = math.exp(-steps_mean)  # Poisson(steps_mean) weight of 0 steps
    log_weight = -steps_mean
    cumulative = 0.0
    for step in range(n_steps + 1):
        if step > 0:
            to_served = v[0] * service_rate / rate
            nxt = v * (1.0 - leave)
            nxt[:-1] += v[1:] * move_down[1:]
            v = nxt
            served += to_served
            log_weight += math.log(steps_mean) - math.log(step)
            weight = math.exp(log_weight)
        # served after `step` uniformised steps, weighted by P(N(t) = step)
        cumulative += weight * served
    return cumulative


@dataclass(frozen=True, slots=True)
class StaffingRow:
    agents: int
    service_level: float
    asa_s: float
    p_wait: float
    occupancy: float
    p_abandon: float | None
    meets_target: bool


def staffing_table(
    calls: float,
    period_s: float,
    aht_s: float,
    target_sl: float,
    target_s: float,
    patience_s: float | None = None,
    extra_rows: int = 3,
) -> list[StaffingRow]:
    """Rows from the first stable staffing to a few agents past the target.

    Without ``patience_s``: Erlang C. With it: Erlang A (abandons counted).
    """
    traffic = traffic_erlangs(calls, period_s, aht_s)
    rows: list[StaffingRow] = []
    if patience_s is None:
        needed = agents_for_service_level(traffic, aht_s, target_sl, target_s)
        first = max(1, math.floor(traffic) + 1, needed - 4)
        for n in range(first, needed + extra_rows + 1):
            sl = service_level(traffic, n, aht_s, target_s)
            rows.append(
                StaffingRow(
                    agents=n,
                    service_level=sl,
                    asa_s=average_speed_of_answer(traffic, n, aht_s),
                    p_wait=erlang_c(traffic, n),
                    occupancy=occupancy(traffic, n),
                    p_abandon=None,
                    meets_target=sl >= target_sl,
                )
            )
        return rows
    rate = calls / period_s
    n = max(1, math.floor(traffic * 0.7))
    met = None
    while met is None or n <= met + extra_rows:
        r = erlang_a(rate, aht_s, patience_s, n, target_s)
        ok = r.service_level >= target_sl
        if ok and met is None:
            met = n
        rows.append(
            StaffingRow(n, r.service_level, r.asa_s, r.p_wait, r.occupancy, r.p_abandon, ok)
        )
        n += 1
    # Keep only a few rows before the first that meets the target.
    first_ok = next(i for i, row in enumerate(rows) if row.meets_target)
    return rows[max(0, first_ok - 4) :]


def parse_period(text: str) -> float:
    """``30m``, ``1h``, ``900s`` or ``900`` (seconds) -> seconds."""
    t = text.strip().lower()
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    try:
        value = float(t[:-1]) * units[t[-1]] if t and t[-1] in units else float(t)
    except ValueError:
        raise ValueError(f"period {text!r}: write it as 30m, 1h or 1800s") from None
    if value <= 0:
        raise ValueError(f"period {text!r} must be positive")
    return value


def parse_target(text: str) -> tuple[float, float]:
    """``80/20`` -> (0.80, 20.0): 80 % of calls answered within 20 seconds."""
    try:
        pct, secs = text.split("/")
        sl, t = float(pct) / 100.0, float(secs)
    except ValueError:
        raise ValueError(f"target {text!r}: write it as PERCENT/SECONDS, e.g. 80/20") from None
    if not 0 < sl < 1 or t < 0:
        raise ValueError(f"target {text!r}: percent must be in (0, 100) and seconds >= 0")
    return sl, t


def format_staffing_table(rows: list[StaffingRow], traffic: float, target: str) -> str:
    """The table ``callcenter staffing`` prints."""
    erlang_a_used = any(r.p_abandon is not None for r in rows)
    head = f"traffic {traffic:.2f} Erlangs, target {target}" + (
        " (Erlang A, with abandons)" if erlang_a_used else " (Erlang C)"
    )
    cols = f"{'agents':>6}  {'SL %':>6}  {'ASA s':>8}  {'P(wait) %':>9}  {'occup. %':>8}"
    if erlang_a_used:
        cols += f"  {'abandon %':>9}"
    lines = [head, cols]
    for r in rows:
        line = (
            f"{r.agents:>6}  {100 * r.service_level:>6.1f}  {r.asa_s:>8.1f}  "
            f"{100 * r.p_wait:>9.1f}  {100 * r.occupancy:>8.1f}"
        )
        if erlang_a_used:
            line += f"  {100 * (r.p_abandon or 0.0):>9.1f}"
        if r.meets_target and (r is rows[0] or not rows[rows.index(r) - 1].meets_target):
            line += "  <- fewest agents meeting the target"
        lines.append(line)
    return "\n".join(lines)
