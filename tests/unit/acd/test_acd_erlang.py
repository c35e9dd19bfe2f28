"""Erlang B, C and A against published tables and independent computations."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from callcenter.acd.erlang import (
    agents_for_asa,
    agents_for_occupancy,
    agents_for_service_level,
    average_speed_of_answer,
    erlang_a,
    erlang_b,
    erlang_c,
    parse_period,
    parse_target,
    service_level,
    staffing_table,
)


@pytest.mark.parametrize(
    ("agents", "traffic"),
    # The classic Erlang B table, grade of service 1 %: traffic carried by N lines.
    [(1, 0.0101), (5, 1.361), (10, 4.461), (20, 12.031), (50, 37.901), (100, 84.064)],
)
def test_erlang_b_matches_the_published_1_percent_table(agents: int, traffic: float) -> None:
    assert erlang_b(traffic, agents) == pytest.approx(0.01, abs=2e-4)


def exact_erlang_c(traffic: Fraction, agents: int) -> float:
    """Erlang C from its textbook sum, in exact rational arithmetic."""
    terms = [traffic**k / math.factorial(k) for k in range(agents)]
    top = traffic**agents / math.factorial(agents) * agents / (agents - traffic)
    return float(top / (sum(terms) + top))


@pytest.mark.parametrize(("traffic", "agents"), [(10, 11), (10, 13), (48, 55), (2, 3), (85, 90)])
def test_erlang_c_agrees_with_exact_sum(traffic: int, agents: int) -> None:
    assert erlang_c(traffic, agents) == pytest.approx(exact_erlang_c(Fraction(traffic), agents))


def test_mitan_worked_example() -> None:
    # The widely reproduced worked example (360 calls per half hour, 4-minute calls, 55 agents,
    # 15-second target: 48 Erlangs, occupancy 87.3 %). The expected P(wait), ASA and service
    # level below were computed independently with exact fractions (see exact_erlang_c), as the
    # published copy we could read stopped before its results.
    traffic = 360 * 240 / 1800
    assert traffic == 48
    assert erlang_c(traffic, 55) == pytest.approx(0.2387, abs=5e-4)
    assert average_speed_of_answer(traffic, 55, 240) == pytest.approx(8.18, abs=0.01)
    assert service_level(traffic, 55, 240, 15) == pytest.approx(0.8459, abs=5e-4)


def test_the_issue_example_needs_54_agents_for_80_20() -> None:
    assert agents_for_service_level(48, 240, 0.80, 20) == 54
    assert service_level(48, 53, 240, 20) < 0.80 <= service_level(48, 54, 240, 20)


def test_other_targets() -> None:
    assert agents_for_asa(48, 240, 10.0) == 55
    assert agents_for_occupancy(48, 0.85) == 57
    assert erlang_c(10, 10) == 1.0 and service_level(10, 9, 180, 20) == 0.0


def mmn_stationary_wait(lam: float, mu: float, theta: float, n: int, cap: int) -> np.ndarray:
    """Stationary distribution by solving the generator numerically (independent method)."""
    size = cap + 1
    q = np.zeros((size, size))
    for i in range(size):
        if i < cap:
            q[i, i + 1] = lam
        if i > 0:
            q[i, i - 1] = min(i, n) * mu + max(i - n, 0) * theta
        q[i, i] = -q[i].sum()
    a = np.vstack([q.T, np.ones(size)])
    b = np.zeros(size + 1)
    b[-1] = 1.0
    return np.linalg.lstsq(a, b, rcond=None)[0]


def test_erlang_a_matches_a_numerical_solution_of_the_chain() -> None:
    lam, aht, patience, n = 360 / 1800, 240.0, 120.0, 48
    r = erlang_a(lam, aht, patience, n, 20)
    p = mmn_stationary_wait(lam, 1 / aht, 1 / patience, n, 400)
    assert r.p_wait == pytest.approx(p[n:].sum(), rel=1e-6)
    queued = np.maximum(np.arange(len(p)) - n, 0)
    assert r.p_abandon == pytest.approx((queued * p).sum() / patience / lam, rel=1e-6)


def test_erlang_a_tends_to_erlang_c_without_abandon() -> None:
    r = erlang_a(360 / 1800, 240, 1e9, 55, 15)
    assert r.p_wait == pytest.approx(erlang_c(48, 55), rel=1e-6)
    assert r.service_level == pytest.approx(service_level(48, 55, 240, 15), rel=1e-4)
    assert r.asa_s / r.p_wait == pytest.approx(
        average_speed_of_answer(48, 55, 240) / erlang_c(48, 55), rel=1e-3
    )


def test_erlang_a_abandons_shrink_with_staff_and_monte_carlo_agrees() -> None:
    few = erlang_a(0.2, 240, 120, 45, 20)
    many = erlang_a(0.2, 240, 120, 52, 20)
    assert few.p_abandon > many.p_abandon > 0
    assert few.service_level < many.service_level


def test_staffing_table_marks_the_target_row() -> None:
    rows = staffing_table(360, 1800, 240, 0.8, 20)
    first_ok = next(r for r in rows if r.meets_target)
    assert first_ok.agents == 54
    with_patience = staffing_table(360, 1800, 240, 0.8, 20, patience_s=120)
    assert next(r for r in with_patience if r.meets_target).agents < 54
    assert all(r.p_abandon is not None for r in with_patience)


def test_parsers() -> None:
    assert parse_period("30m") == 1800 and parse_period("1h") == 3600
    assert parse_period("900") == 900 and parse_period("90s") == 90
    assert parse_target("80/20") == (0.8, 20.0)
    with pytest.raises(ValueError, match="PERCENT/SECONDS"):
        parse_target("80%")
    with pytest.raises(ValueError, match="30m"):
        parse_period("soon")
