"""Retry rules by outcome and disposition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dialer.retry import Outcome, RetryPolicy, RetryRule, next_attempt, recycle_due

T = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_outcome_rules_and_their_limits() -> None:
    p = RetryPolicy()
    busy = next_attempt(p, Outcome.BUSY, None, 0, T)
    assert busy.retry and busy.at == T + timedelta(minutes=15)
    assert not next_attempt(p, Outcome.BUSY, None, 5, T).retry
    assert not next_attempt(p, Outcome.ANSWERED, None, 0, T).retry


def test_dispositions_win_over_outcomes() -> None:
    p = RetryPolicy()
    assert not next_attempt(p, Outcome.ANSWERED, "sale", 0, T).retry
    callback = next_attempt(p, Outcome.ANSWERED, "callback", 0, T)
    assert callback.retry and callback.at == T + timedelta(hours=1)
    unknown = next_attempt(p, Outcome.ANSWERED, "mystery", 0, T)
    assert not unknown.retry and "no retry rule" in unknown.reason


def test_abandoned_calls_wait_72_hours_whatever_the_rule() -> None:
    p = RetryPolicy(by_outcome={Outcome.ABANDONED: RetryRule(timedelta(minutes=5), 3)})
    d = next_attempt(p, Outcome.ABANDONED, None, 0, T)
    assert d.retry and d.at == T + timedelta(hours=72)


def test_recycling() -> None:
    assert recycle_due(T, T + timedelta(days=7), timedelta(days=7))
    assert not recycle_due(T, T + timedelta(days=6), timedelta(days=7))
