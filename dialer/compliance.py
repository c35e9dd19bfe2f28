"""Compliance: may this number be dialed now? Pure: the caller passes ``now``.

:func:`check_dial` takes a number, the campaign's :class:`CampaignRules`, the do-not-call
lists, the lead's attempt history and the campaign's abandon counts, and returns a
:class:`DialDecision` saying yes or no, why, and when the answer may change. It is meant to
be called at the moment of dialing (so a number put on a DNC list a second ago is refused).

The rules (as the FTC Telemarketing Sales Rule and Ofcom's persistent-misuse policy state
them; stricter local law is configured through the rules):

- calling hours in the called party's local time: the lead's own zone when it has one (a
  ``timezone`` field, an IANA name or a US state code), else the number's zones, else the
  campaign's fallback zone, else no call (:func:`called_party_zones`); when there are
  several zones, only the hours legal in all of them; never before 08:00 nor at or after
  21:00 local whatever the campaign's window says; no calls on holidays;
- stricter local law where the called party lives (:mod:`dialer.local_rules`: a US state's
  hours, Sundays, legal holidays and call caps, a country's rules), for every place that
  may apply (the number's country, its area code's state, the lead's state); and, when the
  campaign asks, no calls on the called party's public holidays;
- do-not-call lists (internal, per campaign, national) win over everything;
- at most ``max_attempts_per_day`` attempts per local day and ``max_attempts_total`` ever;
- no redial within 72 h of a call to the number that was abandoned;
- the campaign stops dialing while its abandon rate (abandoned / live answered) is over the
  target, over the whole campaign or over the last 30 days;
- a call rings at least 15 s before the dialer gives up (:func:`ring_timeout_s`); a person
  who answers gets an agent within 2 s or the drop message at once (:func:`is_abandoned`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as pn_timezone

from dialer import local_rules
from dialer.local_rules import LocalRule, LocalRules
from dialer.number_prefix import by_nanp_prefix

EARLIEST_LEGAL = time(8, 0)
LATEST_LEGAL = time(21, 0)
ABANDON_HOLD = timedelta(hours=72)
MIN_RING_S = 15.0
CONNECT_WINDOW_S = 2.0
ROLLING_WINDOW = timedelta(days=30)
_SEARCH_DAYS = 21


class Reason(StrEnum):
    """Why a number may or may not be dialed now (the value is the operator's sentence)."""

    ALLOWED = "allowed"
    INVALID_NUMBER = "not a valid phone number"
    UNKNOWN_ZONE = ("the number's time zone is unknown: give the lead a timezone column "
                    "(e.g. America/Chicago, or a US state code such as TX) or the campaign a "
                    "fallback zone (--timezone)")
    BAD_LEAD_ZONE = ("the lead's timezone field names no time zone: correct it (an IANA name "
                     "such as America/Chicago, or a US state code such as TX)")
    DNC_INTERNAL = "on the internal do-not-call list"
    DNC_CAMPAIGN = "on the campaign's do-not-call list"
    DNC_NATIONAL = "on the national do-not-call list"
    TOTAL_LIMIT = "attempt limit for the lead reached"
    CAMPAIGN_ABANDON_RATE = "campaign abandon rate over target"
    ROLLING_ABANDON_RATE = "abandon rate over the last 30 days over target"
    ABANDON_HOLD = "abandoned call to this number less than 72 h ago"
    DAILY_LIMIT = "attempt limit for today reached"
    LOCAL_CAP = "calls to this number reach the cap of the called party's state or country"
    HOLIDAY = "holiday in the called party's time zone"
    LOCAL_HOLIDAY = "legal holiday where the called party lives, a day its law forbids calls"
    PUBLIC_HOLIDAY = "public holiday where the called party lives"
    OUTSIDE_WINDOW = "outside calling hours in the called party's time zone"
    LOCAL_HOURS = "outside the hours the called party's state or country allows"
    # Not a law: the campaign's own cap on calls per shown number a day (dialer.caller_ids).
    CALLER_ID_CAP = ("every caller ID of the campaign reached its daily cap: add numbers to "
                     "the pool or raise caller_id_daily_cap")


# Refusals that end when the called party's calling window opens.
WINDOW_REASONS = frozenset({Reason.OUTSIDE_WINDOW, Reason.HOLIDAY, Reason.LOCAL_HOURS,
                            Reason.LOCAL_HOLIDAY, Reason.PUBLIC_HOLIDAY})


@dataclass(frozen=True)
class DialDecision:
    allowed: bool
    reason: Reason
    next_allowed_at: datetime | None = None
    detail: str = ""  # which local rule or holiday, when one refused the call


@dataclass(frozen=True)
class CampaignRules:
    """What the campaign allows. The window is local to the called party."""

    campaign_id: str = "default"
    window_start: time = time(9, 0)
    window_end: time = time(20, 0)
    weekdays: frozenset[int] = frozenset(range(7))  # Monday = 0
    holidays: frozenset[date] = frozenset()
    max_attempts_per_day: int = 3
    max_attempts_total: int = 10
    abandon_target: float = 0.03
    ring_timeout_s: float = 25.0
    default_region: str = "US"
    # Assumed when neither the lead nor the number tells the called party's zone.
    fallback_zone: ZoneInfo | None = None
    # Stricter local law by place (US states, countries); NO_RULES turns it off.
    local_rules: LocalRules = field(default_factory=local_rules.shipped_rules)
    # No calls on the public holidays of the called party's country and state.
    public_holidays: bool = False


@dataclass(frozen=True)
class DncLists:
    """Numbers (E.164) that must not be called. ``campaign`` maps campaign id to numbers."""

    internal: frozenset[str] = frozenset()
    campaign: dict[str, frozenset[str]] = field(default_factory=dict)
    national: frozenset[str] = frozenset()

    def with_opt_out(self, number: str) -> DncLists:
        """The lists after the called party pressed the opt-out key (internal, at once)."""
        return replace(self, internal=self.internal | {number})


@dataclass(frozen=True)
class Attempt:
    """One earlier call to the lead's number."""

    at: datetime
    abandoned: bool = False


@dataclass(frozen=True)
class AbandonCounts:
    """Live answered and abandoned calls of the campaign, overall and over the last 30 days."""

    live_answered: int = 0
    abandoned: int = 0
    live_answered_30d: int = 0
    abandoned_30d: int = 0


def normalise(number: str, region: str = "US") -> str | None:
    """E.164 form of ``number`` (national numbers read in ``region``), or None if invalid."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@by_nanp_prefix
def time_zones(e164: str) -> tuple[ZoneInfo, ...]:
    """Every time zone the number may be in (empty when unknown)."""
    try:
        names = pn_timezone.time_zones_for_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return ()
    zones = []
    for name in names:
        try:
            zones.append(ZoneInfo(name))
        except (ValueError, KeyError, OSError):
            return ()  # "Etc/Unknown" or a zone this system lacks: treat as unknown
    return tuple(zones)


# The zones of each US state and territory, for leads that carry a state instead of a zone.
# A state that spans zones lists them all (the call must be legal in each, as for a number).
US_STATE_ZONES: Mapping[str, tuple[str, ...]] = {
    "AL": ("America/Chicago",), "AK": ("America/Anchorage", "America/Adak"),
    "AZ": ("America/Phoenix", "America/Denver"), "AR": ("America/Chicago",),
    "CA": ("America/Los_Angeles",), "CO": ("America/Denver",), "CT": ("America/New_York",),
    "DE": ("America/New_York",), "DC": ("America/New_York",),
    "FL": ("America/New_York", "America/Chicago"), "GA": ("America/New_York",),
    "HI": ("Pacific/Honolulu",), "ID": ("America/Boise", "America/Los_Angeles"),
    "IL": ("America/Chicago",), "IN": ("America/Indiana/Indianapolis", "America/Chicago"),
    "IA": ("America/Chicago",), "KS": ("America/Chicago", "America/Denver"),
    "KY": ("America/New_York", "America/Chicago"), "LA": ("America/Chicago",),
    "ME": ("America/New_York",), "MD": ("America/New_York",), "MA": ("America/New_York",),
    "MI": ("America/Detroit", "America/Menominee"), "MN": ("America/Chicago",),
    "MS": ("America/Chicago",), "MO": ("America/Chicago",), "MT": ("America/Denver",),
    "NE": ("America/Chicago", "America/Denver"), "NV": ("America/Los_Angeles",
                                                        "America/Denver"),
    "NH": ("America/New_York",), "NJ": ("America/New_York",), "NM": ("America/Denver",),
    "NY": ("America/New_York",), "NC": ("America/New_York",),
    "ND": ("America/Chicago", "America/Denver"), "OH": ("America/New_York",),
    "OK": ("America/Chicago",), "OR": ("America/Los_Angeles", "America/Boise"),
    "PA": ("America/New_York",), "RI": ("America/New_York",), "SC": ("America/New_York",),
    "SD": ("America/Chicago", "America/Denver"), "TN": ("America/Chicago", "America/New_York"),
    "TX": ("America/Chicago", "America/Denver"), "UT": ("America/Denver",),
    "VT": ("America/New_York",), "VA": ("America/New_York",), "WA": ("America/Los_Angeles",),
    "WV": ("America/New_York",), "WI": ("America/Chicago",), "WY": ("America/Denver",),
    "PR": ("America/Puerto_Rico",), "VI": ("America/St_Thomas",), "GU": ("Pacific/Guam",),
    "MP": ("Pacific/Saipan",), "AS": ("Pacific/Pago_Pago",),
}


def named_zones(name: str) -> tuple[ZoneInfo, ...]:
    """The zones a lead's own ``timezone`` value names: an IANA zone (``America/Chicago``) or
    a US state or territory code (``TX``: Central and Mountain); empty when it names none."""
    name = name.strip()
    state = US_STATE_ZONES.get(name.upper()) if len(name) == 2 else None
    try:
        return tuple(ZoneInfo(z) for z in state) if state else (ZoneInfo(name),)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return ()


def called_party_zones(
    e164: str, lead_zone: str | None = None, fallback: ZoneInfo | None = None,
    lead_state: str | None = None,
) -> tuple[ZoneInfo, ...] | Reason:
    """Where the called party may be, in order: the lead's own zone (which also narrows a
    number spanning several zones), the number's zones, the campaign's fallback zone; a
    lead's US state (its address) adds that state's zones to the last two, since the person
    may live there rather than where the number is. A :class:`Reason` when none is known or
    the lead's zone names none."""
    if lead_zone and lead_zone.strip():
        return named_zones(lead_zone) or Reason.BAD_LEAD_ZONE
    zones = time_zones(e164) or ((fallback,) if fallback is not None else ())
    if lead_state:
        zones += tuple(z for z in named_zones(lead_state) if z not in zones)
    return zones or Reason.UNKNOWN_ZONE


