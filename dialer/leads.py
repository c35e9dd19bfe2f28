"""Lead lists and number lists: parse a CSV into leads, or a do-not-call file into numbers,
all in E.164. Pure parsing, no database; reading the file itself (encoding, delimiter, rows of
uneven length, header names) is :mod:`dialer.csv_source`'s.

Every row either becomes (part of) a lead or is reported as a :class:`BadRow` with its line
number and reason: nothing is dropped silently. Rows with the same number are merged into
one lead (the first non-empty value of each field wins) and counted as duplicates. Columns
not mapped to a standard field become custom fields, shown on the agent's screen pop (an
unnamed column that holds data as ``column N``). A lead's own time zone (column
``timezone``: an IANA name or a US state code) is checked here and kept in its fields as
``timezone``, where compliance reads it.

Header names match ignoring case, spaces, underscores and hyphens; the phone column, when
the mapping keeps its default name ``phone``, is also found under one of
:data:`PHONE_ALIASES` (two such columns are an error naming both). Numbers as spreadsheets
mangle them: a leading apostrophe (Excel's text marker) is dropped, a trailing ``.0`` is
dropped (exact), scientific notation is reported (its digits are lost), an extension
(``x123``, ``ext. 123``) is kept in the lead's field ``extension`` and the number dialled. A
national number that does not parse in the campaign's region is reported, never re-read
with a guessed country code: the reason names the international number it would be, for
the user to confirm by writing the ``+``.

:func:`parse_numbers` reads a do-not-call file: a CSV with a phone column, or one number per
line; the same reading and the same rules for bad rows and duplicates (an extension is
dropped: the whole number is kept off the dial list).
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import phonenumbers

from dialer.compliance import named_zones, normalise
from dialer.csv_source import (
    BadRow,
    CsvFormat,
    LeadListError,
    Table,
    decode,
    fit_row,
    header_key,
    one_column_hint,
    open_text,
    read_table,
)

__all__ = [
    "LEAD_ZONE_FIELD", "EXTENSION_FIELD", "PHONE_ALIASES", "BadRow", "ColumnMapping",
    "CsvFormat", "Lead", "LeadImport", "LeadListError", "NumberList", "lead_zone",
    "parse_leads", "parse_leads_bytes", "parse_leads_file", "parse_leads_text",
    "parse_numbers", "parse_numbers_bytes", "parse_numbers_file", "read_phone",
]

LEAD_ZONE_FIELD = "timezone"  # the lead's own zone, in its fields
EXTENSION_FIELD = "extension"  # the extension written after a lead's number, in its fields
PHONE_ALIASES = ("phone", "phone number", "telephone", "telephone number", "tel", "mobile",
                 "mobile number", "cell", "cell phone", "number", "msisdn")
_PHONE_KEYS = frozenset(header_key(alias) for alias in PHONE_ALIASES)


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


_SCIENTIFIC = re.compile(r"[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+")
_POINT_ZERO = re.compile(r"(\+?\d+)\.0+")  # a number column Excel read as a decimal
_EXTENSION = re.compile(r"[A-Za-z#;]")  # what phonenumbers takes for an extension's mark


def read_phone(raw: str, region: str) -> tuple[str, str] | str:
    """(E.164, extension) of a phone cell as spreadsheets write it, or why it is refused."""
    text = raw.strip()
    text = text[1:].strip() if text.startswith("'") else text  # Excel's text marker
    if not text:
        return "no phone number"
    if _SCIENTIFIC.fullmatch(text):
        return (f"Excel turned the number into scientific notation ({text!r}, its last "
                "digits may be lost): format the column as text and export again")
    exact = _POINT_ZERO.fullmatch(text)
    text = exact.group(1) if exact else text
    e164 = normalise(text, region)
    if e164 is None:
        return f"invalid phone number {raw.strip()!r} (region {region})" + _abroad(text, region)
    extension = phonenumbers.parse(text, region).extension if _EXTENSION.search(text) else ""
    return e164, extension or ""


def _abroad(text: str, region: str) -> str:
    """The hint for a national number that is valid as an international one: never dialled
    as such unasked, since a wrong country code rings a stranger."""
    if text.startswith("+"):
        return ""
    digits = re.sub(r"\D", "", text)
    e164 = normalise("+" + (digits[2:] if digits.startswith("00") else digits))
    if e164 is not None:
        return (f": if it is the international number {e164}, write it with its + "
                f"(numbers without one are read as national numbers of {region})")
    if digits.startswith("00"):
        return f": write an international number with + instead of 00 (region {region})"
    return ""


def _column(table: Table, name: str, aliases: frozenset[str], option: str,
            source: str) -> int | None:
    """The index of column ``name`` (or, failing it, of the one column named by an alias)."""
    keys = [header_key(h) for h in table.header]
    exact = [i for i, key in enumerate(keys) if key == header_key(name)]
    if exact:  # two of them: refused by _unique, as any two columns of one name
        return exact[0]
    found = [i for i, key in enumerate(keys) if key in aliases]
    if len(found) > 1:
        both = " and ".join(f"{table.header[i]!r} (column {i + 1})" for i in found)
        raise LeadListError(source, f"columns {both} could both be the phone number: pass "
                                    f"the one to dial with {option}")
    return found[0] if found else None


def _unique(table: Table, used: Iterable[int], source: str) -> None:
    """Refuse two columns of one name (ignoring case and spaces) when either is read: their
    values would be mixed up."""
    keys = [header_key(h) for h in table.header]
    for i in used:
        twin = next((j for j, key in enumerate(keys) if key and key == keys[i] and j != i), None)
        if twin is not None:
            raise LeadListError(source, f"columns {min(i, twin) + 1} and {max(i, twin) + 1} "
                                        f"are both named {table.header[i]!r}: rename one of "
                                        "them in the header")


def _no_phone_column(table: Table, name: str, option: str, source: str) -> LeadListError:
    return LeadListError(source, f"no column {name!r} for the phone number (columns: "
                                 f"{', '.join(table.named())}): name it with {option}"
                                 + one_column_hint(table.named(), table.delimiter))


def _table(text: Iterable[str], fmt: CsvFormat, bad: list[BadRow], source: str,
           empty: str) -> Table:
    table = read_table(text, fmt, bad, source)
    if table is None:
        raise LeadListError(source, f"the file is empty; {empty}")
    return table


@dataclass(frozen=True)
class _Columns:
    """Where each field of a lead is in the table (None: the file has no such column)."""

    phone: int
    first_name: int | None
    last_name: int | None
    external_id: int | None
    timezone: int | None
    custom: tuple[tuple[str, int], ...]  # (field name, index)

    @classmethod
    def find(cls, table: Table, mapping: ColumnMapping, source: str) -> _Columns:
        aliases = _PHONE_KEYS if mapping.phone == ColumnMapping.phone else frozenset()
        phone = _column(table, mapping.phone, aliases, "--phone", source)
        if phone is None:
            raise _no_phone_column(table, mapping.phone, "--phone", source)
        missing: list[str] = []

        def find(name: str | None, optional: bool) -> int | None:
            index = _column(table, name, frozenset(), "", source) if name else None
            if name and index is None and not optional:
                missing.append(name)
            return index

        defaults = ColumnMapping()
        first = find(mapping.first_name, mapping.first_name == defaults.first_name)
        last = find(mapping.last_name, mapping.last_name == defaults.last_name)
        external = find(mapping.external_id, False)
        zone = find(mapping.timezone, mapping.timezone == defaults.timezone)
        standard = {i for i in (phone, first, last, external, zone) if i is not None}
        if mapping.custom is not None:
            custom = [(name, find(name, False)) for name in mapping.custom]
        else:
            custom = [(name or f"column {i + 1}", i) for i, name in enumerate(table.header)
                      if i not in standard]
        if missing:
            raise LeadListError(source, "mapped column(s) not in the header: "
                                        f"{', '.join(missing)}")
        chosen = tuple((name, i) for name, i in custom if i is not None)
        _unique(table, [*standard, *(i for _, i in chosen)], source)
        return cls(phone, first, last, external, zone, chosen)


def parse_leads(
    text: Iterable[str],
    mapping: ColumnMapping | None = None,
    region: str = "US",
    progress: Progress | None = None,
    progress_every: int = 1000,
    source: str = "<leads>",
    fmt: CsvFormat = CsvFormat(),
) -> LeadImport:
    """Parse CSV lines (header first) into leads; ``progress(rows)`` every ``progress_every``.
    ``fmt.delimiter`` None detects it from the header."""
    mapping = mapping or ColumnMapping()
    bad: list[BadRow] = []
    table = _table(text, fmt, bad, source, "expected a header row")
    columns = _Columns.find(table, mapping, source)
    by_phone: dict[str, Lead] = {}
    duplicates = rows = 0
    for start, row in table.rows:
        rows += 1
        if progress is not None and rows % progress_every == 0:
            progress(rows)
        cells = fit_row(row, len(table.header))
        if isinstance(cells, str):
            bad.append(BadRow(start, cells))
            continue
        value = _cells(cells)
        number = read_phone(cells[columns.phone], region)
        if isinstance(number, str):
            bad.append(BadRow(start, number))
            continue
        zone = value(columns.timezone)
        if zone and not named_zones(zone):
            bad.append(BadRow(start, f"unknown time zone {zone!r} in column "
                                     f"{mapping.timezone!r}: use an IANA name such as "
                                     "America/Chicago or a US state code such as TX"))
            continue
        e164, extension = number
        custom = {name: value(i) for name, i in columns.custom if value(i)}
        if extension:
            custom.setdefault(EXTENSION_FIELD, extension)
        incoming = Lead(
            phone=e164,
            first_name=value(columns.first_name),
            last_name=value(columns.last_name),
            external_id=value(columns.external_id),
            custom=custom,
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
    return LeadImport(tuple(by_phone.values()), tuple(sorted(bad, key=lambda b: b.line)),
                      duplicates, rows)


def _cells(cells: list[str]) -> Callable[[int | None], str]:
    """The stripped value of a row's cell by index ("" for a column the file lacks)."""
    return lambda index: cells[index].strip() if index is not None else ""


