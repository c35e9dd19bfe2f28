"""The MQTT event bus on aiomqtt: wallboards, integrations and other engine nodes listen here.

One publisher task owned by :class:`MqttBus` drains a bounded buffer to the broker with QoS 1
and removes a message only once the broker acknowledged it. When the broker goes away the task
reconnects with exponential backoff and jitter while ``publish`` keeps accepting messages;
when the buffer is full the oldest message is dropped, counted and logged. Delivery is at least
once: consumers de-duplicate on the envelope's ``event_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import uuid
from collections import deque
from collections.abc import AsyncIterator

import aiomqtt

from callcenter.bus.base import EventBus
from callcenter.bus.events import Message
from callcenter.bus.topics import validate_filter
from callcenter.errors import BusError

log = logging.getLogger(__name__)

BATCH = 64  # publishes awaited together: keeps several QoS 1 messages in flight
CONNECT_TIMEOUT_S = 5.0


class MqttBus(EventBus):
    kind = "mqtt"

    def __init__(
        self,
        tenant: str,
        host: str = "127.0.0.1",
        port: int = 1883,
        *,
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        client_id: str | None = None,
        keepalive_s: int = 30,
        buffer_size: int = 10_000,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
    ) -> None:
        super().__init__(tenant)
        self.host, self.port = host, port
        self._auth = {"username": username, "password": password}
        self._tls = tls
        self.client_id = client_id or f"callcenter-{tenant}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.keepalive_s = keepalive_s
        self.buffer_size = buffer_size
        self.reconnect_min_s, self.reconnect_max_s = reconnect_min_s, reconnect_max_s
        self._buffer: deque[Message] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight = 0
        self._last_error = "not started"

    @property
    def address(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _client(self, identifier: str) -> aiomqtt.Client:
        return aiomqtt.Client(
            self.host,
            self.port,
            identifier=identifier,
            keepalive=self.keepalive_s,
            timeout=CONNECT_TIMEOUT_S,
            tls_params=aiomqtt.TLSParameters() if self._tls else None,
            **self._auth,  # type: ignore[arg-type]
        )

    async def start(self) -> None:
        first: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(first), name="mqtt-publisher")
        try:
            await first
        except aiomqtt.MqttError as exc:
            await self.stop()
            raise BusError(
                f"cannot reach the MQTT broker at {self.address} ({exc}): start the broker, "
                "fix CALLCENTER_BUS__MQTT__HOST / __PORT, or set CALLCENTER_BUS__KIND=inprocess"
            ) from None

    async def stop(self, flush_timeout_s: float = 2.0) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        if self.stats.connected and (self._buffer or self._in_flight):
            deadline = asyncio.get_running_loop().time() + flush_timeout_s
            while (
                self._buffer or self._in_flight
            ) and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.02)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if self._buffer:
            log.warning("%d bus message(s) not sent at shutdown", len(self._buffer))
        self.stats.connected = False

    def publish(self, message: Message) -> None:
        self.stats.published += 1
        if len(self._buffer) >= self.buffer_size:
            self._buffer.popleft()
            self._count_drop()
        self._buffer.append(message)
        self.stats.buffered = len(self._buffer)
        self._wakeup.set()

    def _count_drop(self, n: int = 1) -> None:
        before = self.stats.dropped
        self.stats.dropped += n
        # Log the first drop and then every 1000th, not every one: the log is not the buffer.
        if before == 0 or before // 1000 != self.stats.dropped // 1000:
            log.warning(
                "bus buffer full (%d messages) while the broker at %s is away: %d dropped so far",
                self.buffer_size,
                self.address,
                self.stats.dropped,
            )

    def healthy(self) -> tuple[bool, str]:
        if self.stats.connected:
            return True, f"connected to {self.address}"
        return False, f"broker {self.address} unreachable ({self._last_error}); buffering"

    async def _run(self, first: asyncio.Future[None]) -> None:
        delay = self.reconnect_min_s
        while True:
            try:
                async with self._client(self.client_id) as client:
                    self.stats.connected = True
                    if not first.done():
                        first.set_result(None)
                    elif delay > self.reconnect_min_s or self.stats.reconnects:
                        log.info("reconnected to the MQTT broker at %s", self.address)
                    delay = self.reconnect_min_s
                    await self._drain_until_disconnected(client)
            except aiomqtt.MqttError as exc:
                self.stats.connected = False
                self._last_error = str(exc)
                if not first.done():
                    first.set_exception(exc)
                    return
                self.stats.reconnects += 1
                pause = delay * random.uniform(0.8, 1.2)
                log.warning(
                    "lost the MQTT broker at %s (%s): retrying in %.1f s, %d buffered",
                    self.address,
                    exc,
                    pause,
                    len(self._buffer),
                )
                await asyncio.sleep(pause)
                delay = min(delay * 2, self.reconnect_max_s)

    async def _drain_until_disconnected(self, client: aiomqtt.Client) -> None:
        # aiomqtt has no public "connection lost" signal; an idle publisher would otherwise
        # only notice a dead broker at its next publish. (aiomqtt is pinned <3.)
        lost = client._disconnected  # noqa: SLF001
        drain = asyncio.create_task(self._drain(client))
        try:
            await asyncio.wait({drain, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not drain.done():
                drain.cancel()
                await asyncio.gather(drain, return_exceptions=True)
        if drain.done() and not drain.cancelled() and drain.exception():
            raise drain.exception()  # type: ignore[misc]
        if lost.done():
            exc = lost.exception() if not lost.cancelled() else None
            raise aiomqtt.MqttError(f"connection lost ({exc or 'disconnected'})")

    async def _drain(self, client: aiomqtt.Client) -> None:
        while True:
            if not self._buffer:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch = [self._buffer.popleft() for _ in range(min(BATCH, len(self._buffer)))]
            self._in_flight = len(batch)
            try:
                await asyncio.gather(
                    *(client.publish(m.topic, m.body, qos=1, retain=m.retain) for m in batch)
                )
            except BaseException:
                # Not acknowledged: back to the front, in order (at least once; the buffer
                # bound still holds, so the oldest may go).
                self._buffer.extendleft(reversed(batch))
                overflow = len(self._buffer) - self.buffer_size
                for _ in range(max(0, overflow)):
                    self._buffer.popleft()
                if overflow > 0:
                    self._count_drop(overflow)
                self.stats.buffered = len(self._buffer)
                raise
            finally:
                self._in_flight = 0
            self.stats.delivered += len(batch)
            self.stats.buffered = len(self._buffer)

    async def subscribe(self, topic_filter: str) -> AsyncIterator[Message]:
        """Messages matching ``topic_filter`` over a connection of its own; resubscribes after
        the broker comes back."""
        validate_filter(topic_filter)
        delay = self.reconnect_min_s
        identifier = f"{self.client_id}-sub-{uuid.uuid4().hex[:6]}"
        while True:
            try:
                async with self._client(identifier) as client:
                    await client.subscribe(topic_filter, qos=1)
                    delay = self.reconnect_min_s
                    async for incoming in client.messages:
                        yield Message(
                            topic=incoming.topic.value,
                            body=bytes(incoming.payload),
                            retain=incoming.retain,
                        )
            except aiomqtt.MqttError as exc:
                log.warning(
                    "subscription %r lost the broker (%s): retrying in %.1f s",
                    topic_filter,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.reconnect_max_s)
