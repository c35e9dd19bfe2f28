"""The ACD on the event loop: owners get their task's actions, agent states reach the bus,
and the router's timers fire with nobody calling; a watcher (the console) waits for the
next event."""

from __future__ import annotations

import asyncio

from callcenter import acd
from callcenter.bus import InProcessBus, Message
from callcenter.calls import AcdService


class Owner:
    def __init__(self) -> None:
        self.actions: list[acd.Action] = []

    async def on_acd_action(self, action: acd.Action) -> None:
        self.actions.append(action)


def service(wrap_up_s: float = 0.0) -> tuple[AcdService, InProcessBus]:
    bus = InProcessBus("t")
    router = acd.Router(
        [acd.QueueConfig("support", wrap_up_s=wrap_up_s)],
        [acd.AgentProfile("1001", queues={"support": 0})],
    )
    return AcdService(router, bus), bus


async def test_task_actions_go_to_their_owner_and_states_to_the_bus() -> None:
    svc, bus = service()
    seen: list[Message] = []

    async def watch() -> None:
        async for m in bus.subscribe("cc/t/agents/+/state"):
            seen.append(m)

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0)
    owner = Owner()
    svc.register("c1", owner)
    await svc.handle(acd.AgentLoggedIn("1001"))
    await svc.handle(acd.TaskArrived("c1", "support"))
    await asyncio.sleep(0.01)
    assert [type(a).__name__ for a in owner.actions] == ["OfferTask"]
    await svc.handle(acd.OfferAccepted("c1", "1001"))
    await asyncio.sleep(0.01)
    assert isinstance(owner.actions[-1], acd.ConnectTask)
    states = [m.envelope().data["state"] for m in seen]
    assert states[0] == "available" and "busy" in states
    watcher.cancel()
    await svc.stop()


async def test_wrap_up_ends_by_the_timer_with_no_event() -> None:
    svc, _ = service(wrap_up_s=0.2)
    svc.register("c1", Owner())
    await svc.handle(acd.AgentLoggedIn("1001"))
    await svc.handle(acd.TaskArrived("c1", "support"))
    await svc.handle(acd.OfferAccepted("c1", "1001"))
    await svc.handle(acd.TaskCompleted("c1"))
    assert svc.router.agent_state("1001") == "wrap_up"
    await asyncio.sleep(0.5)  # nobody sends an event: the service's timer ticks the router
    assert svc.router.agent_state("1001") == "available"
    await svc.stop()


async def test_an_action_for_a_task_nobody_owns_is_logged_not_raised(caplog) -> None:  # type: ignore[no-untyped-def]
    svc, _ = service()
    await svc.handle(acd.AgentLoggedIn("1001"))
    await svc.handle(acd.TaskArrived("orphan", "support"))
    assert any("no owner" in r.getMessage() for r in caplog.records)
    await svc.stop()


async def test_a_watcher_wakes_on_the_next_event_and_learns_when_states_began() -> None:
    svc, _ = service()
    seen = svc.revision
    assert await svc.next_change(seen, 0.01) == seen  # nothing happened: the time-out
    waiting = asyncio.create_task(svc.next_change(seen, 5.0))
    await asyncio.sleep(0)
    assert not waiting.done()
    await svc.handle(acd.AgentLoggedIn("1001"))
    assert await asyncio.wait_for(waiting, 1.0) == seen + 1
    assert svc.state_since["1001"] <= svc.clock()
    await svc.handle(acd.Tick())  # no state change: the time in state goes on
    since = svc.state_since["1001"]
    await svc.handle(acd.Tick())
    assert svc.state_since["1001"] == since


async def test_closing_the_watchers_wakes_them_for_good() -> None:
    svc, _ = service()
    waiting = asyncio.create_task(svc.next_change(svc.revision, 5.0))
    await asyncio.sleep(0)
    svc.close_watchers()
    assert await asyncio.wait_for(waiting, 1.0) == 0
    assert await asyncio.wait_for(svc.next_change(0, 5.0), 1.0) == 0  # returns at once
    assert svc.watchers_closed
