"""SLA clocks: targets per priority, counted on business hours or 24x7, paused on demand.

The clock of a ticket starts when the customer first waited (entered the queue, sent the
mail, opened the chat), not when the ticket was written; it runs while the ticket is new or
open and stands still while the ticket waits on the customer or is resolved. Elapsed time is
counted in *calendar* seconds: every second for a 24x7 plan, only opening hours otherwise.
All arithmetic is done in UTC so that daylight-saving changes neither add nor lose time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from callcenter.ivr.business_hours import WEEKDAYS, BusinessHours

from .model import Priority, SlaConfigError

_SEARCH_DAYS = 3700  # ten years: a calendar that never opens in that span is a config error


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone: the ticket core needs aware datetimes")
    return moment.astimezone(UTC)


def _open_ranges(hours: BusinessHours, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Opening ranges (UTC) from ``start`` on, in order, clipped to begin no earlier."""
    tz = hours.timezone
    day = start.astimezone(tz).date()
    for _ in range(_SEARCH_DAYS):
        if not any(h.falls_on(day) for h in hours.holidays):
            for begin, end in hours.weekly.get(WEEKDAYS[day.weekday()], ()):
                lo = datetime.combine(day, begin, tz).astimezone(UTC)
                hi = _end_of(day, end, hours).astimezone(UTC)
                lo = max(lo, start)
                if hi > lo:
                    yield lo, hi
        day += timedelta(days=1)


def _end_of(day: date, end: time, hours: BusinessHours) -> datetime:
    if end == time.max:  # "24:00"
        return datetime.combine(day + timedelta(days=1), time(0), hours.timezone)
    return datetime.combine(day, end, hours.timezone)


def calendar_seconds(hours: BusinessHours | None, start: datetime, end: datetime) -> float:
    """Seconds between ``start`` and ``end`` that count: all of them on 24x7 (``None``)."""
    start, end = _utc(start), _utc(end)
    if end <= start:
        return 0.0
    if hours is None:
        return (end - start).total_seconds()
    total = 0.0
    for lo, hi in _open_ranges(hours, start):
        if lo >= end:
            break
        total += (min(hi, end) - lo).total_seconds()
    return total


def add_calendar_seconds(hours: BusinessHours | None, start: datetime, seconds: float) -> datetime:
    """The moment when ``seconds`` counting seconds have passed after ``start``."""
    start = _utc(start)
    if seconds <= 0 or hours is None:
        return start + timedelta(seconds=max(seconds, 0.0))
    remaining = seconds
    for lo, hi in _open_ranges(hours, start):
        span = (hi - lo).total_seconds()
        if remaining <= span:
            return lo + timedelta(seconds=remaining)
        remaining -= span
    raise SlaConfigError("the business-hours calendar never opens: give it opening ranges")


@dataclass(frozen=True)
class SlaPlan:
    """Targets for one priority. ``hours=None`` is 24x7; ``warn_at`` is the share of a target
    after which the ticket's priority is raised once (nearing breach)."""

    priority: Priority
    first_response_s: float
    resolution_s: float
    hours: BusinessHours | None = None
    warn_at: float = 0.8

    def __post_init__(self) -> None:
        if self.first_response_s <= 0 or self.resolution_s <= 0:
            raise SlaConfigError(f"SLA plan {self.priority}: targets must be positive seconds")
        if not 0 < self.warn_at < 1:
            raise SlaConfigError(f"SLA plan {self.priority}: warn_at must be between 0 and 1")
        if self.hours is not None and not any(self.hours.weekly.values()):
            raise SlaConfigError(
                f"SLA plan {self.priority}: the business calendar has no opening ranges; "
                "add some or use 24x7"
            )


SlaPlans = Mapping[Priority, SlaPlan]


@dataclass(frozen=True)
class SlaClock:
    """``used_s`` counted up to ``running_since``; ``running_since=None`` means paused."""

    started_at: datetime
    used_s: float = 0.0
    running_since: datetime | None = None

    @classmethod
    def started(cls, at: datetime) -> SlaClock:
        return cls(started_at=_utc(at), used_s=0.0, running_since=_utc(at))

    @property
    def running(self) -> bool:
        return self.running_since is not None

    def elapsed(self, hours: BusinessHours | None, now: datetime) -> float:
        if self.running_since is None:
            return self.used_s
        return self.used_s + calendar_seconds(hours, self.running_since, now)

    def pause(self, hours: BusinessHours | None, now: datetime) -> SlaClock:
        if self.running_since is None:
            return self
        return replace(self, used_s=self.elapsed(hours, now), running_since=None)

    def resume(self, now: datetime) -> SlaClock:
        if self.running_since is not None:
            return self
        return replace(self, running_since=_utc(now))

    def due(self, hours: BusinessHours | None, target_s: float) -> datetime | None:
        """When ``target_s`` is reached if the clock keeps running; ``None`` while paused."""
        if self.running_since is None:
            return None
        return add_calendar_seconds(hours, self.running_since, target_s - self.used_s)
