from callcenter.voice.sip.admission import Admission
from callcenter.voice.sip.uris import request_uri_user, uri_user


def test_unknown_number_is_404_and_known_is_admitted() -> None:
    a = Admission(numbers=frozenset({"100"}))
    assert a.check("127.0.0.1:5070", "100", 0.0) == (0, "admitted")
    code, reason = a.check("127.0.0.1:5070", "999", 0.0)
    assert code == 404 and "999" in reason


def test_untrusted_source_is_403_before_the_number_is_looked_at() -> None:
    a = Admission(trusted=("10.0.0.0/8",), numbers=frozenset({"100"}))
    assert a.check("10.1.2.3:5060", "100", 0.0)[0] == 0
    # Same answer for a known and an unknown number: nothing to learn from outside.
    assert a.check("192.0.2.7:5060", "100", 0.0)[0] == 403
    assert a.check("192.0.2.7:5060", "999", 0.0)[0] == 403


def test_rate_limit_per_source_refills_over_time() -> None:
    a = Admission(numbers=frozenset({"100"}), rate=2.0, burst=3.0)
    codes = [a.check("127.0.0.9:1", "100", 0.0)[0] for _ in range(5)]
    assert codes == [0, 0, 0, 503, 503]
    assert a.check("127.0.0.8:1", "100", 0.0)[0] == 0  # another source has its own bucket
    assert a.check("127.0.0.9:1", "100", 1.0)[0] == 0  # two tokens back after a second


def test_uri_users() -> None:
    assert uri_user('"Ann" <sip:+4930123@host>;tag=x') == "+4930123"
    assert uri_user("<sip:100@127.0.0.1:5060>") == "100"
    assert request_uri_user("INVITE sip:200@127.0.0.1:5060 SIP/2.0\r\nVia: x\r\n") == "200"
    assert request_uri_user("garbage") == ""


def test_a_vouched_handover_passes_overload_and_the_rate_but_not_the_trusted_sources() -> None:
    # The caller was answered and admitted at the node it phoned: refusing it at the ACD's
    # leader would leave it in a queue with no agents.
    a = Admission(trusted=("10.0.0.0/8",), numbers=frozenset({"cc-handover"}), rate=1.0,
                  burst=1.0, vouch=lambda token: token == "signed")
    a.overloaded = "the engine runs 300 ms late"
    assert a.check("10.0.0.5:5070", "cc-handover", 0.0, "signed") == (0, "admitted: handed over")
    assert a.check("10.0.0.5:5070", "cc-handover", 0.0, "forged")[0] == 503  # shed as new
    a.overloaded = ""
    codes = [a.check("10.0.0.5:5070", "cc-handover", 0.0, "signed")[0] for _ in range(5)]
    assert codes == [0] * 5  # no rate per source for handovers
    assert a.check("10.0.0.5:5070", "cc-handover", 0.0, "forged")[0] == 0  # its one token
    assert a.check("10.0.0.5:5070", "cc-handover", 0.0, "forged")[0] == 503
    assert a.check("192.0.2.7:5070", "cc-handover", 0.0, "signed")[0] == 403
    assert a.check("10.0.0.5:5070", "999", 0.0, "signed")[0] == 404
    assert a.with_numbers({"1"}).vouch is a.vouch
