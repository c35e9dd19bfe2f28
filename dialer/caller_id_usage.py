"""Caller-ID pools in the store: today's calls per shown number, the number for the next call,
and each number's health (:mod:`dialer.caller_ids` decides; this module counts).

Every attempt records the number it showed (``attempts.caller_id``). A number's day is the
calendar day in the campaign's fallback time zone (``campaigns.timezone``), else in UTC: the
daily cap starts again at that midnight. Counting is one query over the campaign's attempts
since then (the ``(campaign_id, started_at)`` index), in the transaction that records the
attempt; with a daily cap, such transactions take turns on the campaign's row, so two calls
recorded at once cannot both take a number's last call of the day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from dialer import caller_ids
from dialer.ports import Result
from dialer.store import Campaign, LeadAttempt

# A person picked up: connected to an agent (or the survey), or dropped for want of one.
PERSON_ANSWERED = (Result.HUMAN.value, Result.ABANDONED.value)


def day_bounds(campaign: Campaign, now: datetime) -> tuple[datetime, datetime]:
    """When the caller IDs' day began and when the next one begins (UTC)."""
    zone = ZoneInfo(campaign.timezone) if campaign.timezone else UTC
    local = now.astimezone(zone)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    following = start + timedelta(days=1)  # wall-clock arithmetic: a DST day is 23 or 25 h
    return start.astimezone(UTC), following.astimezone(UTC)


def _counts(session: Session, campaign: Campaign, since: datetime) -> dict[str, int]:
    return {str(number): int(n) for number, n in session.execute(
        select(LeadAttempt.caller_id, func.count())
        .where(LeadAttempt.campaign_id == campaign.id, LeadAttempt.started_at >= since,
               LeadAttempt.caller_id.is_not(None))
        .group_by(LeadAttempt.caller_id))}


def calls_today(session: Session, campaign: Campaign, now: datetime) -> dict[str, int]:
    """Calls each shown number placed for the campaign today."""
    return _counts(session, campaign, day_bounds(campaign, now)[0])


def _strategy(campaign: Campaign) -> caller_ids.Strategy:
    return next((s for s in caller_ids.STRATEGIES if s == campaign.caller_id_strategy), "fixed")


def shown_numbers(campaign: Campaign) -> tuple[str, ...]:
    return caller_ids.shown_numbers(campaign.caller_ids or [], _strategy(campaign),
                                    campaign.caller_id)


def caller_id_for(session: Session, campaign: Campaign, number: str,
                  now: datetime) -> str | None:
    """The number to show the call to ``number``; None when every number the campaign may
    show reached its daily cap (a campaign with one number and no cap needs no count)."""
    if len(shown_numbers(campaign)) == 1 and campaign.caller_id_daily_cap is None:
        return shown_numbers(campaign)[0]
    if campaign.caller_id_daily_cap is not None:
        # Calls recorded at the same moment (several preview agents) take turns on the
        # campaign's row, so each counts the ones before it: the cap is not passed. SQLite
        # serialises writers anyway; PostgreSQL's FOR NO KEY UPDATE lets lead and attempt
        # inserts (their foreign keys) through.
        session.execute(select(Campaign.id).where(Campaign.id == campaign.id)
                        .with_for_update(key_share=True))
    return caller_ids.choose(campaign.caller_ids or [], number,
                             calls_today(session, campaign, now),
                             campaign.caller_id_daily_cap, _strategy(campaign),
                             campaign.caller_id)


def pool_used_up(session: Session, campaign: Campaign, now: datetime) -> bool:
    """Every number the campaign may show reached its daily cap."""
    if campaign.caller_id_daily_cap is None:
        return False
    used = calls_today(session, campaign, now)
    return not caller_ids.under_cap(shown_numbers(campaign), used,
                                    campaign.caller_id_daily_cap)


def pool_health(session: Session, campaign: Campaign, now: datetime,
                days: int = caller_ids.HEALTH_DAYS) -> list[caller_ids.NumberHealth]:
    """Each number the campaign shows (or showed in the period): calls today, and calls,
    person answers and answer rate over the last ``days`` days, with the suspect flag."""
    calls: dict[str, int] = {}
    answers: dict[str, int] = {}
    for row in session.execute(
            select(LeadAttempt.caller_id, func.count(),
                   func.sum(case((LeadAttempt.outcome.in_(PERSON_ANSWERED), 1), else_=0)))
            .where(LeadAttempt.campaign_id == campaign.id,
                   LeadAttempt.started_at >= now - timedelta(days=days),
                   LeadAttempt.caller_id.is_not(None))
            .group_by(LeadAttempt.caller_id)):
        number, n, answered = str(row[0]), int(row[1]), int(row[2] or 0)
        calls[number], answers[number] = n, answered
    numbers = list(dict.fromkeys([*shown_numbers(campaign), *(campaign.caller_ids or []),
                                  *sorted(calls)]))
    return caller_ids.health(numbers, calls, answers, calls_today(session, campaign, now))


@dataclass(frozen=True)
class PoolReport:
    """A campaign's caller IDs, how it picks them, and each one's health."""

    campaign: str
    strategy: str
    daily_cap: int | None
    day_starts: datetime  # when today's counts began (UTC)
    days: int
    numbers: list[caller_ids.NumberHealth]
    used_up: bool  # every number the campaign may show reached the cap today

    def as_dict(self) -> dict[str, Any]:
        return {"campaign": self.campaign, "strategy": self.strategy,
                "daily_cap": self.daily_cap, "day_starts": self.day_starts.isoformat(),
                "days": self.days, "used_up": self.used_up,
                "numbers": [n.as_dict() for n in self.numbers]}


def pool_report(session: Session, campaign: Campaign, now: datetime,
                days: int = caller_ids.HEALTH_DAYS) -> PoolReport:
    numbers = pool_health(session, campaign, now, days)
    cap = campaign.caller_id_daily_cap
    today = {n.number: n.calls_today for n in numbers}
    used_up = cap is not None and not caller_ids.under_cap(shown_numbers(campaign), today, cap)
    return PoolReport(campaign.name, _strategy(campaign), cap, day_bounds(campaign, now)[0],
                      days, numbers, used_up)