def _merge(known: Lead, extra: Lead) -> None:
    known.first_name = known.first_name or extra.first_name
    known.last_name = known.last_name or extra.last_name
    known.external_id = known.external_id or extra.external_id
    known.timezone = known.timezone or extra.timezone
    for key, value in extra.custom.items():
        known.custom.setdefault(key, value)
    known.lines.extend(extra.lines)


def parse_leads_file(path: Path, mapping: ColumnMapping | None = None, region: str = "US",
                     progress: Progress | None = None,
                     fmt: CsvFormat = CsvFormat()) -> LeadImport:
    """Parse a CSV file in its encoding and with its delimiter (detected, or ``fmt``'s)."""
    with open_text(path, fmt) as f:
        return parse_leads(f, mapping, region, progress, source=str(path), fmt=fmt)


def parse_leads_bytes(data: bytes, mapping: ColumnMapping | None = None,
                      region: str = "US", fmt: CsvFormat = CsvFormat(),
                      source: str = "body") -> LeadImport:
    """Parse an uploaded file, read as :func:`parse_leads_file` reads one."""
    text = io.StringIO(decode(data, fmt, source), newline="")
    return parse_leads(text, mapping, region, source=source, fmt=fmt)


def parse_leads_text(text: str, mapping: ColumnMapping | None = None,
                     region: str = "US", fmt: CsvFormat = CsvFormat()) -> LeadImport:
    return parse_leads(io.StringIO(text, newline=""), mapping, region, fmt=fmt)


