"""Pacing: how many calls a campaign should place right now.

Pure: a pacer reads a :class:`DialerSnapshot` (what the dialer sees at ``now``) and returns a
count of new calls. It never reads a clock, never raises and never returns a negative number,
whatever an outsider puts into the snapshot (zero agents, empty tuples, ``None`` means, NaN,
huge numbers). A pacer may keep state between calls: use one instance per campaign.

- :class:`ProgressivePacer`: one line per free agent (never abandons a call).
- :class:`AdaptivePacer`: a VICIdial "ADAPT"-style baseline, a dial level (lines per agent)
  nudged up while agents wait and down while the drop rate is over target.
- :class:`PredictivePacer`: ours. Forecasts agents freeing up within each horizon (talk-time
  distribution conditioned on each call's elapsed time, plus wrap-up) and calls answered
  within it (answer probability and the ring-time distribution, conditioned on each ringing
  call's elapsed time); places the most calls for which expected answers plus a safety margin
  of ``z`` standard deviations stay within the expected free agents at every horizon. ``z``
  comes from the campaign's abandon budget (target x live answers - abandons): tuned from
  the observed abandons while the budget is ample, raised when one more abandon would spend
  most of it, and no overdial at all while the campaign is over its target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

#: Seconds a person who answered may wait for an agent before the call counts as abandoned.
CONNECT_WINDOW_S = 2.0
#: Upper bound on what any pacer returns in one decision (protects trunks from bad input).
MAX_CALLS_PER_DECISION = 10_000
_MAX_COUNT = 1_000_000
_MAX_SECONDS = 1e7
_MAX_ELAPSED_ITEMS = 100_000

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class DialerSnapshot:
    """What the dialer sees of one campaign at ``now`` (seconds, any origin)."""

    now: float
    agents_available: int
    agents_busy_elapsed: tuple[float, ...]
    agents_wrapup_elapsed: tuple[float, ...]
    calls_ringing_elapsed: tuple[float, ...]
    abandon_target: float
    dialed: int
    answered_human: int
    answered_machine: int
    abandoned: int
    mean_talk_s: float | None
    mean_wrap_s: float | None
    ring_to_answer_s: tuple[float, ...]


class Pacer(Protocol):
    """Anything that decides how many calls to place from a snapshot."""

    def calls_to_place(self, snapshot: DialerSnapshot) -> int: ...


# --- sanitising outsiders' snapshots -------------------------------------------------------


def _num(value: object, lo: float, hi: float, default: float) -> float:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return default
    if math.isnan(x):
        return default
    return min(max(x, lo), hi)


def _count(value: object) -> int:
    return int(_num(value, 0.0, _MAX_COUNT, 0.0))


def _durations(values: object) -> FloatArray:
    """Finite, non-negative seconds from whatever iterable was given (else empty)."""
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)[:_MAX_ELAPSED_ITEMS]
        return np.clip(arr[np.isfinite(arr) & (arr >= 0.0)], 0.0, _MAX_SECONDS)
    except (TypeError, ValueError, OverflowError):
        pass  # ragged or odd items: fall back to one at a time
    try:
        items = list(values)[:_MAX_ELAPSED_ITEMS]  # type: ignore[call-overload]
    except TypeError:
        return np.zeros(0)
    out = [_num(v, 0.0, _MAX_SECONDS, -1.0) for v in items]
    return np.array([v for v in out if v >= 0.0], dtype=np.float64)


def _mean(value: object, zero_ok: bool = False) -> float | None:
    x = _num(value, 0.0, _MAX_SECONDS, -1.0) if value is not None else -1.0
    return x if x > 0.0 or (zero_ok and x == 0.0) else None


@dataclass(frozen=True)
class _View:
    """A snapshot with every field made safe to compute with."""

    available: int
    busy: FloatArray
    wrap: FloatArray
    ringing: FloatArray
    target: float
    dialed: int
    human: int
    machine: int
    abandoned: int
    mean_talk: float | None
    mean_wrap: float | None
    ring_answers: FloatArray

    @classmethod
    def of(cls, s: DialerSnapshot) -> _View:
        return cls(
            available=_count(getattr(s, "agents_available", 0)),
            busy=_durations(getattr(s, "agents_busy_elapsed", ())),
            wrap=_durations(getattr(s, "agents_wrapup_elapsed", ())),
            ringing=_durations(getattr(s, "calls_ringing_elapsed", ())),
            target=_num(getattr(s, "abandon_target", 0.03), 0.0, 1.0, 0.03),
            dialed=_count(getattr(s, "dialed", 0)),
            human=_count(getattr(s, "answered_human", 0)),
            machine=_count(getattr(s, "answered_machine", 0)),
            abandoned=_count(getattr(s, "abandoned", 0)),
            mean_talk=_mean(getattr(s, "mean_talk_s", None)),
            mean_wrap=_mean(getattr(s, "mean_wrap_s", None), zero_ok=True),  # no wrap-up is fine
            ring_answers=_durations(getattr(s, "ring_to_answer_s", ())),
        )

    @property
    def progressive_floor(self) -> int:
        """Calls that can be placed with an agent already waiting for each."""
        return max(0, self.available - len(self.ringing))


def _clip(n: float) -> int:
    if math.isnan(n):
        return 0
    return int(min(max(n, 0.0), MAX_CALLS_PER_DECISION))


# --- the pacers ---------------------------------------------------------------------------


class ProgressivePacer:
    """One line per free agent: a call is placed only when an agent waits for it."""

    def calls_to_place(self, snapshot: DialerSnapshot) -> int:
        return _clip(_View.of(snapshot).progressive_floor)


class AdaptivePacer:
    """VICIdial ADAPT-style baseline: ``level`` lines per working agent, retuned periodically.

    Every ``interval_s`` the level rises in proportion to the share of agents that waited
    during the interval, unless the campaign's drop rate (abandoned / answered, as VICIdial
    counts it over the day) is over target, in which case it falls in proportion to the excess.
    Lines wanted = ceil(level * (available + talking agents)) - (ringing + talking calls).
    """

    def __init__(
        self,
        initial_level: float = 1.0,
        max_level: float = 4.0,
        interval_s: float = 15.0,
        intensity: float = 1.0,
    ) -> None:
        self.level = initial_level
        self.max_level = max_level
        self.interval_s = interval_s
        self.intensity = intensity
        self._last_adjust: float | None = None
        self._idle_sum = 0.0
        self._samples = 0

    def calls_to_place(self, snapshot: DialerSnapshot) -> int:
        v = _View.of(snapshot)
        now = _num(getattr(snapshot, "now", 0.0), -_MAX_SECONDS, _MAX_SECONDS, 0.0)
        working = v.available + len(v.busy)
        if working:
            self._idle_sum += v.available / working
            self._samples += 1
        if self._last_adjust is None or now < self._last_adjust:
            self._last_adjust = now
        elif now - self._last_adjust >= self.interval_s:
            self._adjust(v)
            self._last_adjust = now
        wanted = math.ceil(self.level * working) - (len(v.ringing) + len(v.busy))
        return _clip(max(wanted, 0))

    def _adjust(self, v: _View) -> None:
        drop = v.abandoned / v.human if v.human else 0.0
        idle = self._idle_sum / self._samples if self._samples else 0.0
        self._idle_sum, self._samples = 0.0, 0
        if v.target <= 0.0 or drop > v.target:
            excess = drop / v.target if v.target > 0 else 2.0
            self.level -= 0.1 * self.intensity * min(excess, 3.0)
        elif drop > 0.8 * v.target:
            pass  # close to the limit: hold, as VICIdial's tapered modes do
        else:
            self.level += 0.2 * self.intensity * idle
        self.level = min(max(self.level, 1.0), self.max_level)


# --- distributions used by the predictive pacer -------------------------------------------


def _phi(x: FloatArray) -> FloatArray:
    """Standard normal CDF (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7)."""
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                          + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-z * z)
    return np.asarray(0.5 * (1.0 + np.sign(x) * erf), dtype=np.float64)


def _lognormal_cdf(x: FloatArray, mean: float, cv: float) -> FloatArray:
    sigma = math.sqrt(math.log1p(cv * cv))
    mu = math.log(mean) - sigma * sigma / 2.0
    with np.errstate(divide="ignore"):
        logs = np.log(np.maximum(x, 1e-12))
    return np.where(x > 0.0, _phi((logs - mu) / sigma), 0.0)


def _ends_within(elapsed: FloatArray, within: FloatArray, mean: float, cv: float) -> FloatArray:
    """P(duration <= elapsed + within | duration > elapsed) for a lognormal duration.

    One row per elapsed time, one column per ``within``.
    """
    within = np.maximum(within, 0.0)
    if elapsed.size == 0:
        return np.zeros((0, within.size))
    f_now = _lognormal_cdf(elapsed, mean, cv)[:, None]
    f_then = _lognormal_cdf(elapsed[:, None] + within[None, :], mean, cv)
    survival = 1.0 - f_now
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        memoryless = 1.0 - np.exp(-within / mean)[None, :]  # far in the tail: no shape left
        p = np.where(survival > 1e-6, (f_then - f_now) / survival, memoryless)
    return np.clip(p, 0.0, 1.0)


_HORIZON_QUANTILES = (0.1, 0.3, 0.5, 0.7, 0.9, 1.0)


def _most_calls(room: float, var: float, q: float, z: float) -> float:
    """Largest n with n*q + z*sqrt(var + n*q*(1-q)) <= room (n >= 0), else 0."""
    if q <= 1e-9:
        return math.inf
    if room - z * math.sqrt(var) < 0.0:
        return 0.0
    b = q * (1.0 - q)
    if b <= 1e-12:
        return (room - z * math.sqrt(var)) / q
    # With u = sqrt(var + b n): (q/b) u^2 + z u - (room + q var / b) <= 0, a quadratic in u.
    qa, qc = q / b, room + q * var / b
    u = (-z + math.sqrt(z * z + 4.0 * qa * qc)) / (2.0 * qa)
    return max(math.floor((u * u - var) / b + 1e-9), 0.0)


class PredictivePacer:
    """Ours: forecast free agents and answered calls per horizon, keep abandons under target.

    ``aim`` is the share of the abandon target the controller steers to (the rest is margin
    for chance); ``gain`` is how far one abandon (or one answered call) moves the safety
    margin ``z``. While one more abandon would take the campaign over ``brake`` x its target
    the margin is at least ``z_tight``. The priors (answer rate, ring and talk times) are used
    until observations replace them, and lean to the careful side.
    """

    def __init__(
        self,
        aim: float = 0.8,
        gain: float = 0.05,
        z_start: float = 2.5,
        brake: float = 0.85,
        z_tight: float = 3.5,
        prior_answer_rate: float = 0.5,
        prior_weight: float = 20.0,
        prior_ring_s: float = 8.0,
        prior_talk_s: float = 120.0,
        prior_wrap_s: float = 10.0,
    ) -> None:
        self.aim = aim
        self.gain = gain
        self.z = z_start
        self.brake = brake
        self.z_tight = z_tight
        self.prior_answer_rate = prior_answer_rate
        self.prior_weight = prior_weight
        self.prior_ring_s = prior_ring_s
        self.prior_talk_s = prior_talk_s
        self.prior_wrap_s = prior_wrap_s
        self.talk_cv = 1.0
        self._seen_abandoned = 0
        self._seen_human = 0
        self._prior_ring: FloatArray | None = None

    # The decision ---------------------------------------------------------------------------

    def calls_to_place(self, snapshot: DialerSnapshot) -> int:
        v = _View.of(snapshot)
        self._learn(v)
        z = self._margin(v)
        if z is None:
            return _clip(v.progressive_floor)
        p = self._answer_rate(v)
        ring = self._ring_sample(v)
        talk, wrap = self._talk_mean(v), v.mean_wrap or self.prior_wrap_s
        # Horizons: quantiles of the time a person takes to answer.
        hs = np.unique(ring[[int(f * (ring.size - 1)) for f in _HORIZON_QUANTILES]])
        reach = hs + CONNECT_WINDOW_S
        p_busy = _ends_within(v.busy, reach - wrap, talk, self.talk_cv)
        p_wrap = _ends_within(v.wrap, reach, wrap, 0.5)
        supply = v.available + p_busy.sum(axis=0) + p_wrap.sum(axis=0)
        var = (p_busy * (1 - p_busy)).sum(axis=0) + (p_wrap * (1 - p_wrap)).sum(axis=0)
        f_now = np.searchsorted(ring, v.ringing, side="right") / ring.size
        f_then = np.searchsorted(ring, v.ringing[:, None] + hs[None, :], side="right") / ring.size
        q_in = np.clip(p * (f_then - f_now[:, None])
                       / np.maximum(1.0 - p * f_now[:, None], 1e-9), 0.0, 1.0)
        demand = q_in.sum(axis=0)
        var = var + (q_in * (1 - q_in)).sum(axis=0)
        q_new = p * np.searchsorted(ring, hs, side="right") / ring.size
        best = float(MAX_CALLS_PER_DECISION)
        for k in range(hs.size):
            room = float(supply[k]) + 0.5 - float(demand[k])
            best = min(best, _most_calls(room, float(var[k]), float(q_new[k]), z))
        return _clip(max(best, v.progressive_floor))

    def _margin(self, v: _View) -> float | None:
        """The safety margin ``z`` this decision may use, or None for no overdial at all.

        The target is a share of live answered calls, and an abandoned call is itself one of
        them: the campaign can afford one more abandon while abandons + 1 <= target x (live
        answers + 1). An on/off guard at that line (progressive below it, ``z`` above) made
        the pacer idle agents, then dial a burst that spent the budget at once; a high but
        finite margin near the line takes a little risk all the time instead (measured:
        docs/benchmarks.md). Over target, it dials for free agents only until back under.
        """
        if v.target <= 0.0 or v.abandoned > v.target * v.human:
            return None
        if v.abandoned + 1 > self.brake * v.target * (v.human + 1):
            return max(self.z, self.z_tight)
        return self.z

    # What it learns -------------------------------------------------------------------------

    def _learn(self, v: _View) -> None:
        """Move the safety margin from the abandons and answers seen since the last call."""
        d_ab, d_hu = v.abandoned - self._seen_abandoned, v.human - self._seen_human
        if d_ab < 0 or d_hu < 0:  # counters went back: another campaign or a restart
            d_ab, d_hu = 0, 0
        self._seen_abandoned, self._seen_human = v.abandoned, v.human
        aim = self.aim * v.target
        self.z = min(max(self.z + self.gain * (d_ab - aim * d_hu), -0.5), 4.0)
        if v.human >= 30 and v.abandoned > v.target * v.human:
            self.z = max(self.z, 2.0)  # over target for the campaign: no risk until back under
        if v.mean_talk and v.busy.size >= 5 and v.human >= 200:
            # Ages of calls in progress have mean E[T^2] / (2 E[T]) = (1 + cv^2) mean / 2.
            cv2 = 2.0 * float(v.busy.mean()) / v.mean_talk - 1.0
            cv = math.sqrt(min(max(cv2, 0.09), 4.0))
            self.talk_cv += 0.01 * (cv - self.talk_cv)

    def _talk_mean(self, v: _View) -> float:
        """Mean talk time, with calls still in progress counted (censored data).

        The first calls to end are the short ones, so the mean of finished calls alone starts
        far too low; adding the elapsed time of calls in progress (the exponential MLE under
        censoring) errs long instead, on the careful side, and converges as calls finish.
        """
        finished = v.human - v.abandoned - v.busy.size
        if finished <= 0:
            return max(v.mean_talk or self.prior_talk_s, float(v.busy.sum()) or 0.0)
        known = (v.mean_talk or self.prior_talk_s) * finished
        return (known + float(v.busy.sum())) / finished

    def _answer_rate(self, v: _View) -> float:
        resolved = max(v.dialed - len(v.ringing), v.human + v.machine)
        rate = (v.human + self.prior_answer_rate * self.prior_weight) / (
            resolved + self.prior_weight
        )
        return min(max(rate, 1e-4), 1.0)

    def _ring_sample(self, v: _View) -> FloatArray:
        """Ring times of answered calls: the prior's quantiles, joined by observations.

        The prior stays in: the first answers seen are the quick ones, and a sample of only
        those would make every call still ringing look as if it will never be answered.
        """
        if self._prior_ring is None:
            quantiles = np.linspace(0.0125, 0.9875, 40)
            grid = np.linspace(0.05, 6.0, 1200) * self.prior_ring_s
            cdf = _lognormal_cdf(grid, self.prior_ring_s, 0.5)
            self._prior_ring = np.interp(quantiles, cdf, grid)
        if v.ring_answers.size < 30:
            return self._prior_ring
        return np.sort(np.concatenate([self._prior_ring, v.ring_answers[-1000:]]))
