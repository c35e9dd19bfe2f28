"""Which agents a new ACD leader logs in again (callcenter/calls/agent_restore.py)."""

from __future__ import annotations

from callcenter import acd
from callcenter.calls.agent_restore import RESTORED, LastState, to_restore
from callcenter.calls.directory import AgentEntry, Directory


def directory() -> Directory:
    def entry(i: int, code: str, uri: str | None) -> AgentEntry:
        return AgentEntry(i, code, code, uri, acd.AgentProfile(code, queues=("support",)))

    return Directory(agents={
        "1": entry(1, "1", "sip:1@h"), "2": entry(2, "2", "sip:2@h"),
        "3": entry(3, "3", None), "4": entry(4, "4", "sip:4@h"), "5": entry(5, "5", "sip:5@h"),
    })


def test_logged_in_agents_come_back_as_they_were_the_rest_stay_out() -> None:
    states = [
        LastState("1", "busy", "call"),  # talking when the leader went: ready again
        LastState("2", "paused", "paused: lunch"),  # paused, with the agent's own reason
        LastState("3", "available", ""),  # a nailed-up line: it must dial again
        LastState("4", "logged_out", "logout"),
        LastState("5", "available", ""),  # logged in here already: left alone
        LastState("9", "available", ""),  # no longer in the directory
    ]
    now = {"5": "available"}
    assert to_restore(states, directory(), now) == [
        acd.AgentLoggedIn("1"), acd.AgentReady("1", reason=RESTORED),
        acd.AgentLoggedIn("2"), acd.AgentPaused("2", "lunch"),
    ]
