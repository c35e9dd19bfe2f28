"""Stricter local law: US states' hours, Sundays, holidays and call caps, countries' rules,
and public holidays, applied by the dial-time check; the table's format and its errors."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers.tzdata import TIMEZONE_DATA

from dialer import local_rules
from dialer.compliance import (
    AbandonCounts,
    Attempt,
    CampaignRules,
    DncLists,
    Reason,
    check_dial,
    named_zones,
    normalise,
    time_zones,
    window_closed,
)
from dialer.local_rules import (
    NO_RULES,
    LocalRulesError,
    area_code_state,
    called_party_places,
    lead_state,
    parse_rules,
    shipped_rules,
)

AUSTIN = "+15125550100"  # Texas
MIAMI = "+13055550100"  # Florida
NYC = "+12125550100"
PARIS = "+33142685300"
TORONTO = "+14165550100"
CENTRAL, EASTERN = ZoneInfo("America/Chicago"), ZoneInfo("America/New_York")
RULES = CampaignRules(window_start=time(8), window_end=time(21), max_attempts_per_day=10)


def check(number: str, at: datetime, rules: CampaignRules = RULES, history: tuple = (),
          zone: str | None = None, state: str | None = None):
    return check_dial(number, rules, DncLists(), history, AbandonCounts(), at, zone, state)


def test_the_shipped_table_loads_and_says_where_its_rules_come_from() -> None:
    table = shipped_rules()
    assert {"US-FL", "US-TX", "US-OK", "US-MD", "CA", "FR"} <= set(table.by_place)
    assert all(rule.source for rule in table.by_place.values())
    assert table.reviewed
    assert table.by_place["US-TX"].describe().startswith(
        "US-TX: mon-sat 09:00-21:00, sun 12:00-21:00")


def test_places_of_a_called_party() -> None:
    assert area_code_state(MIAMI) == "FL" and area_code_state(NYC) == "NY"
    assert area_code_state("+18005550100") is None and area_code_state(PARIS) is None
    assert called_party_places(MIAMI) == ("US", "US-FL")
    # the area code's state and the address's both apply (Florida presumes its area codes)
    assert called_party_places(MIAMI, "TX") == ("US", "US-FL", "US-TX")
    assert called_party_places("+18005550100", None, "ok") == ("US", "US-OK")
    assert called_party_places("+18005550100", None, "America/Chicago") == ("US",)
    assert called_party_places(PARIS, "TX") == ("FR",)  # a US state means nothing in France
    assert called_party_places(TORONTO) == ("CA",)
    assert called_party_places("not a number") == ()


def test_a_leads_state_column() -> None:
    assert lead_state({"State": "tx"}) == "TX"
    assert lead_state({"STATE": " Rhode Island "}) == "RI"
    assert lead_state({"state": "Bavaria"}) is None
    assert lead_state({"city": "Austin"}) is None


def test_texas_sundays_open_at_noon() -> None:
    sunday = datetime(2026, 12, 6, 10, 0, tzinfo=CENTRAL)
    refused = check(AUSTIN, sunday)
    assert refused.reason is Reason.LOCAL_HOURS and "US-TX" in refused.detail
    assert refused.next_allowed_at == datetime(2026, 12, 6, 12, 0, tzinfo=CENTRAL)
    assert check(AUSTIN, refused.next_allowed_at).allowed
    assert check(AUSTIN, sunday + timedelta(days=1)).allowed  # Monday 10:00


def test_florida_stops_at_eight_and_turning_the_rules_off_is_explicit() -> None:
    evening = datetime(2026, 12, 7, 20, 30, tzinfo=EASTERN)
    assert check(NYC, evening).allowed  # New York: the federal 21:00
    assert check(MIAMI, evening).reason is Reason.LOCAL_HOURS
    exempt = CampaignRules(window_start=time(8), window_end=time(21), local_rules=NO_RULES)
    assert check(MIAMI, evening, exempt).allowed


def test_florida_caps_calls_at_three_in_24_hours() -> None:
    now = datetime(2026, 12, 8, 11, 0, tzinfo=EASTERN)
    calls = tuple(Attempt(now - timedelta(hours=h)) for h in (23, 20, 2))
    capped = check(MIAMI, now, history=calls)
    assert capped.reason is Reason.LOCAL_CAP and "3 calls in 24 h" in capped.detail
    assert capped.next_allowed_at == now + timedelta(hours=1)  # the 23-hour-old call ages out
    assert check(MIAMI, capped.next_allowed_at, history=calls).allowed
    assert check(NYC, now, history=calls).allowed  # no cap in New York


def test_a_state_holiday_where_the_lead_lives() -> None:
    memorial = datetime(2026, 4, 27, 11, 0, tzinfo=CENTRAL)  # Confederate Memorial Day (AL)
    refused = check(MIAMI, memorial, state="AL")
    assert refused.reason is Reason.LOCAL_HOLIDAY and "US-AL" in refused.detail
    assert refused.next_allowed_at == datetime(2026, 4, 28, 8, 0, tzinfo=CENTRAL)
    assert check(MIAMI, memorial).allowed  # Florida does not close that day


def test_a_leads_state_adds_its_zones_to_the_numbers() -> None:
    # a Miami number whose owner lives in Alabama: 08:30 Eastern is 07:30 where they live
    early = datetime(2026, 12, 8, 8, 30, tzinfo=EASTERN)
    assert check(MIAMI, early).allowed
    refused = check(MIAMI, early, state="AL")
    assert refused.reason is Reason.OUTSIDE_WINDOW
    assert refused.next_allowed_at == datetime(2026, 12, 8, 8, 0, tzinfo=CENTRAL)


def test_france_keeps_a_lunch_break_and_weekends() -> None:
    paris = ZoneInfo("Europe/Paris")
    lunch = check(PARIS, datetime(2026, 12, 7, 13, 30, tzinfo=paris))
    assert lunch.reason is Reason.LOCAL_HOURS
    assert lunch.next_allowed_at == datetime(2026, 12, 7, 14, 0, tzinfo=paris)
    saturday = check(PARIS, datetime(2026, 12, 5, 11, 0, tzinfo=paris))
    assert saturday.next_allowed_at == datetime(2026, 12, 7, 10, 0, tzinfo=paris)
    christmas = check(PARIS, datetime(2026, 12, 25, 11, 0, tzinfo=paris))  # a Friday
    assert christmas.reason is Reason.LOCAL_HOLIDAY
    month = tuple(Attempt(datetime(2026, 12, d, 11, 0, tzinfo=paris)) for d in (1, 2, 3, 4))
    assert check(PARIS, datetime(2026, 12, 8, 11, 0, tzinfo=paris),
                 history=month).reason is Reason.LOCAL_CAP


def test_canada_weekends_close_at_six() -> None:
    toronto = ZoneInfo("America/Toronto")
    assert check(TORONTO, datetime(2026, 12, 5, 17, 0, tzinfo=toronto)).allowed
    late = check(TORONTO, datetime(2026, 12, 5, 18, 30, tzinfo=toronto))
    assert late.reason is Reason.LOCAL_HOURS
    assert late.next_allowed_at == datetime(2026, 12, 6, 10, 0, tzinfo=toronto)


def test_public_holidays_are_closed_only_when_the_campaign_says_so() -> None:
    thanksgiving = datetime(2026, 11, 26, 11, 0, tzinfo=EASTERN)
    assert check(NYC, thanksgiving).allowed
    closed = CampaignRules(public_holidays=True)
    refused = check(NYC, thanksgiving, closed)
    assert refused.reason is Reason.PUBLIC_HOLIDAY and "Thanksgiving" in refused.detail
    assert refused.next_allowed_at == datetime(2026, 11, 27, 9, 0, tzinfo=EASTERN)
    uk = CampaignRules(public_holidays=True, default_region="GB")
    boxing_day = datetime(2026, 12, 28, 11, 0, tzinfo=ZoneInfo("Europe/London"))  # observed
    assert check("+442079460000", boxing_day, uk).reason is Reason.PUBLIC_HOLIDAY


STATE_NUMBERS = {"TX": AUSTIN, "FL": MIAMI, "RI": "+14015550100", "AL": "+12055550100",
                 "PA": "+12155550100", "OK": "+14055550100", "NY": NYC}


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(STATE_NUMBERS)), st.sampled_from([None, *sorted(STATE_NUMBERS)]),
       st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2029, 12, 31),
                    timezones=st.just(UTC)))
def test_never_a_call_a_state_rule_forbids(state: str, address: str | None,
                                           now: datetime) -> None:
    number = STATE_NUMBERS[state]
    decision = check(number, now, state=address)
    places = called_party_places(number, address)
    table = shipped_rules()
    zones = {EASTERN if state in ("FL", "RI", "PA", "NY") else CENTRAL}
    if address:
        zones |= set(named_zones(address))
    if decision.allowed:
        for rule in table.applying(places):
            for zone in zones:
                local = now.astimezone(zone)
                assert local_rules.is_open(rule.ranges(local.date()), local.time()), rule
                if rule.no_holidays:
                    assert local_rules.holiday_name(rule.place, local.date()) is None
    elif decision.next_allowed_at is not None and decision.reason is not Reason.LOCAL_CAP:
        # the time it names is one the same check allows
        assert check(number, decision.next_allowed_at, state=address).allowed


def test_window_closed_alone_knows_the_places() -> None:
    sunday = datetime(2026, 12, 6, 10, 0, tzinfo=CENTRAL)
    assert window_closed((CENTRAL,), sunday, RULES) is None
    assert window_closed((CENTRAL,), sunday, RULES, ("US", "US-TX")) is Reason.LOCAL_HOURS


@pytest.mark.parametrize(("text", "says"), [
    ("places = 3", "no [places"),
    ('[places."US-FL"]\nhour = "08:00-20:00"', "unknown key(s) hour"),
    ('[places."US-FL"]\nhours = { weekdays = "08:00-20:00" }', "'weekdays' is not a day"),
    ('[places."US-FL"]\nhours = { fri-mon = "08:00-20:00" }', "runs backwards"),
    ('[places."US-FL"]\nhours = "20:00-08:00"', "not an hour range"),
    ('[places."US-FL"]\nhours = "8 to 8"', "not an hour range"),
    ('[places."US-FL"]\ncap = { calls = 0, hours = 24 }', "cap must be"),
    ('[places."US-XX"]\nhours = "09:00-20:00"', "no holiday calendar for 'US-XX'"),
    ('[places."US-FL"\n', "not valid TOML"),
])
def test_a_bad_table_says_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(LocalRulesError, match="mine.toml") as err:
        parse_rules(text, "mine.toml")
    assert says in str(err.value)


def test_an_operators_table_replaces_the_shipped_one(tmp_path: Path) -> None:
    mine = tmp_path / "rules.toml"
    mine.write_text('reviewed = "2026-12"\n[places."US-NY"]\nhours = "10:00-18:00"\n'
                    'source = "our counsel"\n', encoding="utf-8")
    try:
        table = local_rules.use_table(mine)
        assert local_rules.active_rules() is table and set(table.by_place) == {"US-NY"}
        rules = CampaignRules(local_rules=table)
        assert check(NYC, datetime(2026, 12, 7, 9, 30, tzinfo=EASTERN), rules).reason is (
            Reason.LOCAL_HOURS)
        assert check(AUSTIN, datetime(2026, 12, 6, 10, 0, tzinfo=CENTRAL), rules).allowed
        with pytest.raises(LocalRulesError, match="cannot read"):
            local_rules.use_table(tmp_path / "missing.toml")
    finally:
        local_rules.use_table(None)
    assert local_rules.active_rules() is shipped_rules()


def test_caps_count_calls_in_a_rolling_window() -> None:
    cap = local_rules.CallCap(3, 24)
    now = datetime(2026, 1, 10, 12, tzinfo=UTC)
    calls = [now - timedelta(hours=h) for h in (30, 10, 5)]
    assert local_rules.cap_reached(cap, calls, now) is None
    calls.append(now - timedelta(hours=1))
    assert local_rules.cap_reached(cap, calls, now) == now + timedelta(hours=14)


# Exchanges whose zones phonenumbers tells apart from their area code's (split-zone areas):
# where a memo keyed on too short a prefix would go wrong.
EXCHANGES = sorted({k[1:7] for k in TIMEZONE_DATA if k.startswith("1") and len(k) == 7})


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.sampled_from(EXCHANGES), st.integers(200200, 999999).map(str)),
       st.integers(0, 9999), st.integers(0, 9999))
def test_a_north_american_prefix_says_what_its_numbers_say(exchange: str, first: int,
                                                           second: int) -> None:
    """The +1NPANXX memo, filled by one number, gives another what phonenumbers gives it."""
    a, b = (normalise(f"+1{exchange}{line:04d}") for line in (first, second))
    if a is None or b is None:
        return
    place = local_rules._number_place
    for memoised in (time_zones, place, local_rules._area_code_province):
        memoised(a)
        assert memoised(b) == memoised.__wrapped__(b)  # type: ignore[attr-defined]
