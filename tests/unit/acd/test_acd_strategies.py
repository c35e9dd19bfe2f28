"""Each strategy pool chooses the agent its name promises, deterministically."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from callcenter.acd.strategies import RoundRobinMemory, Strategy, make_pool


def fill(strategy: Strategy, seed: int = 0, memory: RoundRobinMemory | None = None):  # noqa: ANN201
    pool = make_pool(strategy, random.Random(seed), memory or RoundRobinMemory())
    #                 id    idle  calls pos score weight
    pool.add("late", 30.0, 1, 0, 5, 1.0)
    pool.add("early", 10.0, 4, 2, 1, 1.0)
    pool.add("mid", 20.0, 0, 1, 9, 8.0)
    return pool


def test_longest_idle_picks_earliest_idle_since() -> None:
    pool = fill(Strategy.LONGEST_IDLE)
    assert [pool.pick(), pool.pick(), pool.pick(), pool.pick()] == ["early", "mid", "late", None]


def test_fewest_calls_then_idle() -> None:
    pool = fill(Strategy.FEWEST_CALLS)
    assert [pool.pick(), pool.pick(), pool.pick()] == ["mid", "late", "early"]


def test_linear_follows_member_order() -> None:
    pool = fill(Strategy.LINEAR)
    assert [pool.pick(), pool.pick(), pool.pick()] == ["late", "mid", "early"]


def test_best_skill_takes_highest_score() -> None:
    pool = fill(Strategy.BEST_SKILL)
    assert [pool.pick(), pool.pick(), pool.pick()] == ["mid", "late", "early"]


def test_rrmemory_resumes_after_last_served() -> None:
    memory = RoundRobinMemory()
    pool = fill(Strategy.RR_MEMORY, memory=memory)
    assert pool.pick() == "late"  # position 0
    pool.add("late", 40.0, 2, 0, 5, 1.0)
    # memory is at position 0: next is position 1, then 2, then wraps to 0
    assert [pool.pick(), pool.pick(), pool.pick()] == ["mid", "early", "late"]


def test_discard_removes_from_every_pool_kind() -> None:
    for strategy in Strategy:
        pool = fill(strategy)
        pool.discard("mid")
        pool.discard("nobody")
        assert "mid" not in pool and len(pool) == 2
        picked = pool.drain()
        assert sorted(picked) == ["early", "late"] and len(pool) == 0


def test_random_is_seeded_and_uniform_enough() -> None:
    picks = [fill(Strategy.RANDOM, seed).pick() for seed in range(600)]
    assert picks == [fill(Strategy.RANDOM, seed).pick() for seed in range(600)]
    counts = Counter(picks)
    assert set(counts) == {"late", "early", "mid"}
    assert all(150 < c < 250 for c in counts.values())


def test_weighted_random_follows_weights() -> None:
    counts = Counter(fill(Strategy.WEIGHTED_RANDOM, seed).pick() for seed in range(1000))
    # weights 1 : 1 : 8
    assert 720 < counts["mid"] < 880
    assert counts["late"] > 40 and counts["early"] > 40


def test_weighted_random_survives_growth_and_readd() -> None:
    pool = make_pool(Strategy.WEIGHTED_RANDOM, random.Random(3), RoundRobinMemory())
    for i in range(100):
        pool.add(f"a{i}", 0.0, 0, i, 0, 1.0 + i % 3)
    for i in range(0, 100, 2):
        pool.discard(f"a{i}")
    assert len(pool) == 50
    seen = {pool.pick() for _ in range(50)}
    assert seen == {f"a{i}" for i in range(1, 100, 2)}
    assert pool.pick() is None


def test_ring_all_drains_everyone() -> None:
    pool = fill(Strategy.RING_ALL)
    assert sorted(pool.drain()) == ["early", "late", "mid"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("leastrecent", Strategy.LONGEST_IDLE),
        ("longest-idle-agent", Strategy.LONGEST_IDLE),
        ("ringall", Strategy.RING_ALL),
        ("top-down", Strategy.LINEAR),
        ("wrandom", Strategy.WEIGHTED_RANDOM),
        ("RRMEMORY", Strategy.RR_MEMORY),
    ],
)
def test_parse_accepts_asterisk_and_freeswitch_names(name: str, expected: Strategy) -> None:
    assert Strategy.parse(name) is expected


def test_parse_rejects_unknown_with_the_list() -> None:
    with pytest.raises(ValueError, match="longest-idle"):
        Strategy.parse("telepathy")
