"""Compliance, property-tested: no call to a DNC number, none outside 08:00-21:00 local."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dialer.compliance import (
    US_STATE_ZONES,
    AbandonCounts,
    Attempt,
    CampaignRules,
    DialDecision,
    DncLists,
    Reason,
    called_party_zones,
    check_dial,
    is_abandoned,
    named_zones,
    normalise,
    ring_timeout_s,
    time_zones,
)

REGIONS = ["US", "CA", "GB", "AU", "BR", "RU", "FR", "DE", "IN", "MX", "ID", "JP"]


@st.composite
def numbers(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(REGIONS))
    example = phonenumbers.example_number(region)
    assert example is not None
    national = str(example.national_number)
    tail = draw(st.integers(0, 10 ** min(4, len(national) - 3) - 1))
    digits = national[: len(national) - len(str(tail))] + str(tail)
    candidate = f"+{example.country_code}{digits}"
    e164 = normalise(candidate)
    assume(e164 is not None)
    return e164 or ""


clocks = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)
windows = st.tuples(st.times(), st.times())


def local_times(e164: str, at: datetime) -> list[time]:
    return [at.astimezone(z).time() for z in time_zones(e164)]


@settings(max_examples=300, deadline=None)
@given(numbers(), clocks, windows, st.booleans())
def test_never_outside_legal_hours_nor_the_campaign_window(
    number: str, now: datetime, window: tuple[time, time], on_dnc: bool
) -> None:
    rules = CampaignRules(window_start=window[0], window_end=window[1])
    dnc = DncLists(national=frozenset({number}) if on_dnc else frozenset())
    decision = check_dial(number, rules, dnc, (), AbandonCounts(), now)
    if decision.allowed:
        assert not on_dnc
        for local in local_times(number, now):
            assert time(8, 0) <= local < time(21, 0)
            assert window[0] <= local < window[1]
    if on_dnc:
        assert decision.reason is Reason.DNC_NATIONAL and decision.next_allowed_at is None


@settings(max_examples=200, deadline=None)
@given(numbers(), clocks)
def test_next_allowed_time_is_really_allowed(number: str, now: datetime) -> None:
    rules = CampaignRules()
    decision = check_dial(number, rules, DncLists(), (), AbandonCounts(), now)
    if not decision.allowed and decision.next_allowed_at is not None:
        assert decision.next_allowed_at > now
        again = check_dial(number, rules, DncLists(), (), AbandonCounts(), decision.next_allowed_at)
        assert again.allowed, again
    elif decision.allowed:
        assert decision.next_allowed_at == now


@settings(max_examples=100, deadline=None)
@given(numbers(), clocks, st.sampled_from(["internal", "campaign", "national"]))
def test_every_dnc_list_is_checked_at_the_moment_of_dialing(
    number: str, now: datetime, which: str
) -> None:
    rules = CampaignRules(campaign_id="c1", window_start=time(0, 0), window_end=time(23, 59))
    lists = DncLists()
    assert check_dial(number, rules, lists, (), AbandonCounts(), now).reason not in (
        Reason.DNC_INTERNAL,
        Reason.DNC_CAMPAIGN,
        Reason.DNC_NATIONAL,
    )
    if which == "internal":
        lists = lists.with_opt_out(number)  # the called party pressed the opt-out key
    elif which == "campaign":
        lists = DncLists(campaign={"c1": frozenset({number})})
    else:
        lists = DncLists(national=frozenset({number}))
    decision = check_dial(number, rules, lists, (), AbandonCounts(), now)
    assert not decision.allowed
    assert decision.reason.name == f"DNC_{which.upper()}"


NYC = "+12125550123"  # America/New_York only
NOON_NY = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


def test_number_spanning_zones_uses_the_window_legal_in_all() -> None:
    # A US mobile-like number without area-code zone data spans every US zone.
    zones = time_zones("+18005550100")
    assert len(zones) > 1
    at = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 09:00 New York, 04:00 Hawaii
    decision = check_dial("+18005550100", CampaignRules(), DncLists(), (), AbandonCounts(), at)
    assert not decision.allowed and decision.reason is Reason.OUTSIDE_WINDOW
    assert check_dial(NYC, CampaignRules(), DncLists(), (), AbandonCounts(), at).allowed


def test_holidays_attempt_limits_and_abandon_hold() -> None:
    rules = CampaignRules(
        holidays=frozenset({date(2026, 11, 26)}), max_attempts_per_day=2, max_attempts_total=3
    )
    none = AbandonCounts()
    thanksgiving = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)
    assert check_dial(NYC, rules, DncLists(), (), none, thanksgiving).reason is Reason.HOLIDAY
    two_today = [Attempt(NOON_NY - timedelta(hours=2)), Attempt(NOON_NY - timedelta(hours=1))]
    daily = check_dial(NYC, rules, DncLists(), two_today, none, NOON_NY)
    assert daily.reason is Reason.DAILY_LIMIT
    assert daily.next_allowed_at == datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # 09:00 NY
    three = [Attempt(NOON_NY - timedelta(days=d)) for d in (1, 2, 3)]
    assert check_dial(NYC, rules, DncLists(), three, none, NOON_NY).reason is Reason.TOTAL_LIMIT
    dropped = [Attempt(NOON_NY - timedelta(hours=71), abandoned=True)]
    hold = check_dial(NYC, rules, DncLists(), dropped, none, NOON_NY)
    assert hold.reason is Reason.ABANDON_HOLD
    assert hold.next_allowed_at is not None
    assert hold.next_allowed_at >= NOON_NY + timedelta(hours=1)
    later = [Attempt(NOON_NY - timedelta(hours=73), abandoned=True)]
    assert check_dial(NYC, rules, DncLists(), later, none, NOON_NY).allowed


def test_abandon_rate_over_target_stops_dialing_campaign_and_rolling() -> None:
    rules = CampaignRules()
    ok = AbandonCounts(live_answered=1000, abandoned=30, live_answered_30d=100, abandoned_30d=3)
    assert check_dial(NYC, rules, DncLists(), (), ok, NOON_NY).allowed
    over = AbandonCounts(live_answered=1000, abandoned=31, live_answered_30d=100, abandoned_30d=0)
    assert check_dial(NYC, rules, DncLists(), (), over, NOON_NY).reason is (
        Reason.CAMPAIGN_ABANDON_RATE
    )
    rolling = AbandonCounts(
        live_answered=1000, abandoned=10, live_answered_30d=100, abandoned_30d=4
    )
    assert check_dial(NYC, rules, DncLists(), (), rolling, NOON_NY).reason is (
        Reason.ROLLING_ABANDON_RATE
    )


def test_ring_at_least_15_s_and_the_two_second_rule() -> None:
    assert ring_timeout_s(CampaignRules(ring_timeout_s=8.0)) == 15.0
    assert ring_timeout_s(CampaignRules(ring_timeout_s=30.0)) == 30.0
    assert not is_abandoned(10.0, 11.5, 11.5)
    assert not is_abandoned(10.0, None, 11.9)
    assert is_abandoned(10.0, None, 12.0)
    assert is_abandoned(10.0, 12.5, 13.0)


def test_invalid_numbers_and_naive_clocks() -> None:
    assert (
        check_dial("12", CampaignRules(), DncLists(), (), AbandonCounts(), NOON_NY).reason
        is Reason.INVALID_NUMBER
    )
    try:
        check_dial(NYC, CampaignRules(), DncLists(), (), AbandonCounts(), datetime(2026, 1, 1))
    except ValueError as err:
        assert "aware" in str(err)
    else:
        raise AssertionError("a naive datetime must be refused")


# --- Whose time zone: the lead's own > the number's > the campaign's fallback > refuse ---

UNKNOWN_ZONE_NUMBERS = ["+80012345678", "+870301234567", "+881612345678", "+883510012345"]
LEAD_ZONES = [
    "America/Chicago",
    "Pacific/Honolulu",
    "Europe/Berlin",
    "Asia/Tokyo",
    "Australia/Sydney",
    "TX",
    "ca",
    "IN",
    "AK",
    "PR",
]
FALLBACKS = ["America/New_York", "Asia/Kolkata", "Pacific/Auckland", "UTC"]


def test_unknown_zone_numbers_have_no_zone() -> None:
    for number in UNKNOWN_ZONE_NUMBERS:
        assert normalise(number) == number and time_zones(number) == ()


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(numbers(), st.sampled_from(UNKNOWN_ZONE_NUMBERS)),
    clocks,
    windows,
    st.none() | st.sampled_from(LEAD_ZONES),
    st.none() | st.sampled_from(FALLBACKS),
)
def test_never_outside_the_hours_of_the_zone_that_applies(
    number: str,
    now: datetime,
    window: tuple[time, time],
    lead_zone: str | None,
    fallback: str | None,
) -> None:
    rules = CampaignRules(
        window_start=window[0],
        window_end=window[1],
        fallback_zone=ZoneInfo(fallback) if fallback else None,
    )
    decision = check_dial(number, rules, DncLists(), (), AbandonCounts(), now, lead_zone)
    if lead_zone:
        zones = named_zones(lead_zone)
    else:
        zones = time_zones(number) or ((ZoneInfo(fallback),) if fallback else ())
    expected = zones or Reason.UNKNOWN_ZONE
    assert called_party_zones(number, lead_zone, rules.fallback_zone) == expected
    if not zones:
        assert decision == DialDecision(False, Reason.UNKNOWN_ZONE)
        assert "--timezone" in decision.reason.value and "timezone column" in decision.reason.value
        return
    if decision.allowed:
        for zone in zones:
            local = now.astimezone(zone).time()
            assert time(8, 0) <= local < time(21, 0)
            assert window[0] <= local < window[1]
    elif decision.next_allowed_at is not None:
        again = check_dial(
            number, rules, DncLists(), (), AbandonCounts(), decision.next_allowed_at, lead_zone
        )
        assert again.allowed, again


def test_the_leads_zone_wins_and_narrows_a_number_spanning_zones() -> None:
    at = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 09:00 New York, 08:00 Chicago, 04:00 HI
    toll_free = "+18005550100"  # every US zone: closed in Hawaii
    none = AbandonCounts()
    assert not check_dial(toll_free, CampaignRules(), DncLists(), (), none, at).allowed
    assert check_dial(
        toll_free, CampaignRules(), DncLists(), (), none, at, "America/New_York"
    ).allowed
    assert check_dial(toll_free, CampaignRules(), DncLists(), (), none, at, "NY").allowed
    # Texas spans Central and Mountain: 08:00 Chicago but 07:00 Denver
    texas = check_dial(toll_free, CampaignRules(), DncLists(), (), none, at, "TX")
    assert texas.reason is Reason.OUTSIDE_WINDOW
    assert texas.next_allowed_at == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 09:00 Denver
    # the lead lives in Honolulu although the number is New York's: the lead's zone wins
    moved = check_dial(NYC, CampaignRules(), DncLists(), (), none, at, "Pacific/Honolulu")
    assert moved.reason is Reason.OUTSIDE_WINDOW


def test_campaign_fallback_only_when_neither_lead_nor_number_tells() -> None:
    at = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 09:00 New York, 19:30 Kolkata
    sat = UNKNOWN_ZONE_NUMBERS[1]
    none = AbandonCounts()
    assert check_dial(sat, CampaignRules(), DncLists(), (), none, at).reason is (
        Reason.UNKNOWN_ZONE
    )
    ny = CampaignRules(fallback_zone=ZoneInfo("America/New_York"))
    assert check_dial(sat, ny, DncLists(), (), none, at).allowed
    kolkata = CampaignRules(fallback_zone=ZoneInfo("Asia/Kolkata"))
    assert check_dial(sat, kolkata, DncLists(), (), none, at).allowed
    late = at + timedelta(hours=2)  # 21:30 in Kolkata
    assert check_dial(sat, kolkata, DncLists(), (), none, late).reason is Reason.OUTSIDE_WINDOW
    # a known number ignores the fallback: New York at 09:00 while Kolkata would be closed
    assert check_dial(NYC, kolkata, DncLists(), (), none, at).allowed
    assert check_dial(sat, ny, DncLists(), (), none, at, "Asia/Tokyo").reason is (
        Reason.OUTSIDE_WINDOW
    )  # 23:00 in Tokyo: the lead's zone beats the fallback


def test_a_lead_zone_naming_no_zone_is_refused_with_what_to_do() -> None:
    for bad in ("Mars/Olympus", "ZZ", "../etc/passwd", "America/"):
        assert named_zones(bad) == ()
        decision = check_dial(NYC, CampaignRules(), DncLists(), (), AbandonCounts(), NOON_NY, bad)
        assert decision == DialDecision(False, Reason.BAD_LEAD_ZONE)
        assert "IANA" in decision.reason.value
    assert check_dial(
        NYC, CampaignRules(), DncLists(), (), AbandonCounts(), NOON_NY, "  "
    ).allowed  # blank: no lead zone
    assert [z.key for z in named_zones("in")] == ["America/Indiana/Indianapolis", "America/Chicago"]
    assert all(named_zones(state) for state in US_STATE_ZONES)
