"""Stricter local calling rules: the hours, days, holidays and call caps a US state or a
country sets on telemarketing over the federal 08:00-21:00 (VICIdial's "state call times").

Pure: the table is data (``dialer/local_rules.toml``, shipped; an operator may load their
own with :func:`load_rules`), and the questions are functions of a place and a date.

A place is an ISO 3166 code: a country (``CA``, ``FR``) or a subdivision (``US-FL``). The
places of a called party (:func:`called_party_places`) are its number's country, and for a US
number the state of its area code and the state the lead says it lives in: every rule of
every place applies (as every zone of a number spanning zones does), because Florida and
Oklahoma presume a caller with their area code lives there, wherever the lead's address is.

The shipped table is a starting point reviewed in November 2025 from statutes and industry
summaries (each row names its source): not legal advice. Review it with counsel and load
your own where it differs.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import holidays
import phonenumbers

from callcenter.errors import CallCenterError
from dialer.number_prefix import by_nanp_prefix

SHIPPED = Path(__file__).with_name("local_rules.toml")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Ranges = tuple[tuple[time, time], ...]  # open ranges of one day, local time; () = no calls


class LocalRulesError(CallCenterError):
    """A local-rules table that cannot be used."""

    exit_code = 2



@cache
def _geocoder() -> Any:
    """phonenumbers' geocoder, imported on first use: its data takes seconds to load, and
    every ``callcenter`` command imports this module."""
    from phonenumbers import geocoder

    return geocoder

@dataclass(frozen=True)
class CallCap:
    """At most ``calls`` calls to a number in any ``hours`` hours."""

    calls: int
    hours: float

    @property
    def period(self) -> timedelta:
        return timedelta(hours=self.hours)


@dataclass(frozen=True)
class LocalRule:
    """What one place allows: open ranges per weekday (Monday first), whether its legal
    holidays are closed, a cap on calls to one number; where the rule comes from."""

    place: str
    hours: tuple[Ranges, ...]  # seven entries, Monday first
    no_holidays: bool = False
    cap: CallCap | None = None
    source: str = ""

    def ranges(self, day: date) -> Ranges:
        return self.hours[day.weekday()]

    def describe(self) -> str:
        """One line for an operator: ``US-TX: mon-sat 09:00-21:00, sun 12:00-21:00 (...)``."""
        parts, first = [], 0
        for i in range(1, 8):
            if i == 7 or self.hours[i] != self.hours[first]:
                days = DAYS[first] if i - 1 == first else f"{DAYS[first]}-{DAYS[i - 1]}"
                parts.append(f"{'all' if i - first == 7 else days} {_show(self.hours[first])}")
                first = i
        if self.no_holidays:
            parts.append("no calls on legal holidays")
        if self.cap is not None:
            parts.append(f"at most {self.cap.calls} calls in {self.cap.hours:g} h")
        source = f"; source: {self.source}" if self.source else ""
        return f"{self.place}: " + ", ".join(parts) + source


def _show(ranges: Ranges) -> str:
    return " ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in ranges) or "no calls"


@dataclass(frozen=True)
class LocalRules:
    """The rules by place, and where they were read from."""

    by_place: Mapping[str, LocalRule]
    origin: str = ""
    reviewed: str = ""

    def applying(self, places: tuple[str, ...]) -> tuple[LocalRule, ...]:
        return tuple(self.by_place[p] for p in places if p in self.by_place)


NO_RULES = LocalRules({}, "none")


# -- the table -----------------------------------------------------------------------------

def _day_set(spec: str, where: str) -> list[int]:
    """``mon-fri`` / ``sat`` / ``all`` / ``mon,wed`` -> weekday numbers."""
    if spec == "all":
        return list(range(7))
    days: list[int] = []
    for part in spec.split(","):
        first, _, last = part.strip().partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise LocalRulesError(f"{where}: {part.strip()!r} is not a day or a day range "
                                  "(mon, tue, ..., sun, mon-fri, all)")
        a, b = DAYS.index(first), DAYS.index(last or first)
        if b < a:
            raise LocalRulesError(f"{where}: the day range {part.strip()!r} runs backwards")
        days.extend(range(a, b + 1))
    return days


def _ranges(spec: str, where: str) -> Ranges:
    """``09:00-21:00`` / ``10:00-13:00 14:00-20:00`` / ``none``."""
    if spec.strip() == "none":
        return ()
    out = []
    for part in spec.split():
        start, sep, end = part.partition("-")
        try:
            a, b = time.fromisoformat(start), time.fromisoformat(end)
        except ValueError:
            a = b = time(0)
        if not sep or not a < b:
            raise LocalRulesError(f"{where}: {part!r} is not an hour range such as 09:00-21:00 "
                                  "(or none for no calls that day)")
        out.append((a, b))
    return tuple(sorted(out))


def _rule(place: str, raw: Mapping[str, Any], origin: str) -> LocalRule:
    where = f"{origin}: [{place}]"
    unknown = set(raw) - {"hours", "no_holidays", "cap", "source"}
    if unknown:
        raise LocalRulesError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (expected "
                              "hours, no_holidays, cap, source)")
    hours_raw = raw.get("hours", {"all": "08:00-21:00"})
    if isinstance(hours_raw, str):
        hours_raw = {"all": hours_raw}
    week: list[Ranges | None] = [None] * 7
    for days, spec in hours_raw.items():
        for d in _day_set(str(days), where):
            week[d] = _ranges(str(spec), f"{where} hours.{days}")
    hours = tuple(r if r is not None else ((time(8), time(21)),) for r in week)
    cap = None
    if "cap" in raw:
        c = raw["cap"]
        if not (isinstance(c, Mapping) and isinstance(c.get("calls"), int)
                and isinstance(c.get("hours"), int | float) and c["calls"] >= 1
                and c["hours"] > 0):
            raise LocalRulesError(f"{where}: cap must be {{ calls = 3, hours = 24 }} (a whole "
                                  "number of calls >= 1 in a positive number of hours)")
        cap = CallCap(c["calls"], float(c["hours"]))
    if place.count("-") > 1 or not place.replace("-", "").isalnum():
        raise LocalRulesError(f"{where}: a place is an ISO 3166 code such as US-FL or CA")
    try:
        _calendar(place)  # an unknown subdivision fails here, not when dialing
    except LocalRulesError as err:
        raise LocalRulesError(f"{where}: {err}") from None
    return LocalRule(place, hours, bool(raw.get("no_holidays", False)), cap,
                     str(raw.get("source", "")))


def parse_rules(text: str, origin: str = "<rules>") -> LocalRules:
    """Read a rules table (TOML: one ``[places."US-FL"]`` table per place)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise LocalRulesError(f"{origin}: not valid TOML: {err}") from None
    places = data.get("places")
    if not isinstance(places, dict):
        raise LocalRulesError(f"{origin}: no [places.\"US-FL\"] tables: see "
                              f"{SHIPPED.name} for the format")
    return LocalRules({p.upper(): _rule(p.upper(), raw, origin) for p, raw in places.items()},
                      origin, str(data.get("reviewed", "")))


