"""The signed handover header and the leader's result header (callcenter/cluster/handover.py)."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter import ivr
from callcenter.cluster.handover import (
    MAX_HEADER,
    MOVED,
    Handover,
    HandoverError,
    parse_result,
    result_header,
    sign,
    verify,
)
from callcenter.ivr.events import QueueOutcome
from callcenter.voice.sip.handover import MAX_TRIES, RETRY_MAX_S, handover_uri, retry_delay
from callcenter.voice.sip.uris import header_value

KEY = b"k" * 32
QUEUE = ivr.Enqueue(
    "support", priority=3, skills=("fr", "billing"), announce_every_s=45.0,
    announcements=(ivr.Say("Merci", "fr-FR"), ivr.Play("/srv/prompts/wait.wav")),
    hold_music="/srv/music.wav", max_wait_s=300.0, callback_key="9",
)


def handover(**kw: object) -> Handover:
    fields: dict[str, object] = dict(
        call_id="c1", origin="b", enqueue=QUEUE, enqueued_at=1000.0, issued_at=1010.0,
        caller="+15550100", screen_pop={"account": "42"},
    )
    fields.update(kw)
    return Handover(**fields)  # type: ignore[arg-type]


def test_what_the_origin_signs_the_leader_reads_back_whole() -> None:
    h = handover()
    assert verify(sign(h, KEY), KEY, now=1011.0) == h


@given(st.text(max_size=40), st.text(max_size=40),
       st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=5),
       st.floats(0, 2e9), st.integers(-10, 10))
def test_any_caller_and_screen_pop_survive_the_trip(
    caller: str, queue: str, pop: dict[str, str], since: float, priority: int
) -> None:
    h = handover(caller=caller, screen_pop=pop, enqueued_at=since,
                 enqueue=ivr.Enqueue(queue, priority=priority))
    assert verify(sign(h, KEY), KEY, now=1010.0) == h


def test_another_secret_or_a_changed_payload_is_refused() -> None:
    value = sign(handover(), KEY)
    with pytest.raises(HandoverError, match="cluster.secret differ"):
        verify(value, b"other", now=1010.0)
    payload, mac = value.split(".")
    doc = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    doc["enqueued_at"] = 0.0  # a better place in line
    forged = base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")
    with pytest.raises(HandoverError, match="signature"):
        verify(f"{forged}.{mac}", KEY, now=1010.0)
    for junk in ("", "nodot", ".abc", "a" * (MAX_HEADER + 1)):
        with pytest.raises(HandoverError):
            verify(junk, KEY, now=1010.0)


def test_a_replayed_or_far_future_header_is_refused() -> None:
    value = sign(handover(issued_at=1000.0), KEY)
    assert verify(value, KEY, now=1029.0).call_id == "c1"
    with pytest.raises(HandoverError, match="replay"):
        verify(value, KEY, now=1031.0)
    with pytest.raises(HandoverError, match="NTP"):
        verify(value, KEY, now=960.0)


def test_a_signed_payload_that_is_not_a_handover_is_refused() -> None:
    payload = base64.urlsafe_b64encode(b'{"call_id": "x"}').decode().rstrip("=")
    import hashlib
    import hmac

    mac = hmac.new(KEY, payload.encode(), hashlib.sha256).hexdigest()
    with pytest.raises(HandoverError, match="unreadable"):
        verify(f"{payload}.{mac}", KEY, now=0.0)


def test_an_oversized_handover_is_refused_when_signed_saying_what_to_shorten() -> None:
    with pytest.raises(HandoverError, match="screen-pop"):
        sign(handover(screen_pop={"notes": "x" * MAX_HEADER}), KEY)


def test_result_headers_round_trip_and_anything_else_means_queue_again() -> None:
    served = ivr.QueueResult(QueueOutcome.SERVED, "1001")
    assert result_header(served) == "served;agent=1001"
    assert parse_result("served;agent=1001") == (QueueOutcome.SERVED, "1001", None)
    assert parse_result(result_header(served, 1765012345.6789)) == (
        QueueOutcome.SERVED, "1001", 1765012345.679)
    assert parse_result(result_header(ivr.QueueResult(QueueOutcome.OVERFLOW))) == (
        QueueOutcome.OVERFLOW, None, None)
    assert result_header(None) == MOVED
    assert parse_result(MOVED) == (None, None, None)
    assert parse_result("") == (None, None, None)
    assert parse_result("garbage;agent=x") == (None, None, None)
    # A connected time that cannot be read is left out; the outcome still counts.
    assert parse_result("served;agent=7;connected=soon") == (QueueOutcome.SERVED, "7", None)
    assert parse_result("served;connected=nan").connected_at is None


def test_handover_uri_puts_the_number_in_the_leaders_uri() -> None:
    assert handover_uri("sip:10.0.0.5:5070", "cc-handover") == "sip:cc-handover@10.0.0.5:5070"
    assert handover_uri("sips:node-a.example:5061;transport=tls", "h") == (
        "sips:h@node-a.example:5061;transport=tls")
    assert handover_uri("sip:acd@10.0.0.5", "h") == "sip:acd@10.0.0.5"


def test_header_value_reads_a_header_case_blind_and_unfolded() -> None:
    msg = ("INVITE sip:x@h SIP/2.0\r\nVia: a\r\nx-cc-handover: abc\r\n def\r\n"
           "Content-Length: 0\r\n\r\nX-CC-Handover: body")
    assert header_value(msg, "X-CC-Handover") == "abc def"
    assert header_value(msg, "X-CC-Result") == ""


def test_refused_handovers_back_off_doubling_with_jitter_and_a_ceiling() -> None:
    middle = [retry_delay(n, jitter=0.5) for n in range(1, MAX_TRIES)]
    assert middle == [0.5, 1.0, 2.0, 4.0, 5.0]  # doubling, then the ceiling
    assert sum(middle) < 15  # the caller gives up on the leader within seconds, not minutes
    assert retry_delay(1, jitter=0.0) == 0.375 and retry_delay(1, jitter=0.999) < 0.625


@given(st.integers(1, 50), st.floats(0, 0.999))
def test_a_back_off_stays_within_its_jitter_band(failures: int, jitter: float) -> None:
    delay = retry_delay(failures, jitter)
    assert 0.375 <= delay <= RETRY_MAX_S * 1.25
