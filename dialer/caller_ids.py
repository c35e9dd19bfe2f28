"""Caller-ID pools: which of a campaign's numbers a call shows, and which numbers look labelled.

Carriers' analytics label a number "Spam Likely" when it places many calls a day, with short
durations and few answers. Call centres answer with pools of numbers, each capped at a number
of calls a day, shown by "local presence" (a number of the called party's area code or state,
which people answer more often), and they watch each number's answer rate: a number whose
rate falls well under the pool's has most likely been labelled.

Pure: the pool, the called number and today's counts come in, a number (or None) goes out;
the store side (counting, recording, holding leads) is :mod:`dialer.caller_id_usage`.

Strategies (:data:`STRATEGIES`):

- ``fixed``: the campaign's own caller ID (the default without a pool);
- ``rotate``: the pool number used least today among those under the cap, ties broken by
  pool order;
- ``local``: the pool numbers closest to the called party first (:class:`Tier`: the same
  NANP area code, else the same US state or Canadian province, else the same country, else
  any), the least used today within the best tier that has a number under the cap.

A daily cap applies to every strategy: when no number the strategy may show is under it,
:func:`choose` gives None and the call is not placed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import IntEnum
from typing import Any, Literal

import phonenumbers

from dialer.local_rules import area_code_subdivision, number_country

Strategy = Literal["fixed", "rotate", "local"]
STRATEGIES: tuple[Strategy, ...] = ("fixed", "rotate", "local")
MAX_POOL = 1000
HEALTH_DAYS = 7
SUSPECT_MIN_CALLS = 50  # fewer calls say too little about a number's answer rate
SUSPECT_SHARE = 0.5  # suspect under half the pool's answer rate


class Tier(IntEnum):
    """How close a shown number is to the called one (lower is closer)."""

    AREA_CODE = 0
    STATE = 1  # US state or Canadian province
    COUNTRY = 2
    ANY = 3


def pool_number(raw: str) -> str:
    """``raw`` as a valid E.164 number; ValueError naming it and saying what to give."""
    text = raw.strip()
    try:
        parsed = phonenumbers.parse(text, None)
        valid = text.startswith("+") and phonenumbers.is_valid_number(parsed)
    except phonenumbers.NumberParseException:
        valid = False
    if not valid:
        raise ValueError(f"caller ID pool: {raw!r} is not a valid E.164 number: give each "
                         "number with + and its country code, e.g. +12125550199 (a number "
                         "the business may use and that can be called back)")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def check_pool(raw: Iterable[str]) -> list[str]:
    """The pool in E.164, each number once, in the order given (:func:`pool_number`)."""
    pool = list(dict.fromkeys(pool_number(n) for n in raw))
    if len(pool) > MAX_POOL:
        raise ValueError(f"caller ID pool: {len(pool)} numbers, at most {MAX_POOL}")
    return pool


@functools.lru_cache(maxsize=65_536)
def _place(e164: str) -> tuple[str | None, str | None, str | None]:
    """A number's NANP area code, US state or Canadian province, and country: worked out
    once per number (a pool's numbers are asked about at every call; phonenumbers takes
    0.05-0.5 ms a number outside the +1 memo of :mod:`dialer.number_prefix`)."""
    code = e164[2:5] if len(e164) == 12 and e164.startswith("+1") else None
    return code, area_code_subdivision(e164), number_country(e164)


def tier(shown: str, called: str) -> Tier:
    """How close ``shown`` is to ``called`` (both E.164)."""
    for near, mine, theirs in zip((Tier.AREA_CODE, Tier.STATE, Tier.COUNTRY), _place(shown),
                                  _place(called), strict=True):
        if theirs is not None and mine == theirs:
            return near
    return Tier.ANY


def shown_numbers(pool: Sequence[str], strategy: Strategy, fixed: str) -> tuple[str, ...]:
    """The numbers a strategy may show: the pool, or the campaign's own for ``fixed`` (and
    for a campaign without a pool)."""
    return (fixed,) if strategy == "fixed" or not pool else tuple(pool)


def under_cap(numbers: Iterable[str], used_today: Mapping[str, int],
              cap: int | None) -> list[str]:
    return [n for n in numbers if cap is None or used_today.get(n, 0) < cap]


def choose(pool: Sequence[str], called: str, used_today: Mapping[str, int], cap: int | None,
           strategy: Strategy = "fixed", fixed: str = "") -> str | None:
    """The number to show ``called``: None when every number the strategy may show reached
    ``cap`` calls today (``used_today``: calls per number today)."""
    numbers = under_cap(shown_numbers(pool, strategy, fixed), used_today, cap)
    if not numbers:
        return None
    order = {n: i for i, n in enumerate(numbers)}

    def rank(n: str) -> tuple[int, int, int]:
        near = tier(n, called) if strategy == "local" else Tier.ANY
        return near, used_today.get(n, 0), order[n]

    return min(numbers, key=rank)


@dataclass(frozen=True)
class NumberHealth:
    """One shown number over the last days: calls, answers by a person, and whether its
    answer rate makes it look labelled as spam."""

    number: str
    calls_today: int
    calls: int
    answers: int
    answer_rate: float | None
    suspect: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def health(numbers: Sequence[str], calls: Mapping[str, int], answers: Mapping[str, int],
           today: Mapping[str, int]) -> list[NumberHealth]:
    """Each number's figures (``calls``, ``answers`` over the period, ``today``'s calls):
    ``suspect`` when it placed at least :data:`SUSPECT_MIN_CALLS` calls and its answer rate
    is under half the pool's over the same period."""
    total = sum(calls.get(n, 0) for n in numbers)
    pool_rate = sum(answers.get(n, 0) for n in numbers) / total if total else None
    out = []
    for n in numbers:
        placed, answered = calls.get(n, 0), answers.get(n, 0)
        rate = answered / placed if placed else None
        suspect = (rate is not None and pool_rate is not None and placed >= SUSPECT_MIN_CALLS
                   and rate < SUSPECT_SHARE * pool_rate)
        out.append(NumberHealth(n, today.get(n, 0), placed, answered, rate, suspect))
    return out