def legal_hours(rules: CampaignRules) -> tuple[time, time]:
    """The campaign's window clipped to 08:00-21:00."""
    return max(rules.window_start, EARLIEST_LEGAL), min(rules.window_end, LATEST_LEGAL)


Closed = tuple[Reason, str]  # why, and which rule or holiday ("" for the campaign's own)


def _closed_in(zone: ZoneInfo, at: datetime, rules: CampaignRules,
               places: tuple[str, ...]) -> Closed | None:
    local = at.astimezone(zone)
    day, clock = local.date(), local.time()
    if day in rules.holidays:
        return Reason.HOLIDAY, ""
    strict = rules.local_rules.applying(places)
    for rule in strict:
        name = local_rules.holiday_name(rule.place, day) if rule.no_holidays else None
        if name:
            return Reason.LOCAL_HOLIDAY, f"{name} in {rule.place}"
    if rules.public_holidays:
        for place in places:
            name = local_rules.holiday_name(place, day)
            if name:
                return Reason.PUBLIC_HOLIDAY, f"{name} in {place}"
    start, end = legal_hours(rules)
    if local.weekday() not in rules.weekdays or not start <= clock < end:
        return Reason.OUTSIDE_WINDOW, ""
    for rule in strict:
        if not local_rules.is_open(rule.ranges(day), clock):
            return Reason.LOCAL_HOURS, rule.describe()
    return None


