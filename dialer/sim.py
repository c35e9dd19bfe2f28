"""A seeded discrete-event simulation of one outbound campaign, driving any :class:`Pacer`.

Every lead's fate (answered by a person or a machine or not at all, ring time, how the AMD
classifies it, talk and wrap-up times, the person's patience) is drawn from its own random
stream before any pacer acts, so two pacers run with the same seed face exactly the same
leads, one after the other (common random numbers: differences come from pacing alone).

Once a second the pacer sees a :class:`DialerSnapshot` and the simulator places the calls it
asks for. A person whose call the AMD passes waits for an agent at most
``min(2 s, patience)``; then the call is abandoned (drop message). A machine the AMD takes
for a person reaches an agent, who hangs up after ``machine_talk_s``; a person the AMD takes
for a machine is hung up on (counted apart: ``amd_lost_humans``).

Reported: occupancy (agent time connected / logged-in time), abandon rate (abandoned / calls
answered and passed as live), connected calls per agent-hour, occupancy per minute.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from dialer.pacing import CONNECT_WINDOW_S, DialerSnapshot, Pacer

_HUMAN, _MACHINE, _NO_ANSWER = 0, 1, 2
_TICK, _RING_END, _WAIT_END, _TALK_END, _WRAP_END = 0, 1, 2, 3, 4
_CHUNK = 4096


@dataclass(frozen=True)
class SimConfig:
    """A campaign scenario. Rates are per dialed call; times are means in seconds."""

    agents: int = 20
    duration_s: float = 3600.0
    answer_rate: float = 0.3
    machine_rate: float = 0.15
    ring_mean_s: float = 8.0
    ring_cv: float = 0.5
    no_answer_s: float = 25.0
    talk_mean_s: float = 120.0
    talk_cv: float = 0.9
    wrap_mean_s: float = 10.0
    wrap_cv: float = 0.5
    machine_talk_s: float = 6.0
    amd_false_human: float = 0.08
    amd_false_machine: float = 0.01
    patience_mean_s: float = 20.0
    abandon_target: float = 0.03
    tick_s: float = 1.0
    max_lines: int | None = None
    seed: int = 0


@dataclass(frozen=True)
class LeadFate:
    """What will happen when this lead is dialed (known to the clairvoyant pacer only)."""

    kind: int
    ring_s: float
    routed: bool
    talk_s: float
    wrap_s: float
    patience_s: float


@dataclass(frozen=True)
class SimResult:
    occupancy: float
    abandon_rate: float
    calls_per_agent_hour: float
    dialed: int
    answered_human: int
    answered_machine: int
    abandoned: int
    connected: int
    amd_lost_humans: int
    occupancy_series: tuple[tuple[float, float], ...] = field(repr=False)


def _lognormal(rng: np.random.Generator, mean: float, cv: float, n: int) -> np.ndarray:
    sigma = math.sqrt(math.log1p(cv * cv))
    draws = rng.lognormal(-sigma * sigma / 2.0, sigma, n)  # mean 1; drawn even for mean 0
    return draws * max(mean, 0.0)  # so that a zero wrap-up leaves the other draws unchanged


class _Leads:
    """The campaign's lead list as an endless sequence of pre-drawn fates."""

    def __init__(self, cfg: SimConfig) -> None:
        self._cfg = cfg
        self._rng = np.random.default_rng([cfg.seed, 1])
        self._fates: list[LeadFate] = []

    def __getitem__(self, i: int) -> LeadFate:
        while i >= len(self._fates):
            self._draw()
        return self._fates[i]

    def _draw(self) -> None:
        c, rng, n = self._cfg, self._rng, _CHUNK
        u = rng.random(n)
        kind = np.where(u < c.answer_rate, _HUMAN,
                        np.where(u < c.answer_rate + c.machine_rate, _MACHINE, _NO_ANSWER))
        ring = np.minimum(_lognormal(rng, c.ring_mean_s, c.ring_cv, n), c.no_answer_s - 0.5)
        amd_error = rng.random(n)
        talk = _lognormal(rng, c.talk_mean_s, c.talk_cv, n)
        wrap = _lognormal(rng, c.wrap_mean_s, c.wrap_cv, n)
        patience = rng.exponential(c.patience_mean_s, n)
        for k in range(n):
            human, machine = kind[k] == _HUMAN, kind[k] == _MACHINE
            routed = bool((human and amd_error[k] >= c.amd_false_machine)
                          or (machine and amd_error[k] < c.amd_false_human))
            self._fates.append(LeadFate(
                kind=int(kind[k]),
                ring_s=float(ring[k]) if human or machine else c.no_answer_s,
                routed=routed,
                talk_s=float(talk[k]) if human else c.machine_talk_s,
                wrap_s=float(wrap[k]),
                patience_s=float(patience[k]),
            ))