def parse_numbers(
    text: Iterable[str],
    column: str = "phone",
    region: str = "US",
    progress: Progress | None = None,
    progress_every: int = 10_000,
    source: str = "<numbers>",
    fmt: CsvFormat = CsvFormat(),
) -> NumberList:
    """Parse a do-not-call file: a CSV whose header names ``column``, one number per line
    (no header), or the US national registry's flat file (an area code and a seven-digit
    number per line: ``201,5550123``). ``progress(rows)`` every ``progress_every`` rows."""
    bad: list[BadRow] = []
    table = _table(text, fmt, bad, source, "expected phone numbers")
    aliases = _PHONE_KEYS if column == "phone" else frozenset()
    index = _column(table, column, aliases, "--column", source)
    body = table.rows
    pairs = False  # the registry's "area code, number" rows
    if index is not None:
        _unique(table, [index], source)
        width = len(table.header)
    elif len(table.named()) == 1:  # one number per line: the first line is a number too
        if one_column_hint(table.named(), table.delimiter) and isinstance(
                read_phone(table.header[0], region), str):
            raise _no_phone_column(table, column, "--column", source)
        index, width = 0, 1
        body = itertools.chain([(table.header_line, table.header)], table.rows)
    elif _registry_pair(table.header):
        index, width, pairs = 0, 2, True
        body = itertools.chain([(table.header_line, table.header)], table.rows)
    else:
        raise _no_phone_column(table, column, "--column", source)
    seen: dict[str, None] = {}  # insertion-ordered set
    duplicates = rows = 0
    for line, row in body:
        rows += 1
        if progress is not None and rows % progress_every == 0:
            progress(rows)
        cells = fit_row(row, width)
        if isinstance(cells, str):
            bad.append(BadRow(line, cells if body is table.rows
                              else f"expected one number per line, found {len(row)} columns"))
            continue
        if pairs and not _registry_pair(cells):
            bad.append(BadRow(line, "expected an area code and a seven-digit number, as the "
                                    f"registry's flat file has them (201,5550123): {row!r}"))
            continue
        number = read_phone(cells[0] + cells[1] if pairs else cells[index], region)
        if isinstance(number, str):
            header_like = body is not table.rows and line == table.header_line
            hint = "; if this line is a header, name the phone column with --column"
            bad.append(BadRow(line, number + (hint if header_like else "")))
        elif number[0] in seen:
            duplicates += 1
        else:
            seen[number[0]] = None
    if progress is not None and rows % progress_every:
        progress(rows)
    return NumberList(tuple(seen), tuple(sorted(bad, key=lambda b: b.line)), duplicates, rows)


def _registry_pair(cells: list[str]) -> bool:
    """A row of the national registry's flat file: area code, seven-digit number."""
    return (len(cells) == 2 and len(cells[0].strip()) == 3 and len(cells[1].strip()) == 7
            and (cells[0] + cells[1]).strip().replace(" ", "").isdigit())


def parse_numbers_file(path: Path, column: str = "phone", region: str = "US",
                       progress: Progress | None = None,
                       fmt: CsvFormat = CsvFormat()) -> NumberList:
    """Parse a do-not-call file in its encoding and with its delimiter (detected or given)."""
    with open_text(path, fmt) as f:
        return parse_numbers(f, column, region, progress, source=str(path), fmt=fmt)


def parse_numbers_bytes(data: bytes, column: str = "phone", region: str = "US",
                        fmt: CsvFormat = CsvFormat(), source: str = "body") -> NumberList:
    """Parse an uploaded do-not-call file, read as :func:`parse_numbers_file` reads one."""
    text = io.StringIO(decode(data, fmt, source), newline="")
    return parse_numbers(text, column, region, source=source, fmt=fmt)
