"""SLA calendar arithmetic: business hours, holidays, 24x7, daylight saving, pause."""

from __future__ import annotations

from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.ivr.business_hours import BusinessHours, Holiday
from callcenter.tickets import (
    Priority,
    SlaClock,
    SlaConfigError,
    SlaPlan,
    add_calendar_seconds,
    calendar_seconds,
)
from tests.unit.tickets.tickets_support import OFFICE, T0, utc


def test_24x7_counts_every_second() -> None:
    assert calendar_seconds(None, T0, T0 + timedelta(hours=30)) == 30 * 3600
    assert add_calendar_seconds(None, T0, 90) == T0 + timedelta(seconds=90)


def test_business_hours_skip_nights_and_weekends() -> None:
    # Friday 17:00 Berlin (16:00 UTC in winter) to Monday 09:00 Berlin: 1 h Fri + 1 h Mon.
    friday = utc(2026, 3, 6, 16, 0)
    monday = utc(2026, 3, 9, 8, 0)
    assert calendar_seconds(OFFICE, friday, monday) == 2 * 3600
    # Two business hours after Friday 17:00 Berlin is Monday 09:00 Berlin.
    assert add_calendar_seconds(OFFICE, friday, 2 * 3600) == monday


def test_holiday_is_closed_all_day() -> None:
    hours = BusinessHours(OFFICE.timezone, OFFICE.weekly, (Holiday(date(2026, 3, 3), "x"),))
    monday_17 = utc(2026, 3, 2, 16, 0)
    assert add_calendar_seconds(hours, monday_17, 2 * 3600) == utc(2026, 3, 4, 8, 0)


def test_daylight_saving_day_neither_adds_nor_loses_hours() -> None:
    tz = ZoneInfo("Europe/Berlin")
    always = BusinessHours(
        tz,
        {d: ((time(0, 0), time.max),) for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    )
    start = utc(2026, 3, 28, 12, 0)  # the night of 29 March has 23 hours in Berlin
    assert calendar_seconds(always, start, start + timedelta(days=2)) == 48 * 3600


def test_calendar_that_never_opens_is_a_config_error() -> None:
    closed = BusinessHours(ZoneInfo("UTC"), {})
    with pytest.raises(SlaConfigError, match="opening ranges"):
        SlaPlan(Priority.LOW, 60, 60, hours=closed)
    with pytest.raises(SlaConfigError, match="never opens"):
        add_calendar_seconds(closed, T0, 60)


def test_paused_clock_stands_still_and_has_no_due_time() -> None:
    clock = SlaClock.started(T0)
    paused = clock.pause(None, T0 + timedelta(minutes=10))
    assert paused.elapsed(None, T0 + timedelta(days=3)) == 600
    assert paused.due(None, 3600) is None
    resumed = paused.resume(T0 + timedelta(days=3))
    assert resumed.due(None, 3600) == T0 + timedelta(days=3, minutes=50)


@given(st.integers(0, 14 * 24 * 3600), st.integers(1, 40 * 3600))
def test_adding_then_counting_business_seconds_round_trips(offset: int, seconds: int) -> None:
    start = T0 + timedelta(seconds=offset)
    end = add_calendar_seconds(OFFICE, start, seconds)
    assert calendar_seconds(OFFICE, start, end) == pytest.approx(seconds)
    assert OFFICE.is_open(end - timedelta(microseconds=1))
