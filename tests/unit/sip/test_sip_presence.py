from callcenter.voice.sip.presence import PresenceTracker, target_of


def test_lost_after_n_misses_and_back_on_first_answer() -> None:
    t = PresenceTracker(failures=2)
    assert t.record("a", True) is None
    assert t.record("a", False) is None
    assert t.record("a", False) == "lost"
    assert t.record("a", False) is None  # reported once
    assert t.is_lost("a")
    assert t.record("a", True) == "back"
    assert t.record("a", True) is None
    assert t.record("a", False) is None  # the count starts again


def test_targets_from_uris() -> None:
    assert target_of("sip:1001@10.0.0.5:5070") == ("10.0.0.5", 5070)
    assert target_of("sip:desk.example.com") == ("desk.example.com", 5060)
    assert target_of("sip:ann@[::1]:5062;transport=udp") == ("::1", 5062)
    assert target_of("tel:+4930123") is None
