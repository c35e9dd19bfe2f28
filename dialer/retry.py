"""Retry rules: when (and whether) a lead is called again after an attempt. Pure.

A rule is chosen by the agent's disposition when there is one (a sale or "do not call" ends
the lead; "call back" retries soon), else by the attempt's outcome (busy, no answer, machine,
failed, abandoned). An abandoned call is never retried within 72 h, whatever the rule says.
Whether the retry may then be dialed (window, DNC, limits) is :mod:`dialer.compliance`'s call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from dialer.compliance import ABANDON_HOLD


class Outcome(StrEnum):
    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    MACHINE = "machine"
    FAILED = "failed"
    ABANDONED = "abandoned"


@dataclass(frozen=True)
class RetryRule:
    """Retry after ``delay``, at most ``max_retries`` times for this outcome/disposition."""

    delay: timedelta
    max_retries: int


FINAL = None  # a disposition mapped to FINAL ends the lead

DEFAULT_BY_OUTCOME: Mapping[Outcome, RetryRule | None] = {
    Outcome.BUSY: RetryRule(timedelta(minutes=15), 5),
    Outcome.NO_ANSWER: RetryRule(timedelta(hours=2), 4),
    Outcome.MACHINE: RetryRule(timedelta(hours=4), 3),
    Outcome.FAILED: RetryRule(timedelta(minutes=30), 2),
    Outcome.ABANDONED: RetryRule(ABANDON_HOLD, 2),
    Outcome.ANSWERED: FINAL,
}
DEFAULT_BY_DISPOSITION: Mapping[str, RetryRule | None] = {
    "sale": FINAL,
    "not_interested": FINAL,
    "do_not_call": FINAL,
    "wrong_number": FINAL,
    "callback": RetryRule(timedelta(hours=1), 3),
    "machine": RetryRule(timedelta(hours=4), 3),  # an agent heard a machine: an AMD miss
}


@dataclass(frozen=True)
class RetryPolicy:
    by_outcome: Mapping[Outcome, RetryRule | None] = field(
        default_factory=lambda: dict(DEFAULT_BY_OUTCOME))
    by_disposition: Mapping[str, RetryRule | None] = field(
        default_factory=lambda: dict(DEFAULT_BY_DISPOSITION))


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    reason: str
    at: datetime | None = None


def next_attempt(
    policy: RetryPolicy,
    outcome: Outcome,
    disposition: str | None,
    earlier_same: int,
    ended_at: datetime,
) -> RetryDecision:
    """Whether to call the lead again after an attempt that ended at ``ended_at``.

    ``earlier_same`` counts the lead's earlier retries under the same rule (same disposition
    if there is one, else same outcome).
    """
    if disposition is not None and disposition in policy.by_disposition:
        rule, what = policy.by_disposition[disposition], f"disposition {disposition!r}"
    elif disposition is not None:
        return RetryDecision(False, f"disposition {disposition!r} has no retry rule: final")
    else:
        rule, what = policy.by_outcome.get(outcome), f"outcome {outcome.value}"
    if rule is None:
        return RetryDecision(False, f"{what} is final")
    if earlier_same >= rule.max_retries:
        return RetryDecision(False, f"{what}: {rule.max_retries} retries used")
    delay = rule.delay
    if outcome is Outcome.ABANDONED:
        delay = max(delay, ABANDON_HOLD)
    return RetryDecision(True, f"{what}: retry {earlier_same + 1} of {rule.max_retries}",
                         ended_at + delay)


def recycle_due(last_attempt_at: datetime, now: datetime, after: timedelta) -> bool:
    """Whether a lead whose retries ran out may be recycled into the list again."""
    return now - last_attempt_at >= after
