"""Events of a placed leg that arrive before the placing coroutine claims the leg are kept and
handed over on the claim (an auto-answering softphone can answer that fast)."""

from callcenter.voice.sip import events as ev
from callcenter.voice.sip.layer import EARLY_LEGS_KEPT, SipVoiceLayer


class Owner:
    def __init__(self) -> None:
        self.got: list[object] = []

    def deliver(self, event: object) -> None:
        self.got.append(event)


def bare_layer() -> SipVoiceLayer:
    layer = SipVoiceLayer.__new__(SipVoiceLayer)
    layer._owners, layer._monitors, layer._early, layer.calls = {}, {}, {}, {}
    return layer


def test_early_events_reach_the_owner_in_order() -> None:
    layer = bare_layer()
    layer._on_event(ev.LegRinging(7))
    layer._on_event(ev.LegAnswered(7))
    owner = Owner()
    layer._claim(7, owner)
    layer._on_event(ev.LegEnded(7, 200, "OK"))
    assert owner.got == [ev.LegRinging(7), ev.LegAnswered(7), ev.LegEnded(7, 200, "OK")]
    assert layer._early == {}


def test_unclaimed_legs_are_forgotten_beyond_a_bound() -> None:
    layer = bare_layer()
    for leg in range(EARLY_LEGS_KEPT + 10):
        layer._on_event(ev.LegEnded(leg, 404, "Not Found"))
    assert len(layer._early) == EARLY_LEGS_KEPT and 0 not in layer._early


def test_a_placed_leg_does_not_inherit_an_earlier_legs_end_under_the_same_id() -> None:
    """pjsua reuses call ids: a caller refused with 503 ended as leg 7 (nobody claims it), then
    the offer to an agent is placed as leg 7. Its offer must not end with the stale 503."""
    layer = bare_layer()
    layer._on_event(ev.LegEnded(7, 503, "Service Unavailable"))  # the refused caller's
    layer._on_event(ev.LegPlaced(7))  # posted by the stack before any event of the new leg
    layer._on_event(ev.LegRinging(7))
    owner = Owner()
    layer._claim(7, owner)
    assert owner.got == [ev.LegRinging(7)]
