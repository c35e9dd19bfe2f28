"""Lead lists and number lists: parse a CSV into leads, or a do-not-call file into numbers,
all in E.164. Pure parsing, no database.

Every row either becomes (part of) a lead or is reported as a :class:`BadRow` with its line
number and reason: nothing is dropped silently. Rows with the same number are merged into
one lead (the first non-empty value of each field wins) and counted as duplicates. Columns
not mapped to a standard field become custom fields, shown on the agent's screen pop. A
lead's own time zone (column ``timezone``: an IANA name or a US state code) is checked here
and kept in its fields as ``timezone``, where compliance reads it.

:func:`parse_numbers` reads a do-not-call file: a CSV with a phone column, or one number per
line; the same rules for bad rows and duplicates.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callcenter.errors import CallCenterError
from dialer.compliance import named_zones, normalise

LEAD_ZONE_FIELD = "timezone"  # the lead's own zone, in its fields


class LeadListError(CallCenterError):
    """The lead list cannot be read at all (no header, the phone column missing, ...)."""

    exit_code = 2

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message


@dataclass(frozen=True)
class ColumnMapping:
    """Which CSV column holds what. ``custom=None`` keeps every other column as custom."""

    phone: str = "phone"
    first_name: str | None = "first_name"
    last_name: str | None = "last_name"
    external_id: str | None = None
    custom: tuple[str, ...] | None = None
    timezone: str | None = LEAD_ZONE_FIELD  # optional column: IANA zone or US state code


@dataclass
class Lead:
    phone: str
    first_name: str = ""
    last_name: str = ""
    external_id: str = ""
    custom: dict[str, str] = field(default_factory=dict)
    lines: list[int] = field(default_factory=list)
    timezone: str = ""  # the lead's own zone (IANA name or US state code), checked

    def fields(self) -> dict[str, str]:
        """The custom fields as stored, with the lead's own zone under ``timezone``."""
        zone = {LEAD_ZONE_FIELD: self.timezone} if self.timezone else {}
        return {**self.custom, **zone}


def lead_zone(fields: dict[str, Any]) -> str | None:
    """The lead's own zone from its stored fields, for :func:`dialer.compliance.check_dial`."""
    value = fields.get(LEAD_ZONE_FIELD)
    return str(value) if value else None


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


@dataclass(frozen=True)
class LeadImport:
    leads: tuple[Lead, ...]
    bad_rows: tuple[BadRow, ...]
    duplicates: int
    rows: int


@dataclass(frozen=True)
class NumberList:
    """A do-not-call file read: each number once (E.164, file order) and the bad rows."""

    numbers: tuple[str, ...]
    bad_rows: tuple[BadRow, ...]
    duplicates: int
    rows: int


Progress = Callable[[int], None]


def _records(reader: Any, bad: list[BadRow]) -> Iterator[tuple[int, list[str]]]:
    """(first line, cells) of each non-blank row left in ``reader``; an unreadable row is
    reported in ``bad`` and skipped."""
    line = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            bad.append(BadRow(line, f"unreadable CSV: {err}"))
            line = reader.line_num + 1
            continue
        start, line = line, reader.line_num + 1
        if any(cell.strip() for cell in row):  # blank lines are not rows
            yield start, row


def _phone(raw: str, region: str) -> tuple[str | None, str]:
    """(E.164, "") or (None, why not)."""
    if not raw:
        return None, "no phone number"
    e164 = normalise(raw, region)
    if e164 is None:
        return None, f"invalid phone number {raw!r} (region {region})"
    return e164, ""


