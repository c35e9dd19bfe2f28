"""The ACD on the event loop: one :class:`~callcenter.acd.Router`, a clock and a timer.

Voice layers (SIP, Twilio) and the back office feed it events; it stamps them with the time,
runs the router, and hands each action to whoever must act on it:

- task actions (offer, cancel, connect, overflow, announce) go to the :class:`TaskOwner`
  registered for that task, which is the call (or chat) that created it;
- agent state changes and statistics are recorded and published on the bus.

It remembers when each agent entered its current state (``state_since``, on its own clock)
and counts the events it has handled (``revision``), so a live view (the supervisors'
console) can wait for the next change with :meth:`next_change` instead of polling.

It also sends the router a ``Tick`` when its next deadline falls due, so wrap-ups end and
offers time out with nobody calling.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from callcenter import acd
from callcenter.bus import AgentState, EventBus, QueueStats
from callcenter.calls.changes import Changes

log = logging.getLogger(__name__)

StateSink = Callable[[acd.AgentStateChanged], Awaitable[None]]


class TaskOwner(Protocol):
    """What the ACD asks of whoever owns a task (the caller's call, a chat)."""

    async def on_acd_action(self, action: acd.Action) -> None: ...


class TaskRouting(Protocol):
    """Who routes a task: the ACD (:class:`AcdService`), or a call's own routing (a preview
    call goes to one named agent: ``callcenter.voice.twilio.preview.AgentRouting``)."""

    def register(self, task_id: str, owner: Any) -> None: ...

    def forget(self, task_id: str) -> None: ...

    async def handle(self, event: acd.Event) -> list[acd.Action]: ...


class AcdService:
    def __init__(
        self,
        router: acd.Router,
        bus: EventBus,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_agent_state: StateSink | None = None,
    ) -> None:
        self.router = router
        self.bus = bus
        self.clock = clock
        self.on_agent_state = on_agent_state
        self._owners: dict[str, TaskOwner] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._lock = asyncio.Lock()
        self._pending: set[asyncio.Task[None]] = set()
        #: When (on ``clock``) each agent entered its current state; absent: not since start.
        self.state_since: dict[str, float] = {}
        #: Its revision counts the events the router has handled: a watcher (the console's
        #: stream) waits on it; closed by :meth:`close_watchers`.
        self.changes = Changes()

    def register(self, task_id: str, owner: TaskOwner) -> None:
        self._owners[task_id] = owner

    def forget(self, task_id: str) -> None:
        self._owners.pop(task_id, None)

    async def handle(self, event: acd.Event) -> list[acd.Action]:
        """Apply ``event`` now and carry out the actions; returns them (for tests and logs)."""
        async with self._lock:  # the router is not re-entrant; events keep their order
            now = self.clock()
            actions = self.router.handle(event, now)
        for action in actions:
            if isinstance(action, acd.AgentStateChanged):
                self.state_since[action.agent_id] = now
        await self._dispatch(actions)
        self._arm_timer()
        self.changes.announce()
        return actions

    @property
    def revision(self) -> int:
        """How many events the router has handled."""
        return self.changes.revision

    @property
    def watchers_closed(self) -> bool:
        return self.changes.closed

    async def next_change(self, seen: int, timeout_s: float) -> int:
        """Wait until the router has handled an event after revision ``seen``, at most
        ``timeout_s``, or until :meth:`close_watchers`; return the revision now."""
        return await self.changes.next_change(seen, timeout_s)

    def close_watchers(self) -> None:
        """Wake every :meth:`next_change` for good: the engine is stopping."""
        self.changes.close()

    async def _dispatch(self, actions: list[acd.Action]) -> None:
        for action in actions:
            match action:
                case (
                    acd.OfferTask(task_id=task_id)
                    | acd.CancelOffer(task_id=task_id)
                    | acd.ConnectTask(task_id=task_id)
                    | acd.OverflowTask(task_id=task_id)
                    | acd.AnnouncePosition(task_id=task_id)
                ):
                    owner = self._owners.get(task_id)
                    if owner is None:
                        log.warning("ACD action for task %s that has no owner: %s", task_id, action)
                        continue
                    # Owners may take time (placing a call); never hold up the router for it.
                    self._spawn(owner.on_acd_action(action))
                case acd.AgentStateChanged():
                    self.bus.publish_event(
                        AgentState(
                            agent_id=action.agent_id,
                            state=action.state.value,
                            reason=action.reason,
                            since=datetime.now(UTC),
                        )
                    )
                    if self.on_agent_state is not None:
                        self._spawn(self.on_agent_state(action))
                case acd.QueueStatsUpdated(stats=s):
                    self.bus.publish_event(_queue_stats(s))
                case acd.StateRepaired():
                    log.warning("ACD repaired %s: %s", action.subject, action.reason)
                case acd.AgentStatsUpdated():
                    pass

    def _spawn(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await work
            except Exception:
                log.exception("handling an ACD action failed")

        task = asyncio.create_task(run())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _arm_timer(self) -> None:
        deadline = self.router.next_deadline()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if deadline is None:
            return
        delay = max(0.0, deadline - self.clock())
        self._timer = asyncio.get_running_loop().call_later(
            delay, lambda: self._spawn(self._tick())
        )

    async def _tick(self) -> None:
        await self.handle(acd.Tick())

    async def stop(self) -> None:
        self.close_watchers()
        if self._timer is not None:
            self._timer.cancel()
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)


def _queue_stats(s: acd.QueueStats) -> QueueStats:
    return QueueStats(
        queue=s.queue,
        waiting=s.waiting,
        longest_wait_s=s.longest_wait_s,
        agents_staffed=s.agents_staffed,
        offered=s.offered,
        answered=s.answered,
        abandoned=s.abandoned,
        overflowed=s.overflowed,
        service_level_pct=s.service_level_pct,
        asa_s=s.asa_s,
        aht_s=s.aht_s,
        abandon_pct=s.abandon_pct,
    )
