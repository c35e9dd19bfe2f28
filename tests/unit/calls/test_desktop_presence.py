"""The desktop presence tracker: a reload pauses nobody, a desktop closed past the grace pauses
the agent once, opening it again resumes them unless someone chose another pause since,
several tabs count as open while any is, and agents who never opened one are never touched."""

from __future__ import annotations

from callcenter.acd import AgentPaused, AgentReady, AgentState, AgentStateChanged, Tick
from callcenter.calls.desktop_presence import (
    OPEN_AGAIN,
    DesktopClosed,
    DesktopOpened,
    DesktopPresence,
)

REASON = "desktop closed: no agent desktop open for 30 s"
OUT, AVAILABLE, PAUSED = AgentState.LOGGED_OUT, AgentState.AVAILABLE, AgentState.PAUSED


def AgentLoggedIn(agent: str) -> AgentStateChanged:  # noqa: N802 (reads as the event)
    return AgentStateChanged(agent, AVAILABLE, OUT, "logged in")


def AgentLoggedOut(agent: str) -> AgentStateChanged:  # noqa: N802
    return AgentStateChanged(agent, OUT, PAUSED, "logged out")


def signed_in(tracker: DesktopPresence, agent: str = "1001", stream: str = "s1",
              at: float = 0.0) -> None:
    tracker.handle(AgentLoggedIn(agent), at)
    assert tracker.handle(DesktopOpened(agent, stream), at) == []


def test_a_reload_within_the_grace_pauses_nobody() -> None:
    tracker = DesktopPresence(30)
    signed_in(tracker)
    tracker.handle(DesktopClosed("1001", "s1"), 100)
    assert tracker.next_deadline() == 130
    assert tracker.handle(Tick(), 101) == []
    assert tracker.handle(DesktopOpened("1001", "s2"), 102) == []  # the reloaded page
    assert tracker.next_deadline() is None
    assert tracker.handle(Tick(), 500) == []


def test_a_desktop_closed_past_the_grace_pauses_the_agent_once() -> None:
    tracker = DesktopPresence(30)
    assert tracker.closed_reason == REASON
    signed_in(tracker)
    tracker.handle(DesktopClosed("1001", "s1"), 100)
    assert tracker.handle(Tick(), 129.9) == []
    assert tracker.handle(Tick(), 130) == [AgentPaused("1001", REASON)]
    assert tracker.next_deadline() is None
    assert tracker.handle(Tick(), 200) == []


def test_the_desktop_open_again_resumes_the_agent_paused_for_it() -> None:
    tracker = DesktopPresence(30)
    signed_in(tracker)
    tracker.handle(DesktopClosed("1001", "s1"), 100)
    tracker.handle(Tick(), 130)
    assert tracker.handle(DesktopOpened("1001", "s2", paused_for=REASON), 140) == [
        AgentReady("1001", OPEN_AGAIN)]
    # Closed again later: paused again, once.
    tracker.handle(DesktopClosed("1001", "s2"), 150)
    assert tracker.handle(Tick(), 180) == [AgentPaused("1001", REASON)]


def test_a_pause_chosen_meanwhile_is_not_resumed() -> None:
    tracker = DesktopPresence(30)
    signed_in(tracker)
    tracker.handle(DesktopClosed("1001", "s1"), 100)
    tracker.handle(Tick(), 130)
    # A supervisor paused the agent for a meeting meanwhile (or the agent paused, or went
    # ready, through the API): the ACD's reason is no longer the desktop's.
    assert tracker.handle(DesktopOpened("1001", "s2", paused_for="meeting"), 140) == []
    assert tracker.handle(DesktopOpened("1001", "s3", paused_for=None), 141) == []
    tracker.handle(DesktopClosed("1001", "s2"), 142)
    tracker.handle(DesktopClosed("1001", "s3"), 143)
    assert tracker.handle(Tick(), 173) == [AgentPaused("1001", REASON)]
    # The agent went ready and paused themselves in between: their pause stays.
    assert tracker.handle(DesktopOpened("1001", "s4", paused_for="lunch"), 180) == []


def test_ready_by_another_way_while_the_desktop_stays_closed_pauses_again() -> None:
    tracker = DesktopPresence(30)
    signed_in(tracker)
    tracker.handle(DesktopClosed("1001", "s1"), 100)
    tracker.handle(Tick(), 130)  # the softphone had paused the agent already: pause skipped
    back = AgentStateChanged("1001", AVAILABLE, PAUSED, "ready")  # the softphone answers again
    assert tracker.handle(back, 140) == [AgentPaused("1001", REASON)]
    assert tracker.handle(AgentStateChanged("1001", PAUSED, AVAILABLE, f"paused: {REASON}"),
                          140) == []
    assert tracker.handle(DesktopOpened("1001", "s2", paused_for=REASON), 150) == [
        AgentReady("1001", OPEN_AGAIN)]
    # Desktop open: the agent's own changes are theirs.
    assert tracker.handle(AgentStateChanged("1001", AVAILABLE, PAUSED, OPEN_AGAIN), 150) == []
    assert tracker.handle(back, 160) == []


def test_two_tabs_count_as_open_while_either_is() -> None:
    tracker = DesktopPresence(30)
    signed_in(tracker, stream="tab1")
    tracker.handle(DesktopOpened("1001", "tab2"), 10)
    assert tracker.open_streams("1001") == 2
    tracker.handle(DesktopClosed("1001", "tab1"), 20)
    assert tracker.next_deadline() is None
    assert tracker.handle(Tick(), 100) == []
    tracker.handle(DesktopClosed("1001", "tab2"), 100)
    tracker.handle(DesktopClosed("1001", "tab2"), 101)  # told twice: the first counts
    assert tracker.handle(Tick(), 129) == []
    assert tracker.handle(Tick(), 130) == [AgentPaused("1001", REASON)]


def test_agents_who_never_opened_a_desktop_in_this_login_are_left_alone() -> None:
    tracker = DesktopPresence(30)
    tracker.handle(AgentLoggedIn("2002"), 0)  # a softphone-only agent
    assert tracker.next_deadline() is None
    assert tracker.handle(Tick(), 1000) == []

    # A desktop open in an earlier login, closed after the logout: nothing to watch.
    signed_in(tracker)
    tracker.handle(AgentLoggedOut("1001"), 10)
    tracker.handle(DesktopClosed("1001", "s1"), 11)
    tracker.handle(AgentLoggedIn("1001"), 12)  # back by softphone only
    assert tracker.next_deadline() is None
    assert tracker.handle(Tick(), 1000) == []
    assert tracker.open_streams("1001") == 0


def test_a_page_open_before_the_login_counts_and_a_logout_forgets_the_pause() -> None:
    tracker = DesktopPresence(30)
    tracker.handle(DesktopOpened("1001", "s1"), 0)  # the page, then "Log in" on it
    tracker.handle(AgentLoggedIn("1001"), 5)
    tracker.handle(DesktopClosed("1001", "s1"), 10)
    assert tracker.handle(Tick(), 40) == [AgentPaused("1001", REASON)]
    tracker.handle(AgentLoggedOut("1001"), 50)
    tracker.handle(AgentLoggedIn("1001"), 60)
    # A new login: the old pause is not this tracker's to end, and no desktop was open yet.
    assert tracker.handle(DesktopOpened("1001", "s2", paused_for=REASON), 70) == []


def test_the_grace_is_in_the_reason() -> None:
    assert DesktopPresence(2.5).closed_reason == "desktop closed: no agent desktop open for 2.5 s"
