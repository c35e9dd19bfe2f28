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


def test_the_national_registrys_flat_file_of_area_codes_and_numbers() -> None:
    flat = parse_numbers(io.StringIO("201,2345678\n212,5550100\n212,555010\n201,2345678\n"))
    assert flat.numbers == ("+12012345678", "+12125550100") and flat.duplicates == 1
    assert [b.line for b in flat.bad_rows] == [3]
    assert "area code and a seven-digit number" in flat.bad_rows[0].reason
    # two columns that are not an area code and a number are still not guessed at
    with pytest.raises(LeadListError, match="no column 'phone'"):
        parse_numbers(io.StringIO("2125550100,2125550101\n"))


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


def test_header_names_match_ignoring_case_spaces_underscores_and_hyphens() -> None:
    text = "PHONE-NUMBER,First Name,LAST_NAME,Time Zone,Plan\n2025550101,Zoe,Roe,TX,gold\n"
    (lead,) = parse_leads_text(text, ColumnMapping(phone="phone_number")).leads
    assert (lead.phone, lead.first_name, lead.last_name, lead.fields()) == (
        "+12025550101", "Zoe", "Roe", {"Plan": "gold", "timezone": "TX"})
    for header in ("Phone", "Phone Number", "telephone", "TEL", "Mobile", "cell_phone",
                   "Number", "MSISDN"):  # the phone column's aliases
        (lead,) = parse_leads_text(f"Name,{header}\nAnn,2025550101\n").leads
        assert (lead.phone, lead.custom) == ("+12025550101", {"Name": "Ann"}), header
    both = "phone,mobile\n2025550101,2025550102\n"  # the exact name wins over an alias
    assert parse_leads_text(both).leads[0].custom == {"mobile": "2025550102"}
    with pytest.raises(LeadListError, match=r"columns 'Mobile' \(column 2\) and 'Telephone' "
                                            r"\(column 3\) could both be the phone number: "
                                            "pass the one to dial with --phone"):
        parse_leads_text("Name,Mobile,Telephone\nAnn,2025550101,2025550102\n")
    with pytest.raises(LeadListError, match="no column 'home' .*name it with --phone"):
        parse_leads_text("Phone\n2025550101\n", ColumnMapping(phone="home"))  # no aliases


def test_duplicate_and_unnamed_header_columns() -> None:
    with pytest.raises(LeadListError, match="columns 2 and 4 are both named 'Plan': rename"):
        parse_leads_text("phone,Plan,city,plan\n2025550101,gold,NYC,silver\n")
    with pytest.raises(LeadListError, match="columns 1 and 3 are both named 'Phone'"):
        parse_leads_text("Phone,city,phone\n2025550101,NYC,2025550102\n",
                         ColumnMapping(custom=()))
    # two same-named columns that are not read are no one's business
    (lead,) = parse_leads_text("phone,x,x\n2025550101,1,2\n", ColumnMapping(custom=())).leads
    assert lead.custom == {}
    # Excel's trailing unnamed columns: empty ones ignored, one holding data kept by position
    text = "phone,plan,,\n2025550101,gold,,\n2025550102,,,note\n"
    first, second = parse_leads_text(text).leads
    assert (first.custom, second.custom) == ({"plan": "gold"}, {"column 4": "note"})


def test_ragged_rows_as_spreadsheets_write_them() -> None:
    text = (
        "phone,first_name,plan\n"
        "2025550101,Ann,gold,,\n"  # 2 trailing empty cells: fine
        "2025550102,Bob\n"  # 3 trailing cells dropped: empty
        "2025550103\n"  # 4 the phone alone
        "2025550104,Carl,gold,,x, y ,z,w\n"  # 5 extra cells with data: bad
    )
    result = parse_leads_text(text)
    assert [(lead.phone, lead.first_name, lead.custom) for lead in result.leads] == [
        ("+12025550101", "Ann", {"plan": "gold"}),
        ("+12025550102", "Bob", {}),
        ("+12025550103", "", {}),
    ]
    assert [(b.line, b.reason) for b in result.bad_rows] == [
        (5, "expected 3 columns, found 8: extra value(s) 'x', 'y', 'z', ... after the last "
            "column; quote values that hold the delimiter, or name the column in the header"),
    ]


def test_numbers_as_spreadsheets_mangle_them() -> None:
    text = (
        "phone,name\n"
        "1.21255501E+10,sci\n"  # 2 scientific notation: digits lost, reported
        "12125550100.0,point zero\n"  # 3 exact: accepted
        "'+442071234567,apostrophe\n"  # 4 Excel's text marker: dropped
        "202-555-0143 x123,extension\n"  # 5 kept in the field extension
        '"(415) 555-0132 ext. 45",ext\n'  # 6
        "0044 20 7946 0958,double zero\n"  # 7 not read in US: reported with the hint
        "442079460958,no plus\n"  # 8 not guessed: reported with the hint
        "2.0255501E9,sci\n"  # 9
    )
    result = parse_leads_text(text)
    assert {lead.phone: (lead.custom["name"], lead.fields().get("extension"))
            for lead in result.leads} == {
        "+12125550100": ("point zero", None),
        "+442071234567": ("apostrophe", None),
        "+12025550143": ("extension", "123"),
        "+14155550132": ("ext", "45"),
    }
    bad = {b.line: b.reason for b in result.bad_rows}
    assert set(bad) == {2, 7, 8, 9}
    assert bad[2] == ("Excel turned the number into scientific notation ('1.21255501E+10', "
                      "its last digits may be lost): format the column as text and export "
                      "again")
    assert "scientific notation" in bad[9]
    assert bad[7] == ("invalid phone number '0044 20 7946 0958' (region US): if it is the "
                      "international number +442079460958, write it with its + (numbers "
                      "without one are read as national numbers of US)")
    assert "+442079460958" in bad[8]
    gb = parse_leads_text("phone\n0044 20 7946 0958\n020 7946 0959\n", region="GB")
    assert [lead.phone for lead in gb.leads] == ["+442079460958", "+442079460959"]
    assert "+" not in parse_leads_text("phone\n12\n").bad_rows[0].reason  # no hint to give


def test_number_lists_take_spreadsheet_rows_and_drop_extensions() -> None:
    listed = parse_numbers(io.StringIO(
        "Telephone;Name;;\n"  # semicolons, an alias, trailing unnamed columns
        "'202-555-0143 x12;Ann;;\n"
        "12125550100.0\n"
        "1.21255501E+10;Sci\n"
    ))
    assert listed.numbers == ("+12025550143", "+12125550100")
    assert [b.line for b in listed.bad_rows] == [4]
    one = parse_numbers(io.StringIO("2025550143,\n2025550144,,\n2025550145,x\n"))
    assert one.numbers == ("+12025550143", "+12025550144")
    assert one.bad_rows[0].reason == "expected one number per line, found 2 columns"
