"""CSV lead lists: mapping, custom fields, E.164, bad rows by line, duplicates, progress."""

from __future__ import annotations

import io

import pytest

from dialer.leads import (
    ColumnMapping,
    LeadListError,
    lead_zone,
    parse_leads,
    parse_leads_text,
    parse_numbers,
)

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


def test_the_leads_own_zone_is_checked_kept_in_its_fields_and_merged() -> None:
    text = (
        "phone,timezone,plan\n"
        "202-555-0101,America/Chicago,gold\n"  # 2 ok
        "202-555-0102,TX,\n"  # 3 ok: a US state
        "202-555-0103,Mars/Base,gold\n"  # 4 bad zone: reported, not dropped
        "+1 202 555 0102,America/Denver,silver\n"  # 5 duplicate of 3: first zone wins
        "202-555-0104,,gold\n"  # 6 no zone: the number's applies
    )
    result = parse_leads_text(text)
    assert [(b.line, b.reason.split(":")[0]) for b in result.bad_rows] == [
        (4, "unknown time zone 'Mars/Base' in column 'timezone'")
    ]
    assert "IANA name such as America/Chicago" in result.bad_rows[0].reason
    by_phone = {lead.phone: lead for lead in result.leads}
    assert by_phone["+12025550101"].fields() == {"timezone": "America/Chicago", "plan": "gold"}
    assert by_phone["+12025550102"].fields() == {"timezone": "TX", "plan": "silver"}
    assert by_phone["+12025550104"].fields() == {"plan": "gold"}
    assert lead_zone(by_phone["+12025550102"].fields()) == "TX"
    assert lead_zone({}) is None
    state = "phone,state\n202-555-0101,ca\n"  # another column named as the zone's
    (lead,) = parse_leads_text(state, ColumnMapping(timezone="state")).leads
    assert (lead.timezone, lead.fields()) == ("ca", {"timezone": "ca"})
    with pytest.raises(LeadListError, match="not in the header: tz"):
        parse_leads_text("phone\n2025550101\n", ColumnMapping(timezone="tz"))


def test_number_lists_csv_with_header_or_one_number_per_line() -> None:
    csv_text = (
        "name,phone\n"
        "Ann,212-555-0100\n"  # 2
        "Bob,+1 212 555 0100\n"  # 3 duplicate: merged
        "Carl,12\n"  # 4 invalid
        "\n"
        "Dora,\n"  # 6 no phone
        "Ed,212-555-0101,x\n"  # 7 wrong column count
        "Finn,+44 20 7946 0958\n"  # 8 ok
    )
    listed = parse_numbers(io.StringIO(csv_text))
    assert listed.numbers == ("+12125550100", "+442079460958")
    assert (listed.rows, listed.duplicates) == (6, 1)
    assert [(b.line, b.reason) for b in listed.bad_rows] == [
        (4, "invalid phone number '12' (region US)"),
        (6, "no phone number"),
        (7, "expected 2 columns, found 3: extra value(s) 'x' after the last column; quote "
            "values that hold the delimiter, or name the column in the header"),
    ]
    gb = "2125550100\n\n(212) 555-0101\n212-555-0100\n020 7946 0958\n"
    plain = parse_numbers(io.StringIO(gb), region="GB")
    assert plain.numbers == ("+442079460958",) and len(plain.bad_rows) == 3  # US numbers in GB
    plain = parse_numbers(io.StringIO("2125550100\n(212) 555-0101\n212-555-0100\n1,2\n"))
    assert plain.numbers == ("+12125550100", "+12125550101") and plain.duplicates == 1
    assert plain.bad_rows[0].line == 4 and "one number per line" in plain.bad_rows[0].reason
    header = parse_numbers(io.StringIO("fax\n2125550100\n"))
    assert header.bad_rows[0].line == 1 and "--column" in header.bad_rows[0].reason


def test_number_lists_refuse_what_cannot_be_read() -> None:
    with pytest.raises(LeadListError, match="no column 'phone' .*name it with --column"):
        parse_numbers(io.StringIO("name,fax\nAnn,2125550100\n"))
    with pytest.raises(LeadListError, match="empty"):
        parse_numbers(io.StringIO("\n\n"))
    seen: list[int] = []
    big = "".join(f"212555{i:04d}\n" for i in range(2500))
    assert (
        len(parse_numbers(io.StringIO(big), progress=seen.append, progress_every=1000).numbers)
        == 2500
    )
    assert seen == [1000, 2000, 2500]
