"""The dialer's view of a queue's agents, read from the live ACD (``dialer.ports.AgentPool``).

For each agent of the queue the router tells its state and, from its own clock, how long the
agent has been talking or in wrap-up; the predictive pacer forecasts who frees up next from
those elapsed times. Agents on an offer count as busy from zero seconds (the call is theirs).
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
        router, now = self.acd.router, self.acd.clock()
        available = 0
        busy: list[float] = []
        wrap: list[float] = []
        wrap_times: list[float] = []
        for code, entry in self.directory.agents.items():
            if queue not in entry.profile.queues:
                continue
            stats = router.agent_stats(code, now)
            match stats.state:
                case "available":
                    available += 1
                case "busy" | "offered":
                    busy.append(stats.busy_for_s or 0.0)
                case "wrap_up":
                    wrap.append(stats.wrap_for_s or 0.0)
            if stats.state != "logged_out" and stats.wrap_up_s is not None:
                wrap_times.append(stats.wrap_up_s)
        mean_wrap = sum(wrap_times) / len(wrap_times) if wrap_times else None
        return AgentLoad(available=available, busy_elapsed=tuple(busy),
                         wrapup_elapsed=tuple(wrap), mean_wrap_s=mean_wrap)
