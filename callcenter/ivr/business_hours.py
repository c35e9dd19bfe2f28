"""Business hours: weekly opening times plus a holiday calendar, in one time zone.

A flow's ``business_hours`` section becomes a :class:`BusinessHours`; conditions
read it through the names ``is_open``, ``is_holiday`` and ``holiday_name``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_YEARLY = re.compile(r"^(\d{2})-(\d{2})$")


def parse_time_range(text: str) -> tuple[time, time]:
    """``"08:00-18:00"`` -> (08:00, 18:00); ``"24:00"`` is allowed as an end."""
    found = _RANGE.match(text)
    if not found:
        raise ValueError(f"{text!r} is not a time range like '08:00-18:00'")
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2 != 0):
        raise ValueError(f"{text!r} has an hour or minute out of range")
    start = time(h1, m1)
    end = time.max if h2 == 24 else time(h2, m2)
    if end <= start:
        raise ValueError(f"{text!r} ends before it starts; split ranges that cross midnight")
    return start, end


def parse_holiday(value: date | str) -> date | tuple[int, int]:
    """A fixed date (``2025-12-24``) or a yearly ``MM-DD`` (``12-25``)."""
    if isinstance(value, date):
        return value
    found = _YEARLY.match(value.strip())
    if found:
        month, day = int(found.group(1)), int(found.group(2))
        date(2000, month, day)  # raises ValueError for 02-30 and the like
        return month, day
    return date.fromisoformat(value.strip())


@dataclass(frozen=True)
class Holiday:
    when: date | tuple[int, int]
    name: str

    def falls_on(self, day: date) -> bool:
        if isinstance(self.when, date):
            return self.when == day
        return (day.month, day.day) == self.when


@dataclass(frozen=True)
class BusinessHours:
    """Opening ranges per weekday (``mon`` .. ``sun``) and holidays (closed all day)."""

    timezone: ZoneInfo
    weekly: dict[str, tuple[tuple[time, time], ...]]
    holidays: tuple[Holiday, ...] = ()

    def holiday(self, now: datetime) -> Holiday | None:
        day = now.astimezone(self.timezone).date()
        return next((h for h in self.holidays if h.falls_on(day)), None)

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(self.timezone)
        if self.holiday(local) is not None:
            return False
        moment = local.time().replace(tzinfo=None)
        ranges = self.weekly.get(WEEKDAYS[local.weekday()], ())
        return any(start <= moment < end for start, end in ranges)
