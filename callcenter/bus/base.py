"""The event bus interface shared by the in-process and the MQTT implementation.

``publish`` is synchronous and never waits: call handling must not stall on a slow or absent
broker. Each implementation buffers what it cannot send yet (bounded) and counts what it drops.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from callcenter.bus.events import EventPayload, Message


@dataclass
class BusStats:
    published: int = 0  # accepted by publish()
    delivered: int = 0  # handed to the broker (acknowledged) or to local subscribers
    dropped: int = 0  # lost because the buffer was full
    buffered: int = 0  # waiting to be sent right now
    connected: bool = False
    reconnects: int = 0


class EventBus(abc.ABC):
    """Publish events as they happen; subscribe with MQTT topic filters."""

    kind: str

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.stats = BusStats()

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect; raise :class:`~callcenter.errors.BusError` when that is impossible."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Flush what can be flushed quickly, then disconnect."""

    def publish_event(self, payload: EventPayload, now: datetime | None = None) -> Message:
        message = Message.of(self.tenant, payload, now)
        self.publish(message)
        return message

    @abc.abstractmethod
    def publish(self, message: Message) -> None:
        """Queue ``message`` for delivery; never blocks, never raises on a broker problem."""

    @abc.abstractmethod
    def subscribe(self, topic_filter: str) -> AsyncIterator[Message]:
        """Messages on topics matching ``topic_filter`` (retained ones first), until closed."""

    def healthy(self) -> tuple[bool, str]:
        return True, "ok"