def parse_leads(
    text: Iterable[str],
    mapping: ColumnMapping | None = None,
    region: str = "US",
    progress: Progress | None = None,
    progress_every: int = 1000,
    source: str = "<leads>",
) -> LeadImport:
    """Parse CSV lines (header first) into leads; ``progress(rows)`` every ``progress_every``."""
    mapping = mapping or ColumnMapping()
    reader = csv.reader(text)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise LeadListError(source, "the file is empty; expected a header row") from None
    except csv.Error as err:
        raise LeadListError(source, f"line 1: {err}") from None
    columns = {name: i for i, name in enumerate(header)}
    if mapping.phone not in columns:
        raise LeadListError(
            source,
            f"no column {mapping.phone!r} for the phone number (columns: {', '.join(header)})",
        )
    standard = {c for c in (mapping.phone, mapping.first_name, mapping.last_name,
                            mapping.external_id, mapping.timezone) if c}
    missing = [c for c in (mapping.custom or ()) if c not in columns]
    missing += [c for c in standard if c not in columns
                and c not in ("first_name", "last_name", LEAD_ZONE_FIELD)]  # optional
    if missing:
        raise LeadListError(source, f"mapped column(s) not in the header: {', '.join(missing)}")
    custom_cols = list(mapping.custom) if mapping.custom is not None else [
        h for h in header if h not in standard and h]

    by_phone: dict[str, Lead] = {}
    bad: list[BadRow] = []
    duplicates = rows = 0
    for start, row in _records(reader, bad):
        rows += 1
        if progress is not None and rows % progress_every == 0:
            progress(rows)
        if len(row) != len(header):
            bad.append(BadRow(start, f"expected {len(header)} columns, found {len(row)}"))
            continue
        values = {name: row[i].strip() for name, i in columns.items()}
        e164, why = _phone(values[mapping.phone], region)
        if e164 is None:
            bad.append(BadRow(start, why))
            continue
        zone = values.get(mapping.timezone or "", "")
        if zone and not named_zones(zone):
            bad.append(BadRow(start, f"unknown time zone {zone!r} in column "
                                     f"{mapping.timezone!r}: use an IANA name such as "
                                     "America/Chicago or a US state code such as TX"))
            continue
        incoming = Lead(
            phone=e164,
            first_name=values.get(mapping.first_name or "", ""),
            last_name=values.get(mapping.last_name or "", ""),
            external_id=values.get(mapping.external_id or "", ""),
            custom={c: values[c] for c in custom_cols if values.get(c)},
            lines=[start],
            timezone=zone,
        )
        known = by_phone.get(e164)
        if known is None:
            by_phone[e164] = incoming
        else:
            duplicates += 1
            _merge(known, incoming)
    if progress is not None and rows % progress_every:
        progress(rows)
    return LeadImport(tuple(by_phone.values()), tuple(bad), duplicates, rows)


def _merge(known: Lead, extra: Lead) -> None:
    known.first_name = known.first_name or extra.first_name
    known.last_name = known.last_name or extra.last_name
    known.external_id = known.external_id or extra.external_id
    known.timezone = known.timezone or extra.timezone
    for key, value in extra.custom.items():
        known.custom.setdefault(key, value)
    known.lines.extend(extra.lines)


def parse_leads_file(path: Path, mapping: ColumnMapping | None = None, region: str = "US",
                     progress: Progress | None = None) -> LeadImport:
    """Parse a CSV file (UTF-8, with or without BOM)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            return parse_leads(f, mapping, region, progress, source=str(path))
    except (OSError, UnicodeDecodeError) as err:
        raise LeadListError(str(path), f"cannot read: {err}") from None


def parse_leads_text(text: str, mapping: ColumnMapping | None = None,
                     region: str = "US") -> LeadImport:
    return parse_leads(io.StringIO(text, newline=""), mapping, region)


def parse_numbers(
    text: Iterable[str],
    column: str = "phone",
    region: str = "US",
    progress: Progress | None = None,
    progress_every: int = 10_000,
    source: str = "<numbers>",
) -> NumberList:
    """Parse a do-not-call file: a CSV whose header names ``column``, or one number per line
    (no header). ``progress(rows)`` every ``progress_every`` rows."""
    reader = csv.reader(text)
    bad: list[BadRow] = []
    records = _records(reader, bad)
    first = next(records, None)
    if first is None:
        if bad:
            raise LeadListError(source, f"line {bad[0].line}: {bad[0].reason}")
        raise LeadListError(source, "the file is empty; expected phone numbers")
    header = [cell.strip() for cell in first[1]]
    if column in header:
        index, width, body = header.index(column), len(header), records
    elif len(header) == 1:  # one number per line: the first line is a number too
        index, width, body = 0, 1, itertools.chain([first], records)
    else:
        raise LeadListError(source, f"no column {column!r} for the phone number (columns: "
                                    f"{', '.join(header)}): name it with --column")
    seen: dict[str, None] = {}  # insertion-ordered set
    duplicates = rows = 0
    for line, row in body:
        rows += 1
        if progress is not None and rows % progress_every == 0:
            progress(rows)
        if len(row) != width:
            bad.append(BadRow(line, f"expected {width} columns, found {len(row)}" if width > 1
                              else f"expected one number per line, found {len(row)} columns"))
            continue
        e164, why = _phone(row[index].strip(), region)
        if e164 is None:
            header_like = body is not records and line == first[0]
            hint = "; if this line is a header, name the phone column with --column"
            bad.append(BadRow(line, why + (hint if header_like else "")))
        elif e164 in seen:
            duplicates += 1
        else:
            seen[e164] = None
    if progress is not None and rows % progress_every:
        progress(rows)
    return NumberList(tuple(seen), tuple(sorted(bad, key=lambda b: b.line)), duplicates, rows)


def parse_numbers_file(path: Path, column: str = "phone", region: str = "US",
                       progress: Progress | None = None) -> NumberList:
    """Parse a do-not-call file (UTF-8, with or without BOM)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            return parse_numbers(f, column, region, progress, source=str(path))
    except (OSError, UnicodeDecodeError) as err:
        raise LeadListError(str(path), f"cannot read: {err}") from None
