"""The dialer's agent pool reads who is free, talking (and for how long) and in wrap-up from
the live ACD, on the ACD's own clock."""

from __future__ import annotations

import asyncio

from callcenter import acd
from callcenter.bus import InProcessBus
from callcenter.calls import AcdService
from callcenter.calls.agent_pool import AcdAgentPool
from callcenter.calls.directory import AgentEntry, Directory, QueueEntry


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Owner:
    async def on_acd_action(self, action: acd.Action) -> None:
        pass


def setup() -> tuple[AcdService, AcdAgentPool, Clock]:
    directory = Directory()
    directory.queues["sales"] = QueueEntry(1, acd.QueueConfig("sales", wrap_up_s=20.0))
    directory.queues["other"] = QueueEntry(2, acd.QueueConfig("other"))
    for i, code in enumerate(("a1", "a2", "a3", "a4")):
        queues = {"other": 0} if code == "a4" else {"sales": 0}
        directory.agents[code] = AgentEntry(
            i + 1, code, code, None, acd.AgentProfile(code, queues=queues)
        )
    clock = Clock()
    svc = AcdService(directory.router(), InProcessBus("t"), clock=clock)
    return svc, AcdAgentPool(svc, directory), clock


async def connect(svc: AcdService, task: str, agent: str) -> None:
    svc.register(task, Owner())
    await svc.handle(acd.TaskArrived(task, "sales"))
    await svc.handle(acd.OfferAccepted(task, agent))


async def test_elapsed_talk_and_wrap_times_come_from_the_router() -> None:
    svc, pool, clock = setup()
    for code in ("a1", "a2", "a3", "a4"):
        await svc.handle(acd.AgentLoggedIn(code))
    assert pool.load("sales").available == 3
    await connect(svc, "c1", "a1")
    clock.t += 30.0
    await connect(svc, "c2", "a2")
    clock.t += 5.0
    await svc.handle(acd.TaskCompleted("c2"))  # a2 talked 5 s, wrap-up begins
    clock.t += 4.0
    load = pool.load("sales")
    assert load.available == 1  # a3 (a4 is in another queue)
    assert load.busy_elapsed == (39.0,)  # a1, connected 39 s ago
    assert load.wrapup_elapsed == (4.0,)  # a2
    assert load.mean_wrap_s == 20.0
    await asyncio.sleep(0.01)  # the owners' spawned actions run before the service stops
    await svc.stop()


async def test_logged_out_and_paused_agents_are_neither_free_nor_busy() -> None:
    svc, pool, _ = setup()
    await svc.handle(acd.AgentLoggedIn("a1"))
    await svc.handle(acd.AgentLoggedIn("a2"))
    await svc.handle(acd.AgentPaused("a2", "lunch"))
    load = pool.load("sales")
    assert (load.available, load.busy_elapsed, load.wrapup_elapsed) == (1, (), ())
    await svc.stop()
