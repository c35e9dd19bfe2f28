"""Caller-ID pools: which number a call shows (fixed, rotation, local presence, daily cap),
the pool's validation and each number's health."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.caller_id_usage import day_bounds
from dialer.caller_ids import (
    STRATEGIES,
    SUSPECT_MIN_CALLS,
    Strategy,
    Tier,
    check_pool,
    choose,
    health,
    pool_number,
    tier,
)
from dialer.store import Campaign

NYC, NYC2 = "+12125550101", "+12125550102"
BUFFALO = "+17165550101"  # New York state, another area code
MIAMI = "+13055550101"
TORONTO, OTTAWA, VANCOUVER = "+14163610000", "+16135550101", "+16042510000"
LONDON = "+442071838750"
POOL = [MIAMI, BUFFALO, NYC, TORONTO, LONDON]


def test_fixed_shows_the_campaigns_number() -> None:
    assert choose(POOL, NYC2, {}, None, "fixed", "+18005550199") == "+18005550199"
    assert choose([], NYC2, {}, None, "rotate", "+18005550199") == "+18005550199"


def test_fixed_under_a_cap_stops_at_it() -> None:
    assert choose([], NYC2, {"+18005550199": 3}, 3, "fixed", "+18005550199") is None


def test_rotation_takes_the_least_used_then_pool_order() -> None:
    used = {MIAMI: 2, BUFFALO: 1, NYC: 1, TORONTO: 5, LONDON: 4}
    assert choose(POOL, NYC2, used, None, "rotate") == BUFFALO
    assert choose(POOL, NYC2, {}, None, "rotate") == MIAMI


def test_rotation_spreads_the_calls_evenly() -> None:
    used: dict[str, int] = {}
    for _ in range(50):
        n = choose(POOL, NYC2, used, None, "rotate")
        assert n is not None
        used[n] = used.get(n, 0) + 1
    assert set(used.values()) == {10}


@pytest.mark.parametrize(("called", "expected", "near"), [
    (NYC2, NYC, Tier.AREA_CODE),
    ("+16465550101", NYC, Tier.STATE),  # Manhattan overlay: no 646 number, New York's first
    ("+15855550101", NYC, Tier.STATE),  # Rochester NY: 212 and 716 tie, 212 used less
    (OTTAWA, TORONTO, Tier.STATE),  # same province
    (VANCOUVER, TORONTO, Tier.COUNTRY),
    ("+442079460000", LONDON, Tier.COUNTRY),  # area codes are NANP only
    ("+33142685300", MIAMI, Tier.ANY),
])
def test_local_presence_prefers_the_area_code_then_the_state_then_the_country(
        called: str, expected: str, near: Tier) -> None:
    used = {BUFFALO: 1}
    assert choose(POOL, called, used, None, "local") == expected
    assert tier(expected, called) == near


def test_local_presence_falls_back_when_the_local_number_is_capped() -> None:
    assert choose(POOL, NYC2, {NYC: 10}, 10, "local") == BUFFALO  # same state
    assert choose(POOL, NYC2, {NYC: 10, BUFFALO: 10}, 10, "local") == MIAMI  # same country


def test_every_number_capped_is_none() -> None:
    assert choose(POOL, NYC2, dict.fromkeys(POOL, 7), 7, "local") is None
    assert choose(POOL, NYC2, dict.fromkeys(POOL, 7), 7, "rotate") is None
    assert choose(POOL, NYC2, dict.fromkeys(POOL, 7), 8, "rotate") == MIAMI


def test_the_pool_is_checked_e164_and_deduplicated() -> None:
    assert check_pool([" +1 212 555 0101", NYC, MIAMI]) == [NYC, MIAMI]
    assert pool_number("+442071838750") == LONDON


@pytest.mark.parametrize("bad", ["2125550101", "+1212555", "+10005550101", "not a number", ""])
def test_a_bad_pool_number_is_named_with_what_to_do(bad: str) -> None:
    with pytest.raises(ValueError, match=r"not a valid E\.164 number: give each number with \+"):
        check_pool([NYC, bad])


def test_health_flags_a_number_answered_far_less_than_the_pool() -> None:
    calls = {NYC: 100, MIAMI: 100, BUFFALO: 100, TORONTO: 40}
    answers = {NYC: 30, MIAMI: 28, BUFFALO: 8, TORONTO: 1}
    rows = {h.number: h for h in health([NYC, MIAMI, BUFFALO, TORONTO, LONDON], calls, answers,
                                        {NYC: 4})}
    assert rows[BUFFALO].suspect and rows[BUFFALO].answer_rate == 0.08
    assert not rows[NYC].suspect and rows[NYC].calls_today == 4
    assert not rows[TORONTO].suspect  # 2.5 %, but 40 calls say too little
    assert rows[LONDON].answer_rate is None and not rows[LONDON].suspect
    assert SUSPECT_MIN_CALLS == 50


def test_health_of_a_pool_without_calls() -> None:
    assert [h.suspect for h in health([NYC, MIAMI], {}, {}, {})] == [False, False]


NANP = st.sampled_from(["212", "646", "716", "305", "415", "416", "613", "604", "312", "800"])
numbers = st.builds(lambda npa, line: f"+1{npa}555{line:04d}", NANP, st.integers(100, 199))
others = st.sampled_from([LONDON, "+33142685300", "+4930901820"])
any_number = st.one_of(numbers, others)


@settings(max_examples=300, deadline=None)
@given(st.lists(any_number, min_size=1, max_size=8, unique=True), any_number,
       st.dictionaries(any_number, st.integers(0, 6)), st.one_of(st.none(), st.integers(1, 6)),
       st.sampled_from(STRATEGIES))
def test_the_chosen_number_is_in_the_pool_under_its_cap_and_nearest(
        pool: list[str], called: str, used: dict[str, int], cap: int | None,
        strategy: Strategy) -> None:
    fixed = pool[0]
    chosen = choose(pool, called, used, cap, strategy, fixed)
    allowed = [fixed] if strategy == "fixed" else pool
    open_ = [n for n in allowed if cap is None or used.get(n, 0) < cap]
    if not open_:
        assert chosen is None
        return
    assert chosen in open_
    if strategy == "local":
        assert all(tier(chosen, called) <= tier(n, called) for n in open_)
    if strategy != "fixed":
        best = tier(chosen, called) if strategy == "local" else None
        peers = [n for n in open_ if best is None or tier(n, called) == best]
        assert used.get(chosen, 0) == min(used.get(n, 0) for n in peers)


@pytest.mark.parametrize(("zone", "now", "start", "end"), [
    (None, "2026-06-10T23:30:00+00:00", "2026-06-10T00:00:00+00:00", "2026-06-11T00:00:00+00:00"),
    ("America/New_York", "2026-06-11T02:00:00+00:00",  # 22:00 on the 10th in New York
     "2026-06-10T04:00:00+00:00", "2026-06-11T04:00:00+00:00"),
    ("America/New_York", "2026-11-01T12:00:00+00:00",  # the day clocks go back: 25 hours
     "2026-11-01T04:00:00+00:00", "2026-11-02T05:00:00+00:00"),
])
def test_a_caller_ids_day_is_the_campaigns_zones_day(zone: str | None, now: str, start: str,
                                                     end: str) -> None:
    campaign = Campaign(timezone=zone)
    assert day_bounds(campaign, datetime.fromisoformat(now)) == (
        datetime.fromisoformat(start), datetime.fromisoformat(end))