def load_rules(path: Path) -> LocalRules:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise LocalRulesError(f"{path}: cannot read the local rules: {err}") from None
    return parse_rules(text, str(path))


@cache
def shipped_rules() -> LocalRules:
    return load_rules(SHIPPED)


_active: LocalRules | None = None


def use_table(path: Path | None) -> LocalRules:
    """Make the table at ``path`` (None: the shipped one) the one campaigns apply, from the
    engine's settings (``dialer.local_rules``); a bad file fails here, at start."""
    global _active
    _active = load_rules(path) if path is not None else None
    return active_rules()


def active_rules() -> LocalRules:
    """The table campaigns apply: the operator's (:func:`use_table`) or the shipped one."""
    return _active if _active is not None else shipped_rules()


# -- places and calendars ------------------------------------------------------------------

US_STATE_NAMES: Mapping[str, str] = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "washington d.c.": "DC",
    "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL",
    "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI",
    "minnesota": "MN", "mississippi": "MS", "missouri": "MO", "montana": "MT",
    "nebraska": "NE", "nevada": "NV", "new hampshire": "NH", "new jersey": "NJ",
    "new mexico": "NM", "new york": "NY", "north carolina": "NC", "north dakota": "ND",
    "ohio": "OH", "oklahoma": "OK", "oregon": "OR", "pennsylvania": "PA",
    "rhode island": "RI", "south carolina": "SC", "south dakota": "SD", "tennessee": "TN",
    "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA",
    "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY",
}
_US_STATES = frozenset(US_STATE_NAMES.values())
CA_PROVINCE_NAMES: Mapping[str, str] = {
    "alberta": "AB", "british columbia": "BC", "manitoba": "MB", "new brunswick": "NB",
    "newfoundland and labrador": "NL", "northwest territories": "NT", "nova scotia": "NS",
    "nunavut": "NU", "ontario": "ON", "prince edward island": "PE", "quebec": "QC",
    "saskatchewan": "SK", "yukon": "YT",
}
_CA_PROVINCES = frozenset(CA_PROVINCE_NAMES.values())


