"""Every node's console sees every node's campaigns: runners tell their figures on a real
MQTT broker (Mosquitto), a third node's campaign board shows them with the node that runs
each, follows a hand-over to another node, and shows a pause."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from callcenter.bus import MqttBus
from callcenter.calls.campaign_board_service import CampaignBoardService, publisher
from callcenter.store import open_database
from dialer.campaigns import CampaignRepository
from dialer.ports import AgentLoad, FixedAgents
from dialer.runner import CampaignRunner, DialerService
from tests.integration.test_campaign_leases import HeldLines, NodePort
from tests.integration.test_campaigns_support import NYC, T0, Clock, campaign_db, start


@pytest.fixture
async def buses(mqtt_address: tuple[str, int]) -> AsyncIterator[dict[str, MqttBus]]:
    """Nodes a, b and c on one broker, in a tenant of their own (retained figures of other
    tests stay out)."""
    tenant = f"board{uuid.uuid4().hex[:8]}"
    made = {n: MqttBus(tenant, *mqtt_address) for n in "abc"}
    for bus in made.values():
        await bus.start()
    yield made
    for bus in made.values():
        await bus.stop()


async def _shown(board: CampaignBoardService, **want: Any) -> dict[str, Any]:
    for _ in range(300):
        for c in board.live():
            if all(c.get(k) == v for k, v in want.items()):
                return c
        await asyncio.sleep(0.02)
    raise AssertionError(f"the board never showed {want}: {board.live()}")


async def test_a_third_nodes_board_follows_the_campaign_across_nodes(
        db_url: str, buses: dict[str, MqttBus]) -> None:
    db = campaign_db(db_url, NYC[:8], max_lines=3)
    lines = HeldLines()
    ports: dict[str, NodePort] = {n: lines.port() for n in "ab"}
    nodes = {n: DialerService(open_database(db_url), {"sip": ports[n]},
                              FixedAgents({"sales": AgentLoad(available=3)}), poll_s=0.05,
                              tick_s=0.02, owner=f"node-{n}", clock=Clock(),
                              on_live=publisher(buses[n]))
             for n in "ab"}
    board = CampaignBoardService(buses["c"])
    await board.start()
    for node in nodes.values():
        await node.start()
    try:
        start(db)
        shown = await _shown(board, campaign="spring", state="running", lines_in_flight=3)
        holder = shown["node"].removeprefix("node-")
        other = "b" if holder == "a" else "a"
        assert nodes[holder].live_runner("spring") is not None
        assert (shown["dialed"], shown["max_lines"], shown["stale"]) == (3, 3, False)

        await nodes[holder].stop()  # the other node takes the campaign over and tells
        await _shown(board, campaign="spring", state="running", node=f"node-{other}",
                     dialed=6)
        with db.session() as s:
            CampaignRepository(s).transition("spring", "paused", T0)
        lines.release.set()  # the calls in flight end; the runner ends and tells its state
        await _shown(board, campaign="spring", state="paused", node=f"node-{other}",
                     lines_in_flight=0)
    finally:
        lines.release.set()
        for node in nodes.values():
            await node.stop()
        await board.stop()


async def test_a_runner_tells_changes_at_most_each_second_and_a_heartbeat(db_url: str) -> None:
    db = campaign_db(db_url, NYC[:4], max_lines=1)
    start(db)
    lines = HeldLines()
    t = [100.0]
    told: list[tuple[float, int, str]] = []
    runner = CampaignRunner(db, "spring", lines.port(), FixedAgents({"sales": AgentLoad(1)}),
                            clock=Clock(), monotonic=lambda: t[0], owner="node-a",
                            on_live=lambda live: told.append((t[0], live.dialed, live.state)))
    await runner.step()  # tells the figures before it dials: 0 dialed
    await runner.step()  # one call in flight, within the second: not yet
    assert told == [(100.0, 0, "running")]
    t[0] = 101.0
    await runner.step()  # changed (1 dialed), a second later: told
    t[0] = 105.0
    await runner.step()  # unchanged: quiet
    t[0] = 111.0
    await runner.step()  # unchanged, but a heartbeat (10 s) went by
    assert told == [(100.0, 0, "running"), (101.0, 1, "running"), (111.0, 1, "running")]
    lines.release.set()
    await runner.wait_idle()
