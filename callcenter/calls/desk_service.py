"""The agents' desks on the event loop: :class:`~callcenter.calls.desks.Desks` fed from the bus.

It subscribes to the tenant's call updates (``cc/<tenant>/calls/+``) and agent states
(``cc/<tenant>/agents/+/state``, retained: a desk knows every agent's state at once) through
the engine's :class:`~callcenter.bus.EventBus`, so on several nodes sharing an MQTT broker each
node's desks see the calls of all of them. After each change it bumps :attr:`changes`, on
which the agent desktop's streams wait; it owns its subscription tasks and cancels them on
:meth:`stop`.
"""

from __future__ import annotations

import asyncio
import logging

from callcenter.bus import EventBus
from callcenter.bus.topics import ROOT
from callcenter.calls.changes import Changes
from callcenter.calls.desks import Desks

log = logging.getLogger(__name__)


class DeskService:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.desks = Desks()
        self.changes = Changes()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def topic_filters(self) -> tuple[str, str]:
        base = f"{ROOT}/{self.bus.tenant}"
        return f"{base}/calls/+", f"{base}/agents/+/state"

    async def start(self) -> None:
        for topic_filter in self.topic_filters:
            self._tasks.append(
                asyncio.create_task(self._follow(topic_filter), name=f"desks {topic_filter}")
            )
        # The in-process bus subscribes when the task first runs: before any call exists.
        await asyncio.sleep(0)

    async def _follow(self, topic_filter: str) -> None:
        try:
            async for message in self.bus.subscribe(topic_filter):
                if self.desks.apply(message) is not None:
                    self.changes.announce()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the agents' desks stopped following %s", topic_filter)

    def close_watchers(self) -> None:
        """Open desk streams end (the engine is stopping)."""
        self.changes.close()

    async def stop(self) -> None:
        self.close_watchers()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
