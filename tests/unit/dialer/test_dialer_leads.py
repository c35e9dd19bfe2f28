"""CSV lead lists: mapping, custom fields, E.164, bad rows by line, duplicates, progress."""

from __future__ import annotations

import io

import pytest

from dialer.leads import ColumnMapping, LeadListError, parse_leads, parse_leads_text

CSV = (
    "phone,first_name,last_name,plan,notes\n"  # line 1
    "(202) 555-0143,Ada,Lovelace,gold,\n"  # 2 ok
    "+1 202-555-0143,,,,vip\n"  # 3 duplicate of 2 (merged)
    "12,Bob,Short,silver,\n"  # 4 invalid number
    ",Carol,NoPhone,gold,\n"  # 5 no phone
    "2025550199,Dan,Extra,gold,x,too many\n"  # 6 wrong column count
    "\n"  # 7 blank: ignored
    '"415 555 0132","Eve, Jr.","Multi\nLine",bronze,\n'  # 8-9 ok, quoted newline
    "+44 20 7946 0958,Finn,UK,gold,\n"  # 10 ok, foreign number
)


def test_bad_rows_carry_line_numbers_and_reasons() -> None:
    result = parse_leads_text(CSV)
    bad = {b.line: b.reason for b in result.bad_rows}
    assert set(bad) == {4, 5, 6}
    assert "invalid phone number '12'" in bad[4]
    assert bad[5] == "no phone number"
    assert "expected 5 columns, found 6" in bad[6]
    assert result.rows == 7
    assert len(result.leads) + len(result.bad_rows) + result.duplicates == result.rows


def test_numbers_normalised_duplicates_merged_custom_fields_kept() -> None:
    result = parse_leads_text(CSV)
    by_phone = {lead.phone: lead for lead in result.leads}
    assert set(by_phone) == {"+12025550143", "+14155550132", "+442079460958"}
    ada = by_phone["+12025550143"]
    assert result.duplicates == 1
    assert ada.lines == [2, 3]
    assert ada.first_name == "Ada"
    assert ada.custom == {"plan": "gold", "notes": "vip"}
    assert by_phone["+14155550132"].last_name == "Multi\nLine"
    assert by_phone["+14155550132"].lines == [8]


def test_column_mapping_and_explicit_custom_fields() -> None:
    text = "Tel,Name,Account,Secret\n202-555-0101,Zoe,A-1,s3\n"
    mapping = ColumnMapping(
        phone="Tel", first_name="Name", last_name=None, external_id="Account", custom=()
    )
    (lead,) = parse_leads_text(text, mapping).leads
    assert (lead.phone, lead.first_name, lead.external_id, lead.custom) == (
        "+12025550101",
        "Zoe",
        "A-1",
        {},
    )


def test_missing_phone_column_is_a_clear_error() -> None:
    with pytest.raises(LeadListError, match="no column 'phone'"):
        parse_leads_text("name\nx\n")
    with pytest.raises(LeadListError, match="empty"):
        parse_leads_text("")


def test_progress_is_reported_on_large_files() -> None:
    rows = "".join(f"+1202555{i % 10000:04d},n{i}\n" for i in range(2500))
    seen: list[int] = []
    result = parse_leads(
        io.StringIO("phone,first_name\n" + rows), progress=seen.append, progress_every=1000
    )
    assert seen == [1000, 2000, 2500]
    assert result.rows == 2500
