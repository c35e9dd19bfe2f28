"""Pacing: how many calls a campaign should place right now.

Pure: a pacer reads a :class:`DialerSnapshot` (what the dialer sees at ``now``) and returns a
count of new calls. It never reads a clock, never raises and never returns a negative number,
whatever an outsider puts into the snapshot (zero agents, empty tuples, ``None`` means, NaN,
huge numbers). A pacer may keep state between calls: use one instance per campaign.

- :class:`ProgressivePacer`: one line per free agent (never abandons a call).
- :class:`AdaptivePacer`: a VICIdial "ADAPT"-style baseline, a dial level (lines per agent)
  nudged up while agents wait and down while the drop rate is over target.
- :class:`PredictivePacer`: ours. Forecasts agents freeing up (talk-time distribution
  conditioned on each call's elapsed time, plus wrap-up) and calls answered (answer rate and
  ring-time distribution, conditioned on each ringing call's elapsed time) at 20 answer
  times, computes the abandons a campaign can expect (the shortfall of free agents against
  answers, exact Poisson-binomial for small teams), and places calls while each adds at most
  a price in expected abandons per live answer; the price is steered from the abandons seen
  to a share of the target, lowered near the target and cut hard over it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from dialer.age_watch import DurationWatch, RingWatch

#: Seconds a person who answered may wait for an agent before the call counts as abandoned.
CONNECT_WINDOW_S = 2.0
#: Upper bound on what any pacer returns in one decision (protects trunks from bad input).
MAX_CALLS_PER_DECISION = 10_000
_MAX_COUNT = 1_000_000
_MAX_SECONDS = 1e7
_MAX_CLOCK = 1e12
#: Talks seen ending before a pacer given no wrap-up mean judges wrap-ups by them (none seen
#: after that many: no wrap-up).
_TALKS_TO_JUDGE_WRAP = 20
_MAX_ELAPSED_ITEMS = 100_000

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class DialerSnapshot:
    """What the dialer sees of one campaign at ``now`` (seconds, any origin).

    ``answered_human`` counts every call answered by a person (as the dialer judged it), the
    abandoned ones included: the abandon rate is ``abandoned / answered_human``.
    """

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


def _time(value: object) -> float | None:
    """A clock reading in seconds, any origin (monotonic, epoch), or None if it is not one."""
    x = _num(value, -_MAX_CLOCK, _MAX_CLOCK, math.nan)
    return None if math.isnan(x) or abs(x) >= _MAX_CLOCK else x


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

    now: float | None
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
            now=_time(getattr(s, "now", None)),
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


def _censored_mean(mean: float | None, prior: float, finished: int, running: FloatArray) -> float:
    """Mean duration (talk, wrap-up), with the ones still running counted (censored data).

    The first to end are the short ones, so the mean of finished ones alone starts far too
    low; adding the elapsed time of those still running (the exponential MLE under censoring)
    errs long instead, on the careful side, and converges as they finish. Before the first
    has finished: the prior, or the time already spent if that is longer.
    """
    known = prior if mean is None else mean
    if finished <= 0:
        return max(known, float(running.sum()))
    return (known * finished + float(running.sum())) / finished


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
        now = v.now if v.now is not None else 0.0  # no clock: the level stays where it is
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
    if not mean > 0.0:  # a state that takes no time (no wrap-up) is over at once
        return np.ones((elapsed.size, within.size))
    f_now = _lognormal_cdf(elapsed, mean, cv)[:, None]
    f_then = _lognormal_cdf(elapsed[:, None] + within[None, :], mean, cv)
    survival = 1.0 - f_now
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        memoryless = 1.0 - np.exp(-within / mean)[None, :]  # far in the tail: no shape left
        p = np.where(survival > 1e-6, (f_then - f_now) / survival, memoryless)
    return np.clip(p, 0.0, 1.0)


#: Answer-time bins: a call a person answers does so in each with the same probability.
_BINS = 20
#: Up to this many uncertain agents and calls (and new calls), shortfalls are computed exactly
#: (Poisson-binomial); beyond it the normal approximation, accurate there, is used.
_EXACT_ITEMS = 400


def _poisson_binomial(ps: FloatArray) -> FloatArray:
    """Distributions of sums of independent Bernoullis: ``ps`` (items, bins) -> (bins, items+1)."""
    n, bins = ps.shape
    out = np.zeros((bins, n + 1))
    out[:, 0] = 1.0
    for i in range(n):
        p = ps[i][:, None]
        out[:, 1 : i + 2] = out[:, 1 : i + 2] * (1.0 - p) + out[:, : i + 1] * p
        out[:, 0] *= 1.0 - ps[i]
    return out


def _plus_one(pmf: FloatArray, q: FloatArray) -> FloatArray:
    """``pmf`` (bins, m) with one more Bernoulli(q[bin]) added."""
    out = np.zeros((pmf.shape[0], pmf.shape[1] + 1))
    out[:, :-1] = pmf * (1.0 - q)[:, None]
    out[:, 1:] += pmf * q[:, None]
    return out


@dataclass(frozen=True)
class _Forecast:
    """Per answer-time bin ``k`` (the time ``h_k`` a call placed now would be answered):
    ``supply[i, k]``, the chance that busy or wrapping-up agent ``i`` is free by ``h_k`` plus
    the connect window; ``ringing[j, k]``, the chance that ringing call ``j`` is answered by
    a person by ``h_k``; ``new[k]``, the same for a call placed now; ``available`` agents."""

    available: int
    supply: FloatArray
    ringing: FloatArray
    new: FloatArray

    def most_calls(self, budget: float) -> int:
        """The most new calls such that each one adds at most ``budget`` expected abandons.

        Abandons expected at bin ``k``: the shortfall E[(answered by h_k - agents free by
        h_k + 2 s)^+]; the campaign's expected abandons are taken as the largest over the bins.
        A new call adds its own risk and what it takes from the calls answered after it, so
        the rise grows with every call placed: the count stops at the first that costs more.
        """
        items = self.supply.shape[0] + self.ringing.shape[0]
        free = self.available + float(self.supply.sum(axis=0)[-1])
        rough = free / max(float(self.new[-1]), 1e-3)  # about as many calls as agents can take
        if items + rough <= _EXACT_ITEMS:
            return self._exact(budget)
        return self._normal(budget)

    def _exact(self, budget: float) -> int:
        bins = self.new.size
        cdf = np.cumsum(_poisson_binomial(self.supply), axis=1)  # P(freed <= j)
        # E[(a - available - freed)^+] = sum of P(freed <= j) for j < a - available.
        under = np.concatenate([np.zeros((bins, 1)), np.cumsum(cdf, axis=1)], axis=1)
        rows = np.arange(bins)[:, None]

        def shortfall(pmf: FloatArray) -> float:
            short = np.maximum(np.arange(pmf.shape[1]) - self.available, 0)
            beyond = np.maximum(short - cdf.shape[1], 0)  # past every agent: cdf is 1
            expected = under[rows, np.minimum(short, cdf.shape[1])] + beyond
            return float((pmf * expected).sum(axis=1).max())

        pmf = _poisson_binomial(self.ringing)
        now = shortfall(pmf)
        for n in range(_EXACT_ITEMS):
            more = _plus_one(pmf, self.new)
            then = shortfall(more)
            if then - now > budget:
                return n
            pmf, now = more, then
        return _EXACT_ITEMS

    def _normal(self, budget: float) -> int:
        gap = (self.ringing.sum(axis=0) - self.available - self.supply.sum(axis=0))
        var = ((self.ringing * (1.0 - self.ringing)).sum(axis=0)
               + (self.supply * (1.0 - self.supply)).sum(axis=0))
        q = self.new

        def shortfall(n: int) -> float:
            mu = gap + n * q
            sd = np.sqrt(np.maximum(var + n * q * (1.0 - q), 1e-9))
            x = mu / sd
            pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
            return float((mu * _phi(x) + sd * pdf).max())

        def affordable(n: int) -> bool:  # the n-th call costs at most the budget
            return shortfall(n) - shortfall(n - 1) <= budget

        if not affordable(1):
            return 0
        lo, hi = 1, 2
        while hi < MAX_CALLS_PER_DECISION and affordable(hi):
            lo, hi = hi, 2 * hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if affordable(mid) else (lo, mid)
        return lo


class PredictivePacer:
    """Ours: forecast free agents and answered calls, and price every call by the abandons it adds.

    For a call placed now, answered by a person at ``h`` (one of 20 equally likely times from
    the ring-time distribution), an agent must be free by ``h`` plus the 2-second connect
    window; the forecast (:class:`_Forecast`) gives, at each ``h``, the chance each busy or
    wrapping-up agent is free by then (talk time conditioned on each call's elapsed time,
    then wrap-up) and that each ringing call is answered by then (answer rate and ring times,
    conditioned on how long it has rung). Calls are placed while each adds at most ``risk``
    expected abandons per live answer it brings: the cheap bets (an agent about to free up,
    a line that has rung long and will likely go unanswered) before the dear ones.

    ``risk`` starts at ``risk_start`` and is steered by the abandons seen: it rises while they
    stay under ``aim`` x the target and falls with each abandon (``gain``). While one more
    abandon would take the campaign over ``brake`` x its target it is at most a fifth of the
    target; while the campaign is over its target, at most ``over_target`` x the target (a
    little overdial, so that the live answers that bring the rate back down keep coming). The
    priors (answer rate, ring and talk times) are used until observations replace them, and
    lean to the careful side: ringing calls are expected to answer later than the answers
    seen so far suggest (the first answers seen are the quick ones).
    """

    def __init__(
        self,
        aim: float = 0.6,
        gain: float = 0.15,
        risk_start: float = 0.015,
        brake: float = 0.85,
        over_target: float = 0.1,
        prior_answer_rate: float = 0.5,
        prior_weight: float = 20.0,
        prior_ring_s: float = 8.0,
        prior_talk_s: float = 120.0,
        prior_wrap_s: float = 10.0,
    ) -> None:
        self.aim = aim
        self.gain = gain
        self.risk = risk_start
        self.brake = brake
        self.over_target = over_target
        self.prior_answer_rate = prior_answer_rate
        self.prior_weight = prior_weight
        self.prior_ring_s = prior_ring_s
        self.prior_talk_s = prior_talk_s
        self.prior_wrap_s = prior_wrap_s
        self.talk_cv = 1.0
        self._seen_abandoned = 0
        self._seen_human = 0
        self._prior_ring: FloatArray | None = None
        self._talk = DurationWatch()
        self._wrap = DurationWatch()
        self._rings = RingWatch()

    # The decision ---------------------------------------------------------------------------

    def calls_to_place(self, snapshot: DialerSnapshot) -> int:
        v = _View.of(snapshot)
        self._learn(v)
        if v.ring_answers.size == 0:  # the dialer keeps them to itself: the ones watched
            v = replace(v, ring_answers=self._rings.sample())
        risk = self._risk(v)
        if risk is None:
            return _clip(v.progressive_floor)
        p = self._answer_rate(v)
        n = self._forecast(v, p).most_calls(risk * p)
        return _clip(max(n, v.progressive_floor))

    def _forecast(self, v: _View, p: float) -> _Forecast:
        ring = self._ring_sample(v)
        talk, wrap = self._talk_mean(v), self._wrap_mean(v)
        shares = (np.arange(_BINS) + 0.5) / _BINS
        hs = np.quantile(ring, shares)
        reach = hs + CONNECT_WINDOW_S
        supply = np.concatenate([
            _ends_within(v.busy, reach - wrap, talk, self.talk_cv),
            _ends_within(v.wrap, reach, wrap, 0.5),
        ])
        # Ringing call j after e_j seconds: answered at all with the chance that the answer
        # rate and ring times leave, the ring times stretched while few answers are seen (the
        # first answers seen are the quick ones, so the calls still ringing are more likely to
        # be answered than they suggest); and if answered, when, from the ring times as seen
        # (sooner). Both on the careful side.
        late = ring * (1.0 + 30.0 / (30.0 + v.ring_answers.size))
        f_late = np.searchsorted(late, v.ringing, side="right") / late.size
        answers = p * (1.0 - f_late) / np.maximum(1.0 - p * f_late, 1e-9)
        f_now = np.searchsorted(ring, v.ringing, side="right") / ring.size
        f_then = np.searchsorted(ring, v.ringing[:, None] + hs[None, :], side="right") / ring.size
        left = 1.0 - f_now[:, None]
        when = np.where(left > 1e-9, (f_then - f_now[:, None]) / np.maximum(left, 1e-9), 1.0)
        ringing = np.clip(answers[:, None] * when, 0.0, 1.0)
        return _Forecast(v.available, supply, ringing, p * shares)

    def _risk(self, v: _View) -> float | None:
        """Expected abandons one more call may add per live answer, or None for no overdial.

        The target is a share of live answered calls, and an abandoned call is itself one of
        them: the campaign can afford one more abandon while abandons + 1 <= target x (live
        answers + 1).
        """
        if v.target <= 0.0:
            return None
        if v.abandoned > v.target * v.human:
            return min(self.risk, self.over_target * v.target)
        if v.abandoned + 1 > self.brake * v.target * (v.human + 1):
            return min(self.risk, 0.2 * v.target)
        return self.risk

    # What it learns -------------------------------------------------------------------------

    def _learn(self, v: _View) -> None:
        """Steer ``risk`` from the abandons and live answers seen since the last decision."""
        d_ab, d_hu = v.abandoned - self._seen_abandoned, v.human - self._seen_human
        if d_ab < 0 or d_hu < 0:  # counters went back: another campaign or a restart
            d_ab, d_hu = 0, 0
        self._seen_abandoned, self._seen_human = v.abandoned, v.human
        self._talk.update(v.now, v.busy)
        self._wrap.update(v.now, v.wrap)
        self._rings.update(v.now, v.ringing, v.human + v.machine)
        step = self.gain * (self.aim * v.target * d_hu - d_ab)
        self.risk = min(max(self.risk * math.exp(min(step, 5.0)), 1e-4), 0.5)
        mean_talk = self._known_talk(v)
        if mean_talk and v.busy.size >= 5 and v.human >= 200:
            # Ages of calls in progress have mean E[T^2] / (2 E[T]) = (1 + cv^2) mean / 2.
            cv2 = 2.0 * float(v.busy.mean()) / mean_talk - 1.0
            cv = math.sqrt(min(max(cv2, 0.09), 4.0))
            self.talk_cv += 0.01 * (cv - self.talk_cv)

    def _known_talk(self, v: _View) -> float | None:
        """The snapshot's mean talk time, else the one watched across snapshots."""
        return v.mean_talk if v.mean_talk is not None else self._talk.mean()

    def _talk_mean(self, v: _View) -> float:
        return self._duration_mean(v.mean_talk, self.prior_talk_s, self._talk, v.busy,
                                   v.human - v.abandoned - v.busy.size)

    def _wrap_mean(self, v: _View) -> float:
        if v.mean_wrap is None and self._talk.ended >= _TALKS_TO_JUDGE_WRAP:
            # Every talk that ended began a wrap-up, maybe one too short to see (or none):
            # the wrap-up time seen over the wrap-ups that began and are over.
            over = max(self._talk.ended - v.wrap.size, 1)
            return (self._wrap.total + float(v.wrap.sum())) / over
        return self._duration_mean(v.mean_wrap, self.prior_wrap_s, self._wrap, v.wrap,
                                   v.human - v.abandoned - v.busy.size - v.wrap.size)

    @staticmethod
    def _duration_mean(given: float | None, prior: float, watch: DurationWatch,
                       running: FloatArray, finished: int) -> float:
        if given is None:  # the snapshot keeps its mean to itself: the one watched
            return _censored_mean(watch.mean(), prior, watch.ended, running)
        return _censored_mean(given, prior, finished, running)

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
