"""Agent scripts: the lead's fields in place, header-style name matching, malformed scripts
refused with the line to fix."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialer.scripts import MAX_SCRIPT_CHARS, check_script, fields_used, render_script

LEAD = {"first_name": "Ann", "last_name": "Lee", "plan_name": "gold", "number": "+12125550101"}


def test_fields_are_put_in_place() -> None:
    text = "Hi {{first_name}} {{ last_name }}! Your {{Plan Name}} plan, {{number}}.{{nope}}"
    assert render_script(text, LEAD) == "Hi Ann Lee! Your gold plan, +12125550101."
    assert fields_used(text) == ["first_name", "last_name", "Plan Name", "number", "nope"]
    assert render_script("no fields", LEAD) == "no fields"


def test_a_lead_value_is_put_in_as_text_never_read_again() -> None:
    assert render_script("{{a}}", {"a": "{{b}}", "b": "x"}) == "{{b}}"


@pytest.mark.parametrize(("text", "line"), [
    ("Hello {{first_name}", 1), ("ok\nHello first_name}}", 2), ("{{}}", 1),
])
def test_a_malformed_script_names_its_line(text: str, line: int) -> None:
    with pytest.raises(ValueError, match=f"script line {line}: .*write a field as"):
        check_script(text)


def test_a_script_has_a_size_limit() -> None:
    assert check_script("x" * MAX_SCRIPT_CHARS)
    with pytest.raises(ValueError, match="at most"):
        check_script("x" * (MAX_SCRIPT_CHARS + 1))


@given(st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=200),
       st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), st.text(max_size=20)))
def test_text_without_fields_is_kept_as_it_is(text: str, fields: dict[str, str]) -> None:
    assert render_script(check_script(text), fields) == text
