"""The dialer's view of a queue's agents, read from the live ACD (``dialer.ports.AgentPool``).

Available agents are counted from the router's agent states; talk and wrap-up elapsed times
are not tracked per agent by the router yet, so the predictive pacer sees only who is free
(it then behaves like the progressive pacer plus its in-flight forecast).
"""

from __future__ import annotations

from callcenter.calls.acd_service import AcdService
from callcenter.calls.directory import Directory
from dialer.ports import AgentLoad


class AcdAgentPool:
    def __init__(self, acd: AcdService, directory: Directory) -> None:
        self.acd = acd
        self.directory = directory

    def load(self, queue: str) -> AgentLoad:
        router = self.acd.router
        states = [
            router.agent_state(code)
            for code, entry in self.directory.agents.items()
            if queue in entry.profile.queues
        ]
        return AgentLoad(available=states.count("available"))
