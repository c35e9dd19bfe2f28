"""The pure rules of a scheduled callback's time: how the text is read (an offset, or the
lead's wall clock), the bounds (future, 90 days), DST gaps, and the calling window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialer import compliance
from dialer.callback_times import MAX_AHEAD, CallbackTimeError, callback_time

NY = (ZoneInfo("America/New_York"),)
LA = (ZoneInfo("America/Los_Angeles"),)
# Wednesday 2026-06-10 15:00 UTC: 11:00 in New York.
NOW = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)
RULES = compliance.CampaignRules()  # 09:00-20:00 every day


def test_a_local_time_is_the_leads_wall_clock() -> None:
    ny = callback_time("2026-06-16T15:30", NY, NOW, RULES)
    la = callback_time("2026-06-16T15:30", LA, NOW, RULES)
    assert ny.due == datetime(2026, 6, 16, 19, 30, tzinfo=UTC)  # EDT, UTC-4
    assert la.due == datetime(2026, 6, 16, 22, 30, tzinfo=UTC)  # PDT, UTC-7
    assert ny.read_as == "local time in America/New_York"
    assert ny.window_opens is None and ny.note() is None


def test_winter_time_uses_the_winter_offset() -> None:
    assert callback_time("2026-08-30T12:00", NY, NOW, RULES).due.hour == 16
    later = NOW + timedelta(days=80)  # 2026-08-29, so December is within 90 days
    assert callback_time("2026-11-16T12:00", NY, later, RULES).due.hour == 17  # EST, UTC-5


def test_an_offset_is_that_instant_wherever_the_lead_is() -> None:
    got = callback_time("2026-06-16T15:30:00+02:00", LA, NOW, RULES)
    assert got.due == datetime(2026, 6, 16, 13, 30, tzinfo=UTC)
    assert got.read_as == "offset given"
    assert callback_time("2026-06-16T13:30Z", LA, NOW, RULES).due == got.due


def test_several_zones_with_different_clocks_need_an_offset() -> None:
    zones = compliance.called_party_zones("+18005550123")  # toll-free: every US zone
    assert not isinstance(zones, compliance.Reason) and len(zones) > 1
    with pytest.raises(CallbackTimeError, match="several time zones.*send an offset"):
        callback_time("2026-06-16T15:30", zones, NOW, RULES)
    # With an offset the same lead is fine.
    assert callback_time("2026-06-16T15:30-04:00", zones, NOW, RULES).due.hour == 19


def test_zones_that_agree_at_that_time_are_one_clock() -> None:
    zones = (ZoneInfo("America/New_York"), ZoneInfo("America/Detroit"))
    assert callback_time("2026-06-16T15:30", zones, NOW, RULES).due.hour == 19


def test_an_unknown_zone_needs_an_offset() -> None:
    with pytest.raises(CallbackTimeError, match="UNKNOWN_ZONE.*send an offset"):
        callback_time("2026-06-16T15:30", compliance.Reason.UNKNOWN_ZONE, NOW, RULES)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("2026-06-10T10:00", "in the past"),  # 10:00 in New York is 14:00 UTC, before NOW
        ("2026-06-10T11:00", "in the past"),  # exactly now
        ("2026-06-10T14:59:59Z", "in the past"),
        ("2026-09-09T15:00:01Z", "more than 90 days ahead"),
        ("next tuesday", "not an ISO 8601"),
        ("2026-06-16 25:00", "not an ISO 8601"),
    ],
)
def test_bad_times_say_what_was_wrong_and_what_to_send(raw: str, says: str) -> None:
    with pytest.raises(CallbackTimeError, match=says) as err:
        callback_time(raw, NY, NOW, RULES)
    assert "send" in str(err.value)


def test_the_bounds_are_inclusive_of_90_days() -> None:
    assert callback_time((NOW + MAX_AHEAD).isoformat(), NY, NOW, RULES).due == NOW + MAX_AHEAD
    assert callback_time("2026-06-10T11:00:01", NY, NOW, RULES).due == NOW + timedelta(seconds=1)


def test_a_local_time_skipped_by_the_clocks_is_refused() -> None:
    march = datetime(2027, 3, 1, tzinfo=UTC)
    with pytest.raises(CallbackTimeError, match="does not exist in America/New_York"):
        callback_time("2027-03-14T02:30", NY, march, RULES)
    # The hour that happens twice is its first time (EDT, UTC-4).
    october = datetime(2026, 10, 1, tzinfo=UTC)
    assert callback_time("2026-11-01T01:30", NY, october, RULES).due.hour == 5


def test_outside_the_window_waits_for_it_and_says_so() -> None:
    late = callback_time("2026-06-16T21:30", NY, NOW, RULES)  # after 20:00 in New York
    assert late.due == datetime(2026, 6, 17, 1, 30, tzinfo=UTC)
    assert late.window_opens == datetime(2026, 6, 17, 13, 0, tzinfo=UTC)  # 09:00 next day
    assert late.note() is not None and "waits for the window" in late.note()  # type: ignore[operator]
    sunday_off = compliance.CampaignRules(weekdays=frozenset(range(6)))
    sunday = callback_time("2026-06-14T10:00", NY, NOW, sunday_off)
    assert sunday.window_opens == datetime(2026, 6, 15, 13, 0, tzinfo=UTC)  # Monday 09:00


@given(st.integers(min_value=1, max_value=90 * 24 * 60 - 1))
def test_any_future_instant_within_the_bound_round_trips(minutes: int) -> None:
    due = NOW + timedelta(minutes=minutes)
    local = due.astimezone(NY[0]).replace(tzinfo=None).isoformat()
    got = callback_time(local, NY, NOW, RULES)
    assert got.due == due or local.startswith("2026-11-01T01")  # the hour that repeats
    assert callback_time(due.isoformat(), LA, NOW, RULES).due == due
