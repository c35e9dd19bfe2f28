"""The desktop presence adapter on a real AcdService: its own timer pauses the agent when the
grace runs out, a desktop opened again resumes them, and what the ACD says at that moment
wins: an agent paused already is not paused again, a pause chosen before the resume lands
stays, an agent the ACD does not know is a warning, never a broken stream."""

from __future__ import annotations

import asyncio

import pytest

from callcenter import acd
from callcenter.bus import InProcessBus
from callcenter.calls import AcdService
from callcenter.calls.desktop_presence import OPEN_AGAIN
from callcenter.calls.desktop_presence_service import DesktopPresenceService

GRACE_S = 0.05
REASON = "desktop closed: no agent desktop open for 0.05 s"


async def started() -> tuple[AcdService, DesktopPresenceService]:
    router = acd.Router([acd.QueueConfig("support")],
                        [acd.AgentProfile("1001", queues={"support": 0})])
    service = AcdService(router, InProcessBus("t"))
    presence = DesktopPresenceService(service, GRACE_S)
    for change in await service.handle(acd.AgentLoggedIn("1001")):
        if isinstance(change, acd.AgentStateChanged):  # as the engine passes them on
            await presence.agent_state_changed(change)
    return service, presence


async def test_the_timer_pauses_and_an_open_desktop_resumes() -> None:
    service, presence = await started()
    stream = await presence.opened("1001")
    presence.closed("1001", stream)
    await asyncio.sleep(GRACE_S * 4)
    assert service.router.pause_reason("1001") == REASON
    await presence.opened("1001")
    assert service.router.agent_state("1001") == "available"
    assert service.router.pause_reason("1001") is None
    await presence.stop()
    await service.stop()


async def test_the_acd_at_that_moment_wins(caplog: pytest.LogCaptureFixture) -> None:
    service, presence = await started()
    await service.handle(acd.AgentPaused("1001", "lunch"))
    stream = await presence.opened("1001")
    presence.closed("1001", stream)
    await asyncio.sleep(GRACE_S * 4)
    assert service.router.pause_reason("1001") == "lunch"  # paused already: left alone

    # The tracker asked for a resume, and a supervisor's pause came first: it stays.
    await service.handle(acd.AgentPaused("1001", "meeting"))
    await presence._carry_out([acd.AgentReady("1001", OPEN_AGAIN)])
    assert service.router.pause_reason("1001") == "meeting"

    await presence._carry_out([acd.AgentPaused("9999", REASON)])  # unknown to the ACD
    assert "desktop presence of agent 9999" in caplog.text
    await presence.stop()
    await service.stop()
