"""The in-process event bus: the embedded default for a single engine.

Subscribers get their own bounded queue; a subscriber that falls behind loses its oldest
messages (counted in ``stats.dropped``) instead of slowing the publisher. Retained topics keep
their last message and hand it to each new subscriber first, as a broker would.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from callcenter.bus.base import EventBus
from callcenter.bus.events import Message
from callcenter.bus.topics import matches, validate_filter

log = logging.getLogger(__name__)


class InProcessBus(EventBus):
    kind = "inprocess"

    def __init__(self, tenant: str, buffer_size: int = 10_000) -> None:
        super().__init__(tenant)
        self.buffer_size = buffer_size
        self._subscribers: list[tuple[str, asyncio.Queue[Message | None]]] = []
        self._retained: dict[str, Message] = {}
        self.stats.connected = True

    async def stop(self) -> None:
        for _, queue in self._subscribers:
            self._offer(queue, None)
        self._subscribers.clear()

    def publish(self, message: Message) -> None:
        self.stats.published += 1
        if message.retain:
            self._retained[message.topic] = message
        for topic_filter, queue in self._subscribers:
            if matches(topic_filter, message.topic):
                self._offer(queue, message)
                self.stats.delivered += 1

    def _offer(self, queue: asyncio.Queue[Message | None], item: Message | None) -> None:
        if queue.full():
            queue.get_nowait()
            self.stats.dropped += 1
            log.warning(
                "a slow bus subscriber lost its oldest message (%d lost so far)", self.stats.dropped
            )
        queue.put_nowait(item)

    async def subscribe(self, topic_filter: str) -> AsyncIterator[Message]:
        validate_filter(topic_filter)
        queue: asyncio.Queue[Message | None] = asyncio.Queue(self.buffer_size)
        for name, retained in self._retained.items():
            if matches(topic_filter, name):
                queue.put_nowait(retained)
        entry = (topic_filter, queue)
        self._subscribers.append(entry)
        try:
            while (message := await queue.get()) is not None:
                yield message
        finally:
            if entry in self._subscribers:
                self._subscribers.remove(entry)
