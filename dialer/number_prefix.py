"""Memoise what phonenumbers says of a North American number on its first digits.

phonenumbers' time-zone and geocoding data for country code 1 stop at seven digits (1, the
area code, the exchange), and each area code belongs to one country, so a +1 number's zones,
country and area-code state are those of its ``+1NPANXX`` prefix. Working them out takes
0.2-0.5 ms a number (it tries every NANP region's patterns); a lead list has many numbers per
exchange, so the lead flow of a large campaign asks each prefix once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
MAX_PREFIXES = 200_000  # about every NANP exchange in use; past that, nothing more is kept


def _nanp_prefix(e164: str) -> str | None:
    if len(e164) == 12 and e164.startswith("+1") and e164[1:].isdigit():
        return e164[:8]
    return None


def by_nanp_prefix(fn: Callable[[str], T]) -> Callable[[str], T]:
    """``fn(e164)`` memoised on the +1 prefix; other numbers are worked out each time."""
    cache: dict[str, T] = {}

    @functools.wraps(fn)
    def memoised(e164: str) -> T:
        key = _nanp_prefix(e164)
        if key is None:
            return fn(e164)
        try:
            return cache[key]
        except KeyError:
            value = fn(e164)
            if len(cache) < MAX_PREFIXES:
                cache[key] = value
            return value

    return memoised