class ClairvoyantPacer:
    """The bound: knows which calls will be answered, when, and when each agent will be free.

    It decides, like any pacer, only how many of the next leads to dial, in lead order
    (``out_of_order=True`` restores the older, stronger bound that also picked which leads to
    dial). Leads that will not reach an agent are dialed as soon as their turn comes (they cost
    no agent time); the next lead that will is dialed at the first tick at which its answer,
    plus the seconds that person would wait, reaches the agent who frees up first. So it never
    abandons a call and leaves agents idle only for the simulator's tick and the leads' order.
    Only :func:`simulate` can drive it, through :meth:`choose`.
    """

    def __init__(self, out_of_order: bool = False, lookahead: int = 64) -> None:
        self.out_of_order = out_of_order
        self.lookahead = lookahead
        self._sim: Simulation | None = None
        self._free_at: list[float] = []
        self._pool: list[int] = []  # undialed leads that will reach an agent (out of order)
        # Dialed calls not yet answered: (answer time, lead, longest wait, agent time), in the
        # order the simulation will answer them (ties in dialing order, as its event queue).
        self._answers: list[tuple[float, int, float, float]] = []
        self._scan = 0

    def attach(self, sim: Simulation) -> None:
        self._sim = sim
        self._free_at = [0.0] * sim.cfg.agents
        self._pool, self._answers, self._scan = [], [], 0

    def calls_to_place(self, snapshot: DialerSnapshot) -> int:
        return len(self.choose(snapshot.now))

    def choose(self, now: float) -> list[int]:
        """The leads to dial at ``now`` (indices into the simulation's lead list)."""
        if self._sim is None or not self._free_at:
            return []
        if self.out_of_order:
            return self._choose_any(now)
        while self._answers and self._answers[0][0] <= now:
            self._connect(self._free_at, heapq.heappop(self._answers))
        leads = self._sim.leads
        picked: list[int] = []
        while len(picked) <= 100 * len(self._free_at) + 1000:  # finite even if nobody answers
            fate = leads[self._scan]
            if fate.routed:
                # Waiting a little is allowed (the 2-second rule, or less if the person hangs
                # up sooner); the margin keeps event order from turning a tie into an abandon.
                call = (now + fate.ring_s, self._scan,
                        max(min(CONNECT_WINDOW_S, fate.patience_s) - 0.05, 0.0),
                        fate.talk_s + fate.wrap_s)
                if not self._all_served(call):
                    break  # it would be answered too early: dial it at a later tick
                heapq.heappush(self._answers, call)
            picked.append(self._scan)
            self._scan += 1
        return picked

    @staticmethod
    def _connect(free_at: list[float], call: tuple[float, int, float, float]) -> bool:
        """Give the call the agent who frees up first, as the simulation does; False if late."""
        answer, _, wait, busy = call
        start = max(answer, free_at[0])
        heapq.heapreplace(free_at, start + busy)
        return start <= answer + wait

    def _all_served(self, extra: tuple[float, int, float, float]) -> bool:
        """Would every call dialed so far, and ``extra``, reach an agent in time?"""
        free_at = list(self._free_at)
        return all(self._connect(free_at, call) for call in sorted([*self._answers, extra]))

    def _choose_any(self, now: float) -> list[int]:
        """Out of lead order: for each agent about to free up, the lead answered soonest after."""
        assert self._sim is not None
        leads, picked = self._sim.leads, []
        while len(self._pool) < max(self.lookahead, 2 * len(self._free_at)):
            if leads[self._scan].routed:
                self._pool.append(self._scan)
            else:
                picked.append(self._scan)
            self._scan += 1
        while self._pool:
            gap = self._free_at[0] - now
            fits = [i for i in self._pool if leads[i].ring_s >= gap]
            if not fits:
                break
            lead = min(fits, key=lambda i: leads[i].ring_s)
            best = leads[lead].ring_s
            if any(gap - 1.0 <= leads[i].ring_s < best - 1.0 for i in self._pool):
                break  # dialing that one at the next tick leaves the agent idle for less
            self._pool.remove(lead)
            fate = leads[lead]
            heapq.heapreplace(self._free_at, now + fate.ring_s + fate.talk_s + fate.wrap_s)
            picked.append(lead)
        return picked


