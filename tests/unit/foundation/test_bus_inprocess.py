import asyncio
from datetime import UTC, datetime

import pytest

from callcenter.bus import AgentState, CallUpdate, InProcessBus, Message, QueueStats, matches, topic


@pytest.mark.parametrize(
    ("flt", "name", "ok"),
    [
        ("cc/t/#", "cc/t/calls/1", True),
        ("cc/t/agents/+/state", "cc/t/agents/1001/state", True),
        ("cc/t/agents/+/state", "cc/t/agents/1001/stats", False),
        ("cc/t/agents/+", "cc/t/agents/1001/state", False),
        ("cc/+/queues/sales/stats", "cc/acme/queues/sales/stats", True),
        ("cc/t/calls/1", "cc/t/calls/1", True),
        ("cc/t/calls", "cc/t/calls/1", False),
    ],
)
def test_topic_filter_matching(flt: str, name: str, ok: bool) -> None:
    assert matches(flt, name) is ok


def test_topic_levels_are_checked() -> None:
    assert topic("acme", "calls", "c1") == "cc/acme/calls/c1"
    with pytest.raises(ValueError, match="contains"):
        topic("acme", "agents", "a/b")


def test_message_envelope_round_trip() -> None:
    msg = Message.of("t", QueueStats(queue="sales", waiting=3))
    env = msg.envelope()
    assert msg.topic == "cc/t/queues/sales/stats" and msg.retain
    assert env.schema_name == "queue.stats" and env.version == 1 and env.tenant == "t"
    assert env.data["waiting"] == 3 and len(env.event_id) == 32


async def test_subscribers_get_matching_messages_and_retained_first() -> None:
    bus = InProcessBus("t")
    now = datetime.now(UTC)
    bus.publish_event(AgentState(agent_id="1", state="available", since=now))
    bus.publish_event(AgentState(agent_id="1", state="paused", reason="lunch", since=now))
    received: list[Message] = []

    async def read() -> None:
        async for m in bus.subscribe("cc/t/agents/+/state"):
            received.append(m)
            if len(received) == 2:
                return

    task = asyncio.create_task(read())
    await asyncio.sleep(0)
    bus.publish_event(CallUpdate(call_id="c1", kind="started"))  # not matching
    bus.publish_event(AgentState(agent_id="2", state="busy", since=now))
    await asyncio.wait_for(task, 2)
    assert [m.envelope().data["state"] for m in received] == ["paused", "busy"]
    await bus.stop()


async def test_slow_subscriber_loses_oldest_and_it_is_counted() -> None:
    bus = InProcessBus("t", buffer_size=10)
    got: list[str] = []

    async def read() -> None:
        async for m in bus.subscribe("cc/t/calls/#"):
            got.append(m.envelope().data["call_id"])

    task = asyncio.create_task(read())
    await asyncio.sleep(0)
    for i in range(25):
        bus.publish_event(CallUpdate(call_id=f"c{i}", kind="started"))  # no await: never blocks
    await asyncio.sleep(0.05)
    await bus.stop()
    await asyncio.wait_for(task, 1)
    assert bus.stats.dropped == 15
    assert got == [f"c{i}" for i in range(15, 25)]
