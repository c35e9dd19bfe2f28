"""The simulator: deterministic by seed, and its figures mean what they say."""

from __future__ import annotations

from dialer.pacing import AdaptivePacer, PredictivePacer, ProgressivePacer
from dialer.sim import ClairvoyantPacer, SimConfig, Simulation, simulate

SHORT = SimConfig(agents=10, duration_s=900.0, answer_rate=0.3, talk_mean_s=90.0, seed=7)


def test_same_seed_same_result_different_seed_different_result() -> None:
    a = simulate(SHORT, PredictivePacer())
    b = simulate(SHORT, PredictivePacer())
    c = simulate(SimConfig(**{**SHORT.__dict__, "seed": 8}), PredictivePacer())
    assert a == b
    assert (a.dialed, a.occupancy) != (c.dialed, c.occupancy)


def test_progressive_never_abandons_and_the_bound_never_abandons() -> None:
    assert simulate(SHORT, ProgressivePacer()).abandoned == 0
    assert simulate(SHORT, ClairvoyantPacer()).abandoned == 0


def test_figures_are_consistent() -> None:
    r = simulate(SHORT, AdaptivePacer())
    assert 0.0 <= r.occupancy <= 1.0
    assert r.abandoned <= r.answered_human <= r.dialed
    assert r.connected == r.answered_human - r.abandoned or r.connected < r.answered_human
    hours = SHORT.agents * SHORT.duration_s / 3600
    assert abs(r.calls_per_agent_hour - r.connected / hours) < 1e-9
    assert len(r.occupancy_series) == 15
    assert all(0.0 <= o <= 1.0 for _, o in r.occupancy_series)


def test_the_bound_beats_progressive_and_ours_sits_between() -> None:
    cfg = SimConfig(agents=20, duration_s=3600.0, answer_rate=0.2, talk_mean_s=120.0, seed=3)
    prog = simulate(cfg, ProgressivePacer())
    ours = simulate(cfg, PredictivePacer())
    bound = simulate(cfg, ClairvoyantPacer())
    assert prog.occupancy + 0.10 < ours.occupancy < bound.occupancy
    assert ours.abandon_rate <= 0.03


def test_max_lines_caps_calls_in_flight() -> None:
    cfg = SimConfig(agents=10, duration_s=600.0, answer_rate=0.1, max_lines=3, seed=1)
    capped = simulate(cfg, PredictivePacer())
    free = simulate(SimConfig(**{**cfg.__dict__, "max_lines": None}), PredictivePacer())
    assert capped.dialed < free.dialed


def test_the_bound_dials_in_lead_order_and_never_abandons_even_when_answers_tie() -> None:
    # Long rings capped by the no-answer timeout make many answers land at the same instant;
    # no wrap-up makes agents free up at the instant their call ends.
    cfg = SimConfig(
        agents=30,
        duration_s=900.0,
        answer_rate=0.2,
        machine_rate=0.35,
        ring_mean_s=18.0,
        ring_cv=0.7,
        no_answer_s=36.0,
        talk_mean_s=50.0,
        wrap_mean_s=0.0,
        patience_mean_s=15.0,
        seed=11,
    )
    pacer = ClairvoyantPacer()
    sim = Simulation(cfg, pacer)
    dialed: list[int] = []
    choose = pacer.choose

    def recording(now: float) -> list[int]:
        picked = choose(now)
        dialed.extend(picked)
        return picked

    pacer.choose = recording  # type: ignore[method-assign]
    r = sim.run()
    assert r.abandoned == 0
    assert dialed == list(range(len(dialed)))
    assert r.occupancy > simulate(cfg, ProgressivePacer()).occupancy + 0.2


def test_the_bound_in_lead_order_is_close_to_the_bound_that_picks_leads() -> None:
    cfg = SimConfig(agents=20, duration_s=1800.0, answer_rate=0.3, talk_mean_s=90.0, seed=5)
    in_order = simulate(cfg, ClairvoyantPacer()).occupancy
    picking = simulate(cfg, ClairvoyantPacer(out_of_order=True)).occupancy
    assert abs(in_order - picking) < 0.01


def test_no_wrap_up_is_a_valid_scenario() -> None:
    cfg = SimConfig(agents=10, duration_s=900.0, wrap_mean_s=0.0, seed=2)
    r = simulate(cfg, PredictivePacer())
    with_wrap = simulate(SimConfig(**{**cfg.__dict__, "wrap_mean_s": 30.0}), PredictivePacer())
    assert 0.0 < r.occupancy <= 1.0
    assert r.connected > with_wrap.connected  # agents free up sooner, so more calls connect
