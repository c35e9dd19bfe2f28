"""Desktop presence on the event loop: :class:`~callcenter.calls.desktop_presence.
DesktopPresence` fed by the agent desktop's streams and the ACD's agent states, acting through
the ACD.

The web layer calls :meth:`DesktopPresenceService.opened` when an agent's desk stream starts
and :meth:`~DesktopPresenceService.closed` when it ends (the client went); the engine passes
every agent state change to :meth:`~DesktopPresenceService.agent_state_changed` (logins and
logouts). A timer owned by this object ticks the tracker when a grace runs out. Pauses and
resumes go through :class:`~callcenter.calls.acd_service.AcdService` like any other, so their
reason travels on the bus and into the agents' state history.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from callcenter import acd
from callcenter.calls import desktop_presence as dp

if TYPE_CHECKING:
    from callcenter.calls.acd_service import AcdService

log = logging.getLogger(__name__)


class DesktopPresenceService:
    def __init__(self, acd_service: AcdService, grace_s: float, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.acd = acd_service
        self.clock = clock
        self.tracker = dp.DesktopPresence(grace_s)
        self._ids = itertools.count(1)
        self._timer: asyncio.TimerHandle | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._stopped = False

    async def opened(self, agent_id: str) -> str:
        """A desk stream of ``agent_id`` started; returns its id for :meth:`closed`."""
        stream_id = str(next(self._ids))
        paused_for = self._pause_reason(agent_id)
        await self._carry_out(
            self.tracker.handle(dp.DesktopOpened(agent_id, stream_id, paused_for), self.clock()))
        return stream_id

    def closed(self, agent_id: str, stream_id: str) -> None:
        """The stream ended (synchronous: it runs in the stream's ``finally``)."""
        self.tracker.handle(dp.DesktopClosed(agent_id, stream_id), self.clock())
        self._arm()

    async def agent_state_changed(self, change: acd.AgentStateChanged) -> None:
        """Every agent state change the ACD tells (logins, logouts, an agent ready again)."""
        await self._carry_out(self.tracker.handle(change, self.clock()))

    async def stop(self) -> None:
        self._stopped = True  # the desktops' streams end after this: no grace starts
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)

    def _pause_reason(self, agent_id: str) -> str | None:
        try:
            return self.acd.router.pause_reason(agent_id)
        except acd.UnknownAgent:
            return None

    async def _carry_out(self, actions: list[dp.Action]) -> None:
        for action in actions:
            try:
                await self._apply(action)
            except acd.ACDError as exc:  # the agent changed meanwhile: the ACD says how
                log.warning("desktop presence of agent %s: %s", action.agent_id, exc)
        self._arm()

    async def _apply(self, action: dp.Action) -> None:
        agent_id, paused_for = action.agent_id, self.acd.router.pause_reason(action.agent_id)
        if isinstance(action, acd.AgentPaused):
            # Logged out meanwhile, or already paused by someone's choice: leave it.
            if paused_for is not None or self.acd.router.agent_state(agent_id) == "logged_out":
                return
            log.warning("agent %s: %s", agent_id, action.reason)
        elif paused_for != self.tracker.closed_reason:  # paused otherwise since it asked
            return
        else:
            log.info("agent %s: %s", agent_id, action.reason)
        await self.acd.handle(action)

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self.tracker.next_deadline()
        if deadline is None or self._stopped:
            return
        delay = max(0.0, deadline - self.clock())
        self._timer = asyncio.get_running_loop().call_later(delay, self._spawn_tick)

    def _spawn_tick(self) -> None:
        self._timer = None
        task = asyncio.create_task(self._tick(), name="desktop-presence")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _tick(self) -> None:
        try:
            await self._carry_out(self.tracker.handle(acd.Tick(), self.clock()))
        except Exception:
            log.exception("desktop presence: acting on the ACD failed")
