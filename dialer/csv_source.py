"""Reading spreadsheet exports as tables: the encoding, the delimiter, the header and rows of
uneven length. Shared by lead lists and do-not-call files (:mod:`dialer.leads`); pure, no
database.

What Excel, Google Sheets, LibreOffice and CRMs write, and what is done with it:

- **Encoding**: a byte-order mark decides (UTF-8, UTF-16 LE/BE as Excel's "Unicode Text",
  UTF-32); without one, UTF-8 if the whole file decodes as UTF-8, else Windows-1252 (Excel's
  "CSV" on Western Windows, a superset of Latin-1's printable characters). An encoding given
  by the user is checked over the whole file first, so a wrong one is refused with the line
  and byte that do not decode instead of importing garbled names. A workbook (.xlsx, .xls)
  or a file with NUL bytes and no byte-order mark is refused, saying what to do.
- **Delimiter**: comma, semicolon (Excel in most of Europe), tab (TSV, "Unicode Text") or
  pipe, counted outside quotes on the header line; a tie is broken by the first data line,
  and if that cannot tell either, the file is refused rather than guessed.
- **Rows**: trailing cells that are empty are ignored (Excel writes ``a,b,,``) and missing
  trailing cells are empty (Excel drops them); extra cells that hold data make the row bad.
- **Header names** match ignoring case, spaces, underscores and hyphens (:func:`header_key`).
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from callcenter.errors import CallCenterError

DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_DELIMITER_NAMES = {name: sep for sep, name in DELIMITERS.items()} | {"\\t": "\t"}
_BOMS = (  # UTF-32 first: its little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_WORKBOOKS = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # .xlsx / .ods (zip), .xls (OLE)
_CHUNK = 1 << 20
_SNIFF_LINES = 20
_SAVE_AS = "save it as 'CSV UTF-8' or pass its encoding with --encoding"


class LeadListError(CallCenterError):
    """The lead list cannot be read at all (no header, the phone column missing, ...)."""

    exit_code = 2

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


@dataclass(frozen=True)
class CsvFormat:
    """How to read the file; ``None`` detects it (see the module's docstring)."""

    encoding: str | None = None
    delimiter: str | None = None  # ",", ";", "\t", "|" or comma, semicolon, tab, pipe


# --- encoding ---------------------------------------------------------------------------

def _first_error(chunks: Iterable[bytes], encoding: str) -> tuple[int, int, bytes] | None:
    """(line, byte offset, the bytes) where ``chunks`` stop decoding as ``encoding``."""
    decoder = codecs.getincrementaldecoder(encoding)()
    lines = offset = 0
    for chunk in itertools.chain(chunks, [b""]):
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as err:  # err.object: the bytes held back, then chunk
            before = err.object[: err.start].decode(encoding, errors="replace")
            at = offset + len(chunk) - len(err.object) + err.start
            return lines + before.count("\n") + 1, at, err.object[err.start : err.end]
        lines += text.count("\n")
        offset += len(chunk)
    return None


def _encoding(head: bytes, chunks: Callable[[], Iterable[bytes]], encoding: str | None,
              source: str) -> str:
    """The encoding to read the file with, checked over the whole file."""
    bom = next((name for mark, name in _BOMS if head.startswith(mark)), None)
    if encoding is not None:
        try:
            given = codecs.lookup(encoding).name
        except LookupError:
            raise LeadListError(source, f"unknown encoding {encoding!r}: use e.g. utf-8, "
                                        "cp1252, latin-1 or utf-16") from None
        family = bom.removesuffix("-sig") if bom else ""  # utf-8, utf-16 or utf-32
        if not given.startswith(family):
            raise LeadListError(source, f"the file begins with the byte-order mark of "
                                        f"{family}, not {encoding}: pass --encoding {family} "
                                        "or leave --encoding out")
        candidates = ["utf-8-sig" if given == "utf-8" and bom == "utf-8-sig" else encoding]
    elif bom is not None:
        candidates = [bom]
    else:
        if head.startswith(_WORKBOOKS):
            raise LeadListError(source, "this is a spreadsheet workbook (.xlsx, .xls, .ods), "
                                        "not a CSV: save it as 'CSV UTF-8' and import that")
        if b"\x00" in head:
            raise LeadListError(source, "the file holds NUL bytes: UTF-16 without a "
                                        "byte-order mark, or not a text file; pass "
                                        "--encoding utf-16-le (or utf-16-be) if it is text")
        candidates = ["utf-8", "cp1252"]
    for name in candidates[:-1]:
        if _first_error(chunks(), name) is None:
            return name
    error = _first_error(chunks(), candidates[-1])
    if error is None:
        return candidates[-1]
    line, offset, what = error
    found = f"byte(s) {what.hex(' ')}" if what else "a character cut short at the end"
    tried = (f"is not {encoding}" if encoding is not None
             else f"does not decode as {bom}, which its byte-order mark names" if bom
             else "is neither UTF-8 nor Windows-1252")
    raise LeadListError(source, f"line {line}, byte {offset}: {found}: the file {tried}; "
                                f"{_SAVE_AS}")


@contextmanager
def open_text(path: Path, fmt: CsvFormat = CsvFormat()) -> Iterator[TextIO]:
    """``path`` opened as text in its encoding (detected or ``fmt.encoding``, checked)."""
    try:
        with path.open("rb") as raw:
            def chunks() -> Iterator[bytes]:
                raw.seek(0)
                return iter(lambda: raw.read(_CHUNK), b"")

            encoding = _encoding(raw.read(4096), chunks, fmt.encoding, str(path))
            raw.seek(0)
            text = io.TextIOWrapper(raw, encoding=encoding, newline="")
            try:
                yield text
            finally:
                text.detach()
    except OSError as err:
        raise LeadListError(str(path), f"cannot read: {err.strerror or err}") from None


def decode(data: bytes, fmt: CsvFormat = CsvFormat(), source: str = "body") -> str:
    """``data`` as text in its encoding (detected or ``fmt.encoding``, checked)."""
    return data.decode(_encoding(data[:4096], lambda: [data], fmt.encoding, source))


# --- delimiter --------------------------------------------------------------------------

def delimiter_of(name: str, source: str) -> str:
    """The delimiter named by the user: the character itself or its name."""
    sep = name if name in DELIMITERS else _DELIMITER_NAMES.get(name.strip().lower())
    if sep is None:
        raise LeadListError(source, f"unknown delimiter {name!r}: use comma, semicolon, tab "
                                    "or pipe")
    return sep


def _count_outside_quotes(line: str, sep: str) -> int:
    quoted = False
    n = 0
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == sep and not quoted:
            n += 1
    return n


def sniff_delimiter(lines: list[str], source: str) -> str:
    """The delimiter of a table whose first non-blank line is its header (comma when the
    header is one column)."""
    header, *data = [line for line in lines if line.strip()] or [""]
    counts = {sep: _count_outside_quotes(header, sep) for sep in DELIMITERS}
    most = max(counts.values())
    tied = [sep for sep, n in counts.items() if n == most]
    if most == 0 or len(tied) == 1:
        return tied[0] if most else ","
    if data:  # the separator the first row repeats as often wins
        agree = [sep for sep in tied if _count_outside_quotes(data[0], sep) == most]
        if len(agree) == 1:
            return agree[0]
    names = " and ".join(DELIMITERS[sep] for sep in tied)
    raise LeadListError(source, f"cannot tell the delimiter: the header holds as many of "
                                f"each of {names}; pass --delimiter")


def one_column_hint(header: list[str], sep: str) -> str:
    """Why a one-column header may be a misread file ("" when it is not)."""
    if len(header) != 1:
        return ""
    inside = [name for other, name in DELIMITERS.items() if other != sep and other in header[0]]
    if not inside:
        return ""
    return (f"; the header is one column {header[0]!r} with {inside[0]}s in it: the file "
            f"looks separated by {inside[0]}, not {DELIMITERS[sep]}: pass --delimiter "
            f"{inside[0]} (or leave --delimiter out to detect it)")


# --- header and rows --------------------------------------------------------------------

def header_key(name: str) -> str:
    """A header name as matched: no case, spaces, underscores or hyphens ("Phone Number",
    "phone_number" and "PHONE-NUMBER" are one)."""
    return re.sub(r"[\s_\-]+", "", name.lstrip("\ufeff")).casefold()


@dataclass
class Table:
    """A file read as a table: its header (the first non-blank row) and its rows."""

    header: list[str]
    header_line: int
    delimiter: str
    rows: Iterator[tuple[int, list[str]]]  # (first line, cells) of each non-blank row

    def named(self) -> list[str]:
        """The header without the empty cells Excel leaves after the last name."""
        end = len(self.header)
        while end > 1 and not self.header[end - 1]:
            end -= 1
        return self.header[:end]


def read_table(text: Iterable[str], fmt: CsvFormat, bad: list[BadRow],
               source: str) -> Table | None:
    """The table in ``text`` (``None`` when it has no row); an unreadable row is reported in
    ``bad`` and skipped, a blank one ignored."""
    lines = iter(text)
    head = list(itertools.islice(lines, _SNIFF_LINES))
    sep = (delimiter_of(fmt.delimiter, source) if fmt.delimiter
           else sniff_delimiter(head, source))
    rows = _records(csv.reader(itertools.chain(head, lines), delimiter=sep), bad)
    first = next(rows, None)
    if bad:  # before the header: nothing can be read without it
        raise LeadListError(source, f"line {bad[0].line}: {bad[0].reason}")
    if first is None:
        return None
    line, cells = first
    return Table([c.strip().lstrip("\ufeff") for c in cells], line, sep, rows)


def _records(reader: Any, bad: list[BadRow]) -> Iterator[tuple[int, list[str]]]:
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


def fit_row(row: list[str], width: int) -> list[str] | str:
    """``row`` as ``width`` cells (missing trailing cells empty, extra empty cells dropped),
    or why not: extra cells that hold data."""
    extra = [cell.strip() for cell in row[width:] if cell.strip()]
    if extra:
        values = ", ".join(repr(v) for v in extra[:3]) + (", ..." if len(extra) > 3 else "")
        return (f"expected {width} columns, found {len(row)}: extra value(s) {values} after "
                "the last column; quote values that hold the delimiter, or name the column "
                "in the header")
    return row[:width] + [""] * (width - len(row))
