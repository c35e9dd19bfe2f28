"""The MQTT bus against real Mosquitto brokers: the shared one, and one this test owns so it
can stop and restart it mid-stream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from callcenter.bus import AgentState, CallUpdate, Message, MqttBus, QueueStats
from callcenter.errors import BusError
from tests.support.brokers import Broker, free_port


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()


async def _collect(bus: MqttBus, topic_filter: str, want: int, into: list[Message]) -> None:
    async for m in bus.subscribe(topic_filter):
        into.append(m)
        if len(into) >= want:
            return


async def test_publish_and_subscribe_on_the_shared_broker(mqtt_address: tuple[str, int]) -> None:
    host, port = mqtt_address
    tenant = f"t{time.monotonic_ns()}"
    bus = MqttBus(tenant, host, port)
    await bus.start()
    assert bus.healthy()[0]
    got: list[Message] = []
    reader = asyncio.create_task(_collect(bus, f"cc/{tenant}/calls/#", 3, got))
    await asyncio.sleep(0.3)
    for kind in ("started", "queued", "ended"):
        bus.publish_event(CallUpdate(call_id="c1", kind=kind))  # type: ignore[arg-type]
    await asyncio.wait_for(reader, 5)
    assert [m.envelope().data["kind"] for m in got] == ["started", "queued", "ended"]
    assert all(m.envelope().version == 1 for m in got)
    await bus.stop()
    assert bus.stats.delivered == 3 and bus.stats.dropped == 0


async def test_retained_agent_state_reaches_a_late_subscriber(
    mqtt_address: tuple[str, int],
) -> None:
    from datetime import UTC, datetime

    host, port = mqtt_address
    tenant = f"t{time.monotonic_ns()}"
    bus = MqttBus(tenant, host, port)
    await bus.start()
    bus.publish_event(
        AgentState(agent_id="1001", state="paused", reason="lunch", since=datetime.now(UTC))
    )
    bus.publish_event(QueueStats(queue="sales", waiting=4))
    await bus.stop()  # flushes
    late = MqttBus(tenant, host, port)
    got: list[Message] = []
    await asyncio.wait_for(_collect(late, f"cc/{tenant}/#", 2, got), 5)
    by_schema = {m.envelope().schema_name: m for m in got}
    assert (
        by_schema["agent.state"].retain
        and by_schema["agent.state"].envelope().data["reason"] == "lunch"
    )
    assert by_schema["queue.stats"].envelope().data["waiting"] == 4


async def test_unreachable_broker_at_start_is_one_clear_error() -> None:
    bus = MqttBus("t", "127.0.0.1", free_port())
    with pytest.raises(BusError, match="cannot reach the MQTT broker.*CALLCENTER_BUS__KIND"):
        await bus.start()


async def test_broker_restart_mid_stream_loses_nothing_within_the_buffer(broker: Broker) -> None:
    # The publisher retries after >= 1.6 s, the observer after 0.1 s: the observer is back
    # before the buffered messages are flushed (the restarted broker keeps no sessions).
    bus = MqttBus("t", "127.0.0.1", broker.port, reconnect_min_s=2.0, reconnect_max_s=2.0)
    await bus.start()
    observer = MqttBus("t", "127.0.0.1", broker.port, reconnect_min_s=0.1, reconnect_max_s=0.5)
    got: list[Message] = []
    reader = asyncio.create_task(_collect(observer, "cc/t/calls/#", 60, got))
    await asyncio.sleep(0.3)
    for i in range(20):
        bus.publish_event(CallUpdate(call_id=f"c{i}", kind="started"))
    await asyncio.sleep(0.3)

    broker.stop()
    await asyncio.sleep(0.3)
    t0 = time.perf_counter()
    for i in range(20, 40):  # published while the broker is away: must not block
        bus.publish_event(CallUpdate(call_id=f"c{i}", kind="started"))
    assert time.perf_counter() - t0 < 0.05
    assert not bus.healthy()[0]
    assert bus.stats.buffered >= 20

    broker.start()
    deadline = time.monotonic() + 10
    while not bus.healthy()[0] and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert bus.healthy()[0], "the publisher did not reconnect"
    for i in range(40, 60):
        bus.publish_event(CallUpdate(call_id=f"c{i}", kind="started"))
    await asyncio.wait_for(reader, 10)
    ids = [m.envelope().data["call_id"] for m in got]
    assert ids == [f"c{i}" for i in range(60)]  # all of them, in order
    assert bus.healthy()[0]
    assert bus.stats.reconnects >= 1 and bus.stats.dropped == 0
    await bus.stop()


async def test_full_buffer_drops_oldest_and_counts(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    bus = MqttBus("t", "127.0.0.1", broker.port, buffer_size=10, reconnect_min_s=0.1)
    await bus.start()
    broker.stop()
    await asyncio.sleep(0.3)
    for i in range(25):
        bus.publish_event(CallUpdate(call_id=f"c{i}", kind="started"))
    assert bus.stats.dropped == 15 and bus.stats.buffered == 10
    assert any("dropped" in r.getMessage() for r in caplog.records)
    observer = MqttBus("t", "127.0.0.1", broker.port, reconnect_min_s=0.1)
    broker.start()
    got: list[Message] = []
    reader = asyncio.create_task(_collect(observer, "cc/t/calls/#", 1, got))
    # The bus delivers again once the broker is back. Its ten buffered events may be flushed
    # before the observer has subscribed, so fresh ones are published until one arrives.
    for _ in range(30):
        if reader.done():
            break
        bus.publish_event(CallUpdate(call_id="fresh", kind="started"))
        await asyncio.sleep(0.5)
    await asyncio.wait_for(reader, 5)
    assert got and got[0].envelope().data["kind"] == "started"
    await bus.stop()
