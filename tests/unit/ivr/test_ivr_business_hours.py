"""Business hours with a holiday calendar, in the flow's time zone."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from callcenter.ivr.business_hours import parse_holiday, parse_time_range
from callcenter.ivr.model import BusinessHoursSpec

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")
HOURS = BusinessHoursSpec.model_validate(
    {
        "weekly": {
            "mon": "08:00-18:00",
            "fri": ["08:00-12:00", "13:00-16:00"],
            "sat": "closed",
            "sun": "00:00-24:00",
        },
        "holidays": ["12-25", date(2025, 4, 18), {"date": "2025-06-09", "name": "Whit Monday"}],
    }
).calendar(BERLIN)


@pytest.mark.parametrize(
    ("when", "is_open"),
    [
        (datetime(2025, 3, 3, 8, 0, tzinfo=BERLIN), True),  # Monday opening minute
        (datetime(2025, 3, 3, 7, 59, tzinfo=BERLIN), False),
        (datetime(2025, 3, 3, 18, 0, tzinfo=BERLIN), False),  # closing time is closed
        (datetime(2025, 3, 3, 16, 30, tzinfo=UTC), True),  # 17:30 in Berlin
        (datetime(2025, 3, 3, 17, 30, tzinfo=UTC), False),  # 18:30 in Berlin
        (datetime(2025, 3, 4, 10, 0, tzinfo=BERLIN), False),  # Tuesday: not listed
        (datetime(2025, 3, 7, 12, 30, tzinfo=BERLIN), False),  # Friday lunch break
        (datetime(2025, 3, 7, 13, 0, tzinfo=BERLIN), True),
        (datetime(2025, 3, 8, 10, 0, tzinfo=BERLIN), False),  # Saturday closed
        (datetime(2025, 3, 9, 23, 59, tzinfo=BERLIN), True),  # Sunday all day
        (datetime(2025, 4, 18, 10, 0, tzinfo=BERLIN), False),  # fixed-date holiday (a Friday)
        (datetime(2026, 12, 25, 10, 0, tzinfo=BERLIN), False),  # yearly holiday
        (datetime(2025, 6, 9, 10, 0, tzinfo=BERLIN), False),  # named holiday (a Monday)
        (datetime(2025, 6, 16, 10, 0, tzinfo=BERLIN), True),
    ],
)
def test_is_open(when: datetime, is_open: bool) -> None:
    assert HOURS.is_open(when) is is_open


def test_holiday_names() -> None:
    holiday = HOURS.holiday(datetime(2025, 6, 9, 10, 0, tzinfo=BERLIN))
    assert holiday is not None and holiday.name == "Whit Monday"
    assert HOURS.holiday(datetime(2025, 6, 10, 10, 0, tzinfo=BERLIN)) is None


def test_parsers() -> None:
    assert parse_time_range("8:00 - 17:30") == (time(8, 0), time(17, 30))
    assert parse_holiday("02-29") == (2, 29)
    for bad in ("25:00-26:00", "10:00-09:00", "nine to five"):
        with pytest.raises(ValueError):
            parse_time_range(bad)
    with pytest.raises(ValueError):
        parse_holiday("02-30")