def area_code_state(e164: str) -> str | None:
    """The US state of a number's area code (``+13055550100`` -> ``FL``), None when it has
    none (toll-free, non-geographic, not a US number)."""
    try:
        parsed = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.region_code_for_number(parsed) != "US":
        return None
    where = _geocoder().description_for_number(parsed, "en").strip()
    _, comma, code = where.rpartition(", ")
    if comma and code in _US_STATES:
        return code
    return US_STATE_NAMES.get(where.lower())


def lead_state(fields: Mapping[str, Any]) -> str | None:
    """The US state a lead's fields say it lives in: a ``state`` column (any case) holding a
    two-letter code or a state's name."""
    for key, value in fields.items():
        if key.strip().lower() == "state" and value:
            text = str(value).strip()
            code = text.upper() if text.upper() in _US_STATES else US_STATE_NAMES.get(
                text.lower())
            if code:
                return code
    return None


@by_nanp_prefix
def _number_place(e164: str) -> tuple[str | None, str | None]:
    """The number's country (ISO code) and, for a US number, its area code's state."""
    try:
        country = phonenumbers.region_code_for_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return None, None
    return country, area_code_state(e164) if country == "US" else None


@by_nanp_prefix
def _area_code_province(e164: str) -> str | None:
    """A Canadian number's province as phonenumbers' geocoder tells it (``Toronto, ON`` or
    ``Ontario``); an area code that provinces share gives them all (``NS/PE``)."""
    try:
        where = _geocoder().description_for_number(phonenumbers.parse(e164), "en").strip()
    except phonenumbers.NumberParseException:
        return None
    _, comma, code = where.rpartition(", ")
    if comma and code in _CA_PROVINCES:
        return code
    codes = [CA_PROVINCE_NAMES.get(part.strip().lower()) for part in where.split("/")]
    return "/".join(c for c in codes if c) or None


def number_country(e164: str) -> str | None:
    """The ISO code of the number's country (``001``: international freephone, satellite)."""
    return _number_place(e164)[0]


def area_code_subdivision(e164: str) -> str | None:
    """Where a North American number's area code is: its US state (``US-NY``) or Canadian
    province (``CA-ON``); None for a number with no such place (toll-free, other countries)."""
    country, state = _number_place(e164)
    if country == "US":
        return f"US-{state}" if state else None
    province = _area_code_province(e164) if country == "CA" else None
    return f"CA-{province}" if province else None


def called_party_places(e164: str, lead_state: str | None = None,
                        lead_zone: str | None = None) -> tuple[str, ...]:
    """The places whose rules apply to a call: the number's country; for a US number the
    state of its area code, the lead's ``state`` and a lead zone given as a state code."""
    country, area_state = _number_place(e164)
    if not country or country == "001":  # 001: international freephone, satellite
        return ()
    places = [country]
    if country == "US":
        zone_state = lead_zone.strip().upper() if lead_zone else None
        for state in (area_state, lead_state,
                      zone_state if zone_state in _US_STATES else None):
            if state and f"US-{state}" not in places:
                places.append(f"US-{state}")
    return tuple(places)


@cache
def _calendar(place: str) -> holidays.HolidayBase | None:
    """The legal holidays of a place (the ``holidays`` package), None for a country it does
    not know; a subdivision it does not know is an error."""
    country, _, subdiv = place.partition("-")
    try:
        return holidays.country_holidays(country, subdiv=subdiv or None)
    except NotImplementedError:
        if subdiv:
            raise LocalRulesError(f"no holiday calendar for {place!r}: use an ISO 3166 code "
                                  "such as US-FL") from None
        return None


def holiday_name(place: str, day: date) -> str | None:
    """The legal holiday ``day`` is in ``place`` (observed days included), or None."""
    calendar = _calendar(place)
    if calendar is None:
        return None
    name = calendar.get(day)
    return str(name) if name else None


def cap_reached(cap: CallCap, calls: list[datetime], now: datetime) -> datetime | None:
    """When the next call is allowed if the cap is reached at ``now`` (else None): the
    moment the oldest of the last ``cap.calls`` calls leaves the period."""
    recent = sorted(at for at in calls if now - cap.period < at <= now)
    if len(recent) < cap.calls:
        return None
    return recent[-cap.calls] + cap.period


def intersect(a: Ranges, b: Ranges) -> Ranges:
    """The hours open in both."""
    out = []
    for s1, e1 in a:
        for s2, e2 in b:
            s, e = max(s1, s2), min(e1, e2)
            if s < e:
                out.append((s, e))
    return tuple(sorted(out))


def is_open(ranges: Ranges, at: time) -> bool:
    return any(s <= at < e for s, e in ranges)
