"""Transfer targets: E.164 numbers (also as tel: URIs) and SIP URIs are read, anything else is
refused with a message that says what was wrong and what to send."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.calls.transfer_targets import (
    InvalidTransferTarget,
    TransferTarget,
    is_e164,
    parse_transfer_target,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+15551234567", TransferTarget("number", "+15551234567")),
        ("  +4930123456 ", TransferTarget("number", "+4930123456")),
        ("tel:+15551234567", TransferTarget("number", "+15551234567")),
        ("tel:+1-555-123-4567", TransferTarget("number", "+15551234567")),
        ("tel:+1.555.123.4567;ext=12", TransferTarget("number", "+15551234567")),
        ("sip:desk@pbx.example.com", TransferTarget("sip", "sip:desk@pbx.example.com")),
        ("sips:desk@pbx.example.com:5061", TransferTarget("sip", "sips:desk@pbx.example.com:5061")),
        ("sip:+15551234567@10.0.0.2;transport=tcp", TransferTarget(
            "sip", "sip:+15551234567@10.0.0.2;transport=tcp")),
        ("sip:bob@[2001:db8::1]?X-Reason=transfer", TransferTarget(
            "sip", "sip:bob@[2001:db8::1]?X-Reason=transfer")),
    ],
)  # fmt: skip
def test_numbers_and_sip_uris_are_read(text: str, expected: TransferTarget) -> None:
    assert parse_transfer_target(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("5551234567", "E.164 form, starting with + and the country code"),
        ("0030123456", "E.164 form"),
        ("+1 555 123 4567", "only digits"),
        ("+0123456", "the first not 0"),
        ("+1555", "unknown country code or wrong length"),
        ("+999123456", "unknown country code"),
        ("tel:5551234567", "E.164 form"),
        ("", "E.164 form"),
        ("sip:pbx.example.com", "sip:user@host"),
        ("sip:desk@", "sip:user@host"),
        ("sip:de sk@pbx.example.com", "sip:user@host"),
        ("sips:desk@pbx.example.com:99999", "sips:user@host"),
        ("sip:desk@-pbx.example.com", "sip:user@host"),
        ("client:alice", "cannot transfer to 'client:alice'"),
        ("https://example.com", "cannot transfer to"),
    ],
)
def test_other_targets_are_refused_saying_what_to_send(text: str, says: str) -> None:
    with pytest.raises(InvalidTransferTarget) as err:
        parse_transfer_target(text)
    message = str(err.value)
    assert says in message
    assert repr(text) in message
    if not text.startswith("sip"):
        assert "+15551234567" in message and "sip:user@host" in message  # what to send


@given(st.from_regex(r"\+[1-9][0-9]{1,14}", fullmatch=True))
def test_what_is_e164_is_read_as_itself(number: str) -> None:
    if is_e164(number):
        assert parse_transfer_target(number) == TransferTarget("number", number)
        assert parse_transfer_target("tel:" + number) == TransferTarget("number", number)
    else:
        with pytest.raises(InvalidTransferTarget):
            parse_transfer_target(number)