def window_closed_why(zones: Iterable[ZoneInfo], at: datetime, rules: CampaignRules,
                      places: tuple[str, ...] = ()) -> Closed | None:
    """Why ``at`` is outside the hours legal in all ``zones`` under the rules of all
    ``places`` (:func:`dialer.local_rules.called_party_places`), with the rule's detail."""
    for zone in zones:
        closed = _closed_in(zone, at, rules, places)
        if closed is not None:
            return closed
    return None


def window_closed(zones: Iterable[ZoneInfo], at: datetime, rules: CampaignRules,
                  places: tuple[str, ...] = ()) -> Reason | None:
    """Why ``at`` is outside the hours legal in all ``zones`` (None when inside)."""
    closed = window_closed_why(zones, at, rules, places)
    return closed[0] if closed is not None else None


def _openings(day: date, rules: CampaignRules, strict: tuple[LocalRule, ...]) -> set[time]:
    """The times of ``day`` at which a closed window may open."""
    starts = {legal_hours(rules)[0]}
    for rule in strict:
        starts.update(start for start, _ in rule.ranges(day))
    return starts


def next_window_opening(
    zones: tuple[ZoneInfo, ...], after: datetime, rules: CampaignRules,
    places: tuple[str, ...] = (),
) -> datetime | None:
    """The first moment from ``after`` at which every zone is inside its window."""
    strict = rules.local_rules.applying(places)
    local_day = after.astimezone(zones[0]).date() - timedelta(days=1)
    candidates = {after}
    for zone in zones:
        for d in range(_SEARCH_DAYS):
            day = local_day + timedelta(days=d)
            for start in _openings(day, rules, strict):
                opening = datetime.combine(day, start, tzinfo=zone)
                if opening > after:
                    candidates.add(opening)
    for at in sorted(candidates):
        if window_closed(zones, at, rules, places) is None:
            return at
    return None


