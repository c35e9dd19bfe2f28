"""What the SIP layer does with junk from peers: pjsua's log about it (one line each, counted,
no flood), text that is not UTF-8, escaped URIs, and sources that never acknowledge."""

import logging

from callcenter.voice.sip.admission import UNACKNOWLEDGED_PER_SOURCE, Admission
from callcenter.voice.sip.pjlog import PjLogGate
from callcenter.voice.sip.uris import request_uri_user, uri_user, wire_text

DUMP = ("Error processing packet from 10.0.0.9:5060: Missing required header(s) "
        "(PJSIP_EMISSINGHDR) Call-ID [code 171050]:\nINVITE sip:1@x SIP/2.0\r\n" + "y" * 60_000
        + "\n-- end of packet.")


def test_a_packet_dump_is_cut_to_its_first_line_and_counted_as_malformed() -> None:
    gate = PjLogGate()
    [(level, line)] = gate.take(1, DUMP, 0.0)
    assert level == logging.WARNING and "\n" not in line and len(line) < 200
    assert "malformed SIP from a peer" in line and "Call-ID" in line
    assert gate.malformed == 1
    # An SDP pjsip cannot read: two lines about one message, counted once.
    gate.take(1, "Error parsing/validating SDP body: Invalid SDP media line", 0.0)
    gate.take(1, "Bad SDP in incoming INVITE: Invalid SDP media line", 0.0)
    assert gate.malformed == 2


def test_a_flood_is_held_back_and_summed_up_once_per_window() -> None:
    gate = PjLogGate(burst=3, window_s=10.0)
    lines = [ln for i in range(1000) for ln in gate.take(1, DUMP, i * 0.001)]
    assert len(lines) == 3
    [(level, summary), _] = gate.take(1, DUMP, 10.5)
    assert level == logging.WARNING and "997 more log lines held back" in summary
    assert gate.malformed == 1001
    # Junk has its own budget: a warning about something else still gets through.
    assert gate.take(2, "Unable to send INVITE", 10.6) == [
        (logging.WARNING, "pjsua: Unable to send INVITE")]
    # Our own errors stay errors; debug detail is never held back.
    assert gate.take(1, "pjsua_call_answer2() error", 30.0) == [
        (logging.ERROR, "pjsua: pjsua_call_answer2() error")]
    assert len([ln for _ in range(50) for ln in gate.take(4, "detail", 31.0)]) == 50


def test_text_that_is_not_utf8_or_holds_nul_bytes_can_be_stored() -> None:
    raw = b'"\xff\xfe\xc3(" <sip:x\x00y@h>'.decode("utf-8", "surrogateescape")
    clean = wire_text(raw)
    clean.encode("utf-8")  # no lone surrogates left
    assert "\x00" not in clean and "sip:x?y@h" in clean


def test_escaped_uri_users_are_unescaped_as_rfc3261_compares_them() -> None:
    assert request_uri_user("INVITE sip:%32%30%30@host SIP/2.0\r\n") == "200"
    assert uri_user("<sip:%00%ff%zz@host>") == "?\ufffd%zz"
    assert uri_user("<sip:+4930123@host>") == "+4930123"  # a plus stays a plus


def test_a_source_that_never_acknowledges_is_refused_past_its_bound() -> None:
    a = Admission(numbers=frozenset({"200"}), rate=1e9, burst=1e9)
    for _ in range(UNACKNOWLEDGED_PER_SOURCE):
        assert a.check("192.0.2.1:5060", "200", 0.0)[0] == 0
        a.answering("192.0.2.1")
    code, reason = a.check("192.0.2.1:5060", "200", 0.0)
    assert code == 503 and "no ACK" in reason
    assert a.check("192.0.2.2:5060", "200", 0.0)[0] == 0  # another source is not held up
    a.settled("192.0.2.1")  # one ACK (or one call over) makes room for one
    assert a.check("192.0.2.1:5060", "200", 0.0)[0] == 0
    # Behind trusted_sources (an SBC carries everyone's calls) there is no such bound.
    sbc = Admission(trusted=("10.0.0.0/8",), numbers=frozenset({"200"}), rate=1e9, burst=1e9)
    for _ in range(UNACKNOWLEDGED_PER_SOURCE + 5):
        sbc.answering("10.0.0.1")
    assert sbc.check("10.0.0.1:5060", "200", 0.0)[0] == 0
