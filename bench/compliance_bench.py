"""How long the dialer's compliance check takes per lead: where the called party is (zones
and the places whose local rules apply) and whether their window is open, as the lead flow
asks it of every pending lead and the runner of every lead it dials.

Compares, in the same run, on the same numbers:
- ``memoised``: the +1NPANXX memo of dialer/number_prefix.py (what the engine runs);
- ``phonenumbers``: every number worked out by phonenumbers itself (the memo bypassed),
  the cost before the memo.

    .venv/bin/python bench/compliance_bench.py [--numbers 30000] [--area-codes 6] [--seed 1]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dialer import compliance, local_rules  # noqa: E402

AREA_CODES = ("212", "305", "512", "405", "201", "415", "617", "713", "206", "312")
NOW = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)  # a Monday, 11:00 in New York


def numbers(count: int, area_codes: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < count:
        raw = f"+1{rng.choice(AREA_CODES[:area_codes])}{rng.randint(200, 999)}" \
              f"{rng.randint(0, 9999):04d}"
        e164 = compliance.normalise(raw)
        if e164 is not None:
            out.append(e164)
    return out


def check_all(nums: list[str]) -> tuple[float, int]:
    """Seconds per number through the lead flow's path, and how many windows were open."""
    rules = compliance.CampaignRules()
    open_ = 0
    start = time.perf_counter()
    for n in nums:
        zones = compliance.called_party_zones(n)
        places = local_rules.called_party_places(n)
        assert not isinstance(zones, compliance.Reason)
        if compliance.window_closed(zones, NOW, rules, places) is None:
            open_ += 1
    return (time.perf_counter() - start) / len(nums), open_


@contextlib.contextmanager
def without_memo() -> Iterator[None]:
    """phonenumbers asked for every number: the memoised functions swapped for the ones
    they wrap, where the lead flow's path looks them up."""
    memoised = compliance.time_zones, local_rules._number_place
    compliance.time_zones = memoised[0].__wrapped__  # type: ignore[attr-defined]
    local_rules._number_place = memoised[1].__wrapped__  # type: ignore[attr-defined]
    try:
        yield
    finally:
        compliance.time_zones, local_rules._number_place = memoised


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--numbers", type=int, default=30_000)
    ap.add_argument("--area-codes", type=int, default=6, choices=range(1, len(AREA_CODES) + 1))
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    nums = numbers(args.numbers, args.area_codes, args.seed)
    exchanges = len({n[:8] for n in nums})
    print(f"{len(nums)} numbers over {args.area_codes} area codes, {exchanges} exchanges",
          flush=True)
    with without_memo():
        base, base_open = check_all(nums)
    print(f"phonenumbers: {1e6 * base:8.1f} us per number", flush=True)
    fast, fast_open = check_all(nums)
    print(f"memoised:     {1e6 * fast:8.1f} us per number ({base / fast:.1f}x)", flush=True)
    assert base_open == fast_open, "the memo changed a verdict"
    print(f"open windows: {fast_open} of {len(nums)} (same verdicts both ways)")
    print("command: .venv/bin/python bench/compliance_bench.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