def _next_local_midnight(zones: tuple[ZoneInfo, ...], now: datetime) -> datetime:
    """When the attempt count of 'today' resets in every zone."""
    resets = []
    for zone in zones:
        tomorrow = now.astimezone(zone).date() + timedelta(days=1)
        resets.append(datetime.combine(tomorrow, time(0, 0), tzinfo=zone))
    return max(resets)


def _attempts_today(zones: tuple[ZoneInfo, ...], history: Iterable[Attempt], now: datetime) -> int:
    attempts = list(history)
    counts = []
    for zone in zones:
        today = now.astimezone(zone).date()
        counts.append(sum(1 for a in attempts if a.at.astimezone(zone).date() == today))
    return max(counts, default=0)


def abandon_rate_over(counts: AbandonCounts, target: float) -> Reason | None:
    """Which abandon rate, if any, is over ``target`` (abandoned / live answered)."""
    if counts.abandoned > target * counts.live_answered:
        return Reason.CAMPAIGN_ABANDON_RATE
    if counts.abandoned_30d > target * counts.live_answered_30d:
        return Reason.ROLLING_ABANDON_RATE
    return None


def check_dial(
    number: str,
    rules: CampaignRules,
    dnc: DncLists,
    history: Iterable[Attempt],
    abandons: AbandonCounts,
    now: datetime,
    lead_zone: str | None = None,
    lead_state: str | None = None,
) -> DialDecision:
    """May ``number`` be dialed at ``now`` (an aware datetime)? Checked in order of gravity.
    ``lead_zone`` is the lead's own ``timezone`` field, if any (see :func:`called_party_zones`);
    ``lead_state`` the US state its address is in (:func:`dialer.local_rules.lead_state`)."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime (with a time zone)")
    e164 = normalise(number, rules.default_region)
    if e164 is None:
        return DialDecision(False, Reason.INVALID_NUMBER)
    if e164 in dnc.internal:
        return DialDecision(False, Reason.DNC_INTERNAL)
    if e164 in dnc.campaign.get(rules.campaign_id, frozenset()):
        return DialDecision(False, Reason.DNC_CAMPAIGN)
    if e164 in dnc.national:
        return DialDecision(False, Reason.DNC_NATIONAL)
    zones = called_party_zones(e164, lead_zone, rules.fallback_zone, lead_state)
    if isinstance(zones, Reason):
        return DialDecision(False, zones)
    attempts = list(history)
    if len(attempts) >= rules.max_attempts_total:
        return DialDecision(False, Reason.TOTAL_LIMIT)
    rate = abandon_rate_over(abandons, rules.abandon_target)
    if rate is not None:
        return DialDecision(False, rate)
    last_abandon = max((a.at for a in attempts if a.abandoned), default=None)
    places = local_rules.called_party_places(e164, lead_state, lead_zone)
    if last_abandon is not None and now < last_abandon + ABANDON_HOLD:
        return _wait(Reason.ABANDON_HOLD, last_abandon + ABANDON_HOLD, zones, rules, places)
    if _attempts_today(zones, attempts, now) >= rules.max_attempts_per_day:
        return _wait(Reason.DAILY_LIMIT, _next_local_midnight(zones, now), zones, rules, places)
    for rule in rules.local_rules.applying(places):
        if rule.cap is not None:
            until = local_rules.cap_reached(rule.cap, [a.at for a in attempts], now)
            if until is not None:
                return _wait(Reason.LOCAL_CAP, until, zones, rules, places, rule.describe())
    closed = window_closed_why(zones, now, rules, places)
    if closed is not None:
        return DialDecision(False, closed[0], next_window_opening(zones, now, rules, places),
                            closed[1])
    return DialDecision(True, Reason.ALLOWED, now)


def _wait(reason: Reason, until: datetime, zones: tuple[ZoneInfo, ...], rules: CampaignRules,
          places: tuple[str, ...], detail: str = "") -> DialDecision:
    return DialDecision(False, reason, next_window_opening(zones, until, rules, places), detail)


def ring_timeout_s(rules: CampaignRules) -> float:
    """How long to let a call ring before giving up: never under 15 s."""
    return max(rules.ring_timeout_s, MIN_RING_S)


def is_abandoned(answered_at_s: float, agent_connected_at_s: float | None, now_s: float) -> bool:
    """A person answered and no agent came within 2 s: play the drop message now."""
    connected = agent_connected_at_s
    if connected is not None and connected - answered_at_s <= CONNECT_WINDOW_S:
        return False
    return now_s - answered_at_s >= CONNECT_WINDOW_S