class Simulation:
    """One run of one pacer over one scenario; use :func:`simulate`."""

    def __init__(self, cfg: SimConfig, pacer: Pacer) -> None:
        self.cfg, self.pacer = cfg, pacer
        self.leads = _Leads(cfg)
        self.next_lead = 0
        self._events: list[tuple[float, int, int, int]] = []
        self._seq = 0
        self._free: deque[int] = deque(range(cfg.agents))
        self._talk_start: dict[int, float] = {}
        self._wrap_start: dict[int, float] = {}
        self._agent_call: dict[int, int] = {}
        self._ringing: dict[int, float] = {}
        self._waiting: deque[int] = deque()
        self._waiting_set: set[int] = set()
        self._ring_answers: deque[float] = deque(maxlen=200)
        self.dialed = self.human = self.machine = self.abandoned = 0
        self.connected = self.amd_lost = 0
        self._talk_done, self._talk_sum, self._wrap_done, self._wrap_sum = 0, 0.0, 0, 0.0
        self._busy_area, self._last_t = 0.0, 0.0
        self._minute_area: list[float] = [0.0] * (int(math.ceil(cfg.duration_s / 60.0)) + 1)

    def _at(self, t: float, kind: int, who: int) -> None:
        self._seq += 1
        heapq.heappush(self._events, (t, self._seq, kind, who))

    def _advance(self, t: float) -> None:
        busy = len(self._talk_start)
        if busy and t > self._last_t:
            self._busy_area += busy * (t - self._last_t)
            m0, m1 = int(self._last_t // 60), int(t // 60)
            for m in range(m0, min(m1, len(self._minute_area) - 1) + 1):
                lo, hi = max(self._last_t, m * 60.0), min(t, (m + 1) * 60.0)
                self._minute_area[m] += busy * max(hi - lo, 0.0)
        self._last_t = t

    def run(self) -> SimResult:
        cfg = self.cfg
        if isinstance(self.pacer, ClairvoyantPacer):
            self.pacer.attach(self)
        self._at(0.0, _TICK, 0)
        while self._events:
            t, _, kind, who = heapq.heappop(self._events)
            if t > cfg.duration_s:
                break
            self._advance(t)
            if kind == _TICK:
                self._tick(t)
            elif kind == _RING_END:
                self._ring_end(t, who)
            elif kind == _WAIT_END:
                if who in self._waiting_set:
                    self._waiting_set.discard(who)
                    self.abandoned += 1
            elif kind == _TALK_END:
                self._talk_end(t, who)
            else:
                self._wrap_end(t, who)
        self._advance(cfg.duration_s)
        return self._result()

    def _tick(self, t: float) -> None:
        cfg = self.cfg
        snap = DialerSnapshot(
            now=t,
            agents_available=len(self._free),
            agents_busy_elapsed=tuple(t - s for s in self._talk_start.values()),
            agents_wrapup_elapsed=tuple(t - s for s in self._wrap_start.values()),
            calls_ringing_elapsed=tuple(t - s for s in self._ringing.values()),
            abandon_target=cfg.abandon_target,
            dialed=self.dialed,
            answered_human=self.human,
            answered_machine=self.machine,
            abandoned=self.abandoned,
            mean_talk_s=self._talk_sum / self._talk_done if self._talk_done else None,
            mean_wrap_s=self._wrap_sum / self._wrap_done if self._wrap_done else None,
            ring_to_answer_s=tuple(self._ring_answers),
        )
        if isinstance(self.pacer, ClairvoyantPacer):
            chosen = self.pacer.choose(t)
        else:
            n = max(0, int(self.pacer.calls_to_place(snap)))
            if cfg.max_lines is not None:
                n = min(n, max(0, cfg.max_lines - len(self._ringing) - len(self._talk_start)))
            chosen = list(range(self.next_lead, self.next_lead + n))
            self.next_lead += n
        for lead in chosen:
            self.dialed += 1
            self._ringing[lead] = t
            self._at(t + self.leads[lead].ring_s, _RING_END, lead)
        self._at(t + cfg.tick_s, _TICK, 0)

    def _ring_end(self, t: float, lead: int) -> None:
        del self._ringing[lead]
        fate = self.leads[lead]
        if fate.kind == _NO_ANSWER:
            return
        if not fate.routed:
            self.machine += 1
            self.amd_lost += fate.kind == _HUMAN
            return
        self.human += 1
        self._ring_answers.append(fate.ring_s)
        if self._free:
            self._connect(t, self._free.popleft(), lead)
        else:
            self._waiting.append(lead)
            self._waiting_set.add(lead)
            self._at(t + min(CONNECT_WINDOW_S, fate.patience_s), _WAIT_END, lead)

    def _connect(self, t: float, agent: int, lead: int) -> None:
        self.connected += 1
        self._talk_start[agent] = t
        self._agent_call[agent] = lead
        self._at(t + self.leads[lead].talk_s, _TALK_END, agent)

    def _talk_end(self, t: float, agent: int) -> None:
        self._talk_done += 1
        self._talk_sum += t - self._talk_start.pop(agent)
        self._wrap_start[agent] = t
        self._at(t + self.leads[self._agent_call[agent]].wrap_s, _WRAP_END, agent)

    def _wrap_end(self, t: float, agent: int) -> None:
        self._wrap_done += 1
        self._wrap_sum += t - self._wrap_start.pop(agent)
        while self._waiting:
            lead = self._waiting.popleft()
            if lead in self._waiting_set:
                self._waiting_set.discard(lead)
                self._connect(t, agent, lead)
                return
        self._free.append(agent)

    def _result(self) -> SimResult:
        cfg = self.cfg
        logged_in = cfg.agents * cfg.duration_s
        series = tuple(
            (m * 60.0, area / (cfg.agents * min(60.0, cfg.duration_s - m * 60.0)))
            for m, area in enumerate(self._minute_area) if m * 60.0 < cfg.duration_s
        )
        return SimResult(
            occupancy=self._busy_area / logged_in if logged_in > 0 else 0.0,
            abandon_rate=self.abandoned / self.human if self.human else 0.0,
            calls_per_agent_hour=self.connected / (logged_in / 3600.0) if logged_in > 0 else 0.0,
            dialed=self.dialed,
            answered_human=self.human,
            answered_machine=self.machine,
            abandoned=self.abandoned,
            connected=self.connected,
            amd_lost_humans=self.amd_lost,
            occupancy_series=series,
        )


def simulate(cfg: SimConfig, pacer: Pacer) -> SimResult:
    """Run ``pacer`` over the scenario ``cfg``; the same seed gives the same result."""
    return Simulation(cfg, pacer).run()
