"""Lead lists: parse a CSV into leads with E.164 numbers. Pure parsing, no database.

Every row either becomes (part of) a lead or is reported as a :class:`BadRow` with its line
number and reason: nothing is dropped silently. Rows with the same number are merged into
one lead (the first non-empty value of each field wins) and counted as duplicates. Columns
not mapped to a standard field become custom fields, shown on the agent's screen pop.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from callcenter.errors import CallCenterError
from dialer.compliance import normalise


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


@dataclass
class Lead:
    phone: str
    first_name: str = ""
    last_name: str = ""
    external_id: str = ""
    custom: dict[str, str] = field(default_factory=dict)
    lines: list[int] = field(default_factory=list)


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


Progress = Callable[[int], None]


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
                            mapping.external_id) if c}
    missing = [c for c in (mapping.custom or ()) if c not in columns]
    missing += [c for c in standard if c not in columns and c not in ("first_name", "last_name")]
    if missing:
        raise LeadListError(source, f"mapped column(s) not in the header: {', '.join(missing)}")
    custom_cols = list(mapping.custom) if mapping.custom is not None else [
        h for h in header if h not in standard and h]

    by_phone: dict[str, Lead] = {}
    bad: list[BadRow] = []
    duplicates = rows = 0
    line = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            bad.append(BadRow(line, f"unreadable CSV: {err}"))
            line = reader.line_num + 1
            continue
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue  # blank lines are not rows
        rows += 1
        if progress is not None and rows % progress_every == 0:
            progress(rows)
        if len(row) != len(header):
            bad.append(BadRow(start, f"expected {len(header)} columns, found {len(row)}"))
            continue
        values = {name: row[i].strip() for name, i in columns.items()}
        raw_phone = values[mapping.phone]
        if not raw_phone:
            bad.append(BadRow(start, "no phone number"))
            continue
        e164 = normalise(raw_phone, region)
        if e164 is None:
            bad.append(BadRow(start, f"invalid phone number {raw_phone!r} (region {region})"))
            continue
        incoming = Lead(
            phone=e164,
            first_name=values.get(mapping.first_name or "", ""),
            last_name=values.get(mapping.last_name or "", ""),
            external_id=values.get(mapping.external_id or "", ""),
            custom={c: values[c] for c in custom_cols if values.get(c)},
            lines=[start],
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
