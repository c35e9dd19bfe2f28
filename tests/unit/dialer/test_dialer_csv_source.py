"""Files as spreadsheets save them: each test writes the exact bytes (encoding, byte-order
mark, delimiter, line ends) that Excel, Google Sheets, LibreOffice or a CRM writes, and reads
them back through the lead and do-not-call parsers."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.csv_source import DELIMITERS, CsvFormat, LeadListError, decode, sniff_delimiter
from dialer.leads import (
    parse_leads_bytes,
    parse_leads_file,
    parse_numbers_bytes,
    parse_numbers_file,
)

ROWS = [  # (phone, first name, last name, city): names outside ASCII
    ("(202) 555-0143", "José", "Müller", "Köln"),
    ("+1 415 555 0132", "Zoë", "O'Brien", "São Paulo"),
]
PEOPLE = {("+12025550143", "José", "Müller"), ("+14155550132", "Zoë", "O'Brien")}


def table(sep: str, header: str = "Phone Number{0}First Name{0}Last Name{0}City") -> str:
    lines = [header.format(sep)] + [sep.join(row) for row in ROWS]
    return "\r\n".join(lines) + "\r\n"  # Excel and Sheets end lines with CRLF


def people(path: Path, data: bytes, fmt: CsvFormat = CsvFormat()) -> set[tuple[str, str, str]]:
    path.write_bytes(data)
    result = parse_leads_file(path, fmt=fmt)
    assert not result.bad_rows, result.bad_rows
    by_phone = {(lead.phone, lead.first_name, lead.last_name) for lead in result.leads}
    assert {lead.custom["City"] for lead in result.leads} == {"Köln", "São Paulo"}
    return by_phone


@pytest.mark.parametrize(
    ("saved_as", "data"),
    [
        ("Excel CSV UTF-8 (BOM, comma)", codecs.BOM_UTF8 + table(",").encode()),
        ("Google Sheets / LibreOffice (UTF-8, comma)", table(",").encode()),
        ("Excel CSV in Germany (Windows-1252, semicolon)", table(";").encode("cp1252")),
        ("Latin-1 text (tab)", table("\t").encode("latin-1")),
        ("Excel Unicode Text (UTF-16 LE BOM, tab)",
         codecs.BOM_UTF16_LE + table("\t").encode("utf-16-le")),
        ("UTF-16 BE with BOM (tab)", codecs.BOM_UTF16_BE + table("\t").encode("utf-16-be")),
        ("CRM export (UTF-8, pipe)", table("|").encode()),
    ],
)
def test_files_as_spreadsheets_save_them(tmp_path: Path, saved_as: str, data: bytes) -> None:
    assert people(tmp_path / "leads.csv", data) == PEOPLE, saved_as
    assert {(lead.phone, lead.first_name, lead.last_name)
            for lead in parse_leads_bytes(data).leads} == PEOPLE, saved_as  # API uploads


def test_delimiter_detection_is_not_fooled_by_names_with_spaces_or_other_delimiters() -> None:
    assert sniff_delimiter(["Last, First;Phone Number;City\r\n"], "f") == ";"
    assert sniff_delimiter(['"Name; nick"\t"Phone, home"\n'], "f") == "\t"  # quoted
    assert sniff_delimiter(["phone\n", "2025550143\n"], "f") == ","  # one column
    assert sniff_delimiter(["\n", "Name,x;Phone\n", "Ann;2025550143\n"], "f") == ";"  # tie
    with pytest.raises(LeadListError, match="comma and semicolon; pass --delimiter"):
        sniff_delimiter(["Name,x;Phone\n", "Ann,b;2025550143\n"], "f")


def test_an_explicit_delimiter_wins_and_a_wrong_one_says_which_the_file_has(
        tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    # a comma in every name: detection would take the comma, the user knows better
    path.write_text("Name|Phone\nDoe, Ann|2025550143\nRoe, Bo|2025550144\n")
    for sep in ("|", "pipe"):
        leads = parse_leads_file(path, fmt=CsvFormat(delimiter=sep)).leads
        assert [lead.custom["Name"] for lead in leads] == ["Doe, Ann", "Roe, Bo"]
    path.write_text(table(";"))
    with pytest.raises(LeadListError, match="looks separated by semicolon, not comma: pass "
                                            "--delimiter semicolon"):
        parse_leads_file(path, fmt=CsvFormat(delimiter=","))
    path.write_text("phone;name\n2025550143;Ann\n")
    with pytest.raises(LeadListError, match="looks separated by semicolon"):
        parse_numbers_file(path, fmt=CsvFormat(delimiter="comma"))
    with pytest.raises(LeadListError, match="unknown delimiter 'colon': use comma"):
        parse_leads_file(path, fmt=CsvFormat(delimiter="colon"))


def test_an_explicit_encoding_is_checked_and_a_wrong_one_says_where(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(table(";").encode("cp1252"))
    assert people(path, path.read_bytes(), CsvFormat(encoding="latin-1")) == PEOPLE
    with pytest.raises(LeadListError) as err:  # "José" on line 2: é is 0xE9 in cp1252
        parse_leads_file(path, fmt=CsvFormat(encoding="utf-8"))
    offset = table(";").encode("cp1252").index(b"\xe9")
    assert str(err.value) == (
        f"{path}: line 2, byte {offset}: byte(s) e9: the file is not utf-8; save it as "
        "'CSV UTF-8' or pass its encoding with --encoding"
    )
    path.write_bytes(codecs.BOM_UTF8 + table(",").encode())
    assert people(path, path.read_bytes(), CsvFormat(encoding="utf-8")) == PEOPLE  # BOM gone
    with pytest.raises(LeadListError, match="byte-order mark of utf-8, not latin-1: pass "
                                            "--encoding utf-8 or leave --encoding out"):
        parse_leads_file(path, fmt=CsvFormat(encoding="latin-1"))
    path.write_bytes(codecs.BOM_UTF16_BE + table("\t").encode("utf-16-be"))
    assert people(path, path.read_bytes(), CsvFormat(encoding="UTF-16")) == PEOPLE
    with pytest.raises(LeadListError, match="byte-order mark of utf-16, not cp1252"):
        parse_leads_file(path, fmt=CsvFormat(encoding="cp1252"))
    with pytest.raises(LeadListError, match="unknown encoding 'klingon'"):
        parse_leads_file(path, fmt=CsvFormat(encoding="klingon"))


def test_what_cannot_be_decoded_is_refused_with_what_to_do(tmp_path: Path) -> None:
    body = b"phone\n2025550143\n2025550144\n"
    with pytest.raises(LeadListError, match=r"line 4, byte 28: byte\(s\) 81: the file is "
                                            "neither UTF-8 nor Windows-1252"):  # 0x81: none
        decode(body + b"\x81\xe9\n")
    with pytest.raises(LeadListError, match="line 2, byte 10: byte.*64: the file does "
                                            "not decode as utf-16"):  # cut short
        decode(codecs.BOM_UTF16_LE + "ab\ncd".encode("utf-16-le")[:-1])
    with pytest.raises(LeadListError, match="workbook .* save it as 'CSV UTF-8'"):
        decode(b"PK\x03\x04\x14\x00\x06\x00")
    with pytest.raises(LeadListError, match="NUL bytes: UTF-16 without a byte-order mark"):
        decode("phone\n".encode("utf-16-le"))
    assert decode("phone\n".encode("utf-16-le"), CsvFormat(encoding="utf-16-le")) == "phone\n"
    with pytest.raises(LeadListError, match="cannot read"):
        parse_leads_file(Path("/nonexistent/leads.csv"))


def test_do_not_call_files_are_read_the_same_way(tmp_path: Path) -> None:
    path = tmp_path / "dnc.txt"
    excel = codecs.BOM_UTF16_LE + table("\t", "Name{0}Mobile").replace(
        "(202) 555-0143\tJosé\tMüller\tKöln", "Müller\t(202) 555-0143").replace(
        "+1 415 555 0132\tZoë\tO'Brien\tSão Paulo", "O'Brien\t+1 415 555 0132").encode(
        "utf-16-le")
    path.write_bytes(excel)
    assert parse_numbers_file(path).numbers == ("+12025550143", "+14155550132")
    assert parse_numbers_bytes(excel).numbers == ("+12025550143", "+14155550132")
    plain = "2025550143\r\n4155550132\r\n".encode("cp1252")  # one a line, no header
    assert parse_numbers_bytes(plain).numbers == ("+12025550143", "+14155550132")


def test_positions_hold_across_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("dialer.csv_source._CHUNK", 5)  # characters cut between chunks
    path = tmp_path / "leads.csv"
    data = "phone,name\n2025550143,Zoë Müller\n2025550144,Zoë\n".encode() + b"\xe9\n"
    path.write_bytes(data)
    with pytest.raises(LeadListError, match=f"line 4, byte {len(data) - 2}: byte.*e9: the "
                                            "file is not utf-8"):
        parse_leads_file(path, fmt=CsvFormat(encoding="utf-8"))
    path.write_bytes(data[:-2])  # valid UTF-8 read in 5-byte chunks
    assert [lead.custom["name"] for lead in parse_leads_file(path).leads] == ["Zoë Müller", "Zoë"]


FORMS: dict[str, tuple[Callable[[str], bytes], CsvFormat]] = {  # how a file is saved, read
    "utf-8": (lambda text: text.encode(), CsvFormat()),
    "utf-8 BOM": (lambda text: codecs.BOM_UTF8 + text.encode(), CsvFormat()),
    "utf-16 LE BOM": (lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"), CsvFormat()),
    "utf-16 BE BOM": (lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"), CsvFormat()),
    # without a mark, cp1252 bytes that happen to be valid UTF-8 ("Ã©") read as UTF-8: named
    "cp1252": (lambda text: text.encode("cp1252"), CsvFormat(encoding="cp1252")),
}
NAMES = st.text(st.characters(codec="cp1252", exclude_categories=("Cc", "Cs")), max_size=12)


@settings(max_examples=80, deadline=None)
@given(names=st.lists(st.tuples(NAMES, NAMES), min_size=1, max_size=8),
       sep=st.sampled_from(sorted(DELIMITERS)), form=st.sampled_from(sorted(FORMS)))
def test_every_delimiter_and_encoding_reads_what_was_written(
        names: list[tuple[str, str]], sep: str, form: str) -> None:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep, lineterminator="\r\n")
    writer.writerow(["Phone Number", "First Name", "Notes"])
    for i, (first, notes) in enumerate(names):  # any text: quotes, delimiters, line breaks
        writer.writerow([f"+1 202 555 {i:04d}", first, notes])
    encode, fmt = FORMS[form]
    result = parse_leads_bytes(encode(out.getvalue()), fmt=fmt)
    assert result.bad_rows == () and result.rows == len(names)
    assert [(lead.first_name, lead.custom.get("Notes", "")) for lead in result.leads] == [
        (first.strip(), notes.strip()) for first, notes in names]
