"""A live view kept from the bus on the event loop: the base of the agents' desks and the
campaign board.

A :class:`BusFollower` subscribes to its :attr:`~BusFollower.topic_filters` through the
engine's :class:`~callcenter.bus.EventBus` (on several nodes sharing an MQTT broker it sees
every node's events; retained topics give it the current state at once), hands each message to
:meth:`~BusFollower.apply` (a pure view's), and after each change bumps :attr:`changes`, on
which Server-Sent Events streams wait. It owns its subscription tasks and cancels them on
:meth:`~BusFollower.stop`.
"""

from __future__ import annotations

import abc
import asyncio
import logging

from callcenter.bus import EventBus, Message
from callcenter.bus.topics import ROOT
from callcenter.calls.changes import Changes

log = logging.getLogger(__name__)


class BusFollower(abc.ABC):
    #: Topic filters under ``cc/<tenant>/`` (MQTT wildcards allowed).
    topics: tuple[str, ...] = ()

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.changes = Changes()
        self._tasks: list[asyncio.Task[None]] = []

    @abc.abstractmethod
    def apply(self, message: Message) -> bool:
        """Take one message; True when the view changed."""

    @property
    def topic_filters(self) -> tuple[str, ...]:
        return tuple(f"{ROOT}/{self.bus.tenant}/{t}" for t in self.topics)

    async def start(self) -> None:
        for topic_filter in self.topic_filters:
            self._tasks.append(asyncio.create_task(
                self._follow(topic_filter), name=f"{type(self).__name__} {topic_filter}"))
        # The in-process bus subscribes when the task first runs: before any event exists.
        await asyncio.sleep(0)

    async def _follow(self, topic_filter: str) -> None:
        try:
            async for message in self.bus.subscribe(topic_filter):
                if self.apply(message):
                    self.changes.announce()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s stopped following %s", type(self).__name__, topic_filter)

    def close_watchers(self) -> None:
        """Open streams on this view end (the engine is stopping)."""
        self.changes.close()

    async def stop(self) -> None:
        self.close_watchers()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
