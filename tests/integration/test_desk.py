"""The agent's desk over HTTP against a real engine: ``GET /api/agents/{code}/desk`` follows
the agent's state (from the ACD, through the bus) and the call connected to them (the
``connected`` call event, written to the CDR and published by the engine's CdrWriter as the
voice layers do), keeps the ended call until its disposition is set, and 404s an unknown
agent; the stream pushes a snapshot after each change of that agent's desk only, keeps the
line alive, and ends when the engine stops. On the MQTT bus the desk follows a call that
another node connected."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from callcenter.bus import CallUpdate, MqttBus
from callcenter.calls import CallLog
from callcenter.engine import Engine
from callcenter.store.models import Call, CallEvent, Disposition
from callcenter.web import desktop
from tests.support.sip_engine import add_agent, until

LEAD = {"first_name": "Ann", "last_name": "Lee", "external_id": "crm-7", "plan": "gold"}


async def started(engine: Engine) -> httpx.AsyncClient:
    """The engine without SIP, agents 1001 and 1002 in queue support; a client of its API."""
    engine.settings.sip.enabled = False
    await add_agent(engine, "1001", 5070)
    await add_agent(engine, "1002", 5071)
    await engine.start()
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.http_port}", timeout=10)


async def connect(engine: Engine, agent: str, call_id: str = "call-1") -> CallLog:
    """A campaign's call connected to ``agent``: the CDR's ``connected`` event with the screen
    pop, as callcenter/voice/sip/conversation.py records and announces it."""
    assert engine.cdr is not None
    rec = CallLog(call_id, "outbound", "sip", caller="+12125550999", dialed="+12125550101")
    rec.queue, rec.agent = "support", agent
    await engine.cdr.started(rec)
    await engine.cdr.event(rec, "connected", {"agent": agent, "campaign": "pv",
                                              "number": "+12125550101", "lead": LEAD},
                           announce="connected")
    return rec


async def desk_where(http: httpx.AsyncClient, code: str, what: str, check: Any) -> dict[str, Any]:
    async def read() -> dict[str, Any] | None:
        desk: dict[str, Any] = (await http.get(f"/api/agents/{code}/desk")).json()
        return desk if check(desk) else None

    return await until(read, what, 5)


async def test_the_desk_follows_the_agent_and_their_call(engine: Engine) -> None:
    async with await started(engine) as http:
        unknown = await http.get("/api/agents/9999/desk")
        assert unknown.status_code == 404 and "no agent '9999'" in unknown.json()["detail"]
        assert (await http.get("/api/agents/9999/desk/stream")).status_code == 404

        desk = (await http.get("/api/agents/1001/desk")).json()
        assert (desk["agent"], desk["name"], desk["state"]) == ("1001", "Agent 1001",
                                                                  "logged_out")
        assert desk["current"] is None and desk["last"] is None
        assert desk["preview_campaigns"] == []
        codes = [d["code"] for d in desk["dispositions"]]
        assert {"sale", "callback", "not_interested"} <= set(codes)

        await http.post("/api/agents/1001/login")
        await http.post("/api/agents/1001/pause", json={"reason": "lunch"})
        desk = await desk_where(http, "1001", "the pause", lambda d: d["state"] == "paused")
        assert desk["reason"] == "paused: lunch" and 0 <= desk["in_state_s"] < 5 and desk["since"]
        await http.post("/api/agents/1001/ready")
        await desk_where(http, "1001", "ready", lambda d: d["state"] == "available")

        rec = await connect(engine, "1001")
        desk = await desk_where(http, "1001", "the screen pop", lambda d: d["current"])
        call = desk["current"]
        assert (call["call_id"], call["direction"], call["number"], call["queue"],
                call["campaign"], call["lead"]) == (
            "call-1", "outbound", "+12125550101", "support", "pv", LEAD)
        other = (await http.get("/api/agents/1002/desk")).json()
        assert other["current"] is None and other["revision"] == 0  # not 1002's call

        assert engine.cdr is not None
        await engine.cdr.ended(rec)
        desk = await desk_where(http, "1001", "the end", lambda d: d["current"] is None)
        assert desk["last"]["call_id"] == "call-1" and desk["last"]["ended_at"]

        saved = await http.post("/api/calls/call-1/disposition",
                                json={"code": "sale", "notes": "gold plan"})
        assert saved.status_code == 200, saved.text
        await desk_where(http, "1001", "the disposition", lambda d: d["last"] is None)

    def read(s):
        code = s.scalar(select(Disposition.code).join(Call, Call.disposition_id == Disposition.id)
                        .where(Call.id == "call-1"))
        kinds = s.scalars(select(CallEvent.kind).where(CallEvent.call_id == "call-1")).all()
        return code, list(kinds)

    code, kinds = await engine.db.run(read)
    assert code == "sale" and kinds == ["connected", "disposition"]


async def snapshots(lines: AsyncIterator[str]) -> AsyncIterator[dict[str, Any]]:
    event = ""
    async for line in lines:
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event == "snapshot":
            yield json.loads(line.removeprefix("data: "))


async def test_the_stream_pushes_this_agents_changes_and_ends_with_the_engine(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(desktop, "KEEPALIVE_S", 0.5)
    async with await started(engine) as http, \
            http.stream("GET", "/api/agents/1001/desk/stream") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.aiter_lines()
        assert await anext(lines) == "retry: 2000"
        events = snapshots(lines)
        first = await anext(events)
        assert first["state"] == "logged_out" and first["current"] is None

        await http.post("/api/agents/1002/login")  # another agent's change: nothing sent
        await http.post("/api/agents/1001/login")
        snap = await asyncio.wait_for(anext(events), 5)
        assert snap["agent"] == "1001" and snap["state"] == "available"

        asked = time.monotonic()
        await connect(engine, "1001")
        snap = await asyncio.wait_for(anext(events), 5)
        assert snap["current"]["lead"]["plan"] == "gold"
        assert time.monotonic() - asked < 1.0  # at once, not at the next keep-alive

        keepalive = await asyncio.wait_for(anext(line async for line in lines
                                                 if line.startswith(": ")), 5)
        assert keepalive == ": keep-alive"
        # uvicorn waits for responses in progress: the open stream must end by itself.
        await asyncio.wait_for(engine.stop(), 15)
        assert [line async for line in lines if line.startswith("data: ")] == []


async def test_on_mqtt_the_desk_follows_a_call_connected_on_another_node(
        engine: Engine, mqtt_address: tuple[str, int]) -> None:
    host, port = mqtt_address
    tenant = f"desk{time.monotonic_ns()}"  # retained states of other runs stay out
    engine.settings.tenant = tenant
    engine.settings.bus.kind = "mqtt"
    engine.settings.bus.mqtt.host, engine.settings.bus.mqtt.port = host, port
    other_node = MqttBus(tenant, host, port)
    await other_node.start()
    try:
        async with await started(engine) as http:
            assert engine.bus.kind == "mqtt"
            await http.post("/api/agents/1001/login")  # this node's ACD, through the broker
            await desk_where(http, "1001", "the login", lambda d: d["state"] == "available")

            # The subscription to calls is live once a call for a probe agent comes back.
            async def heard() -> bool:
                other_node.publish_event(CallUpdate(call_id="probe", kind="connected",
                                                    agent_id="probe"))
                await asyncio.sleep(0.2)
                assert engine.desks is not None
                return engine.desks.desks.get("probe").current is not None

            await until(heard, "the desks' subscription to calls", 10)
            other_node.publish_event(CallUpdate(
                call_id="far-1", kind="connected", direction="inbound", caller="+15550100",
                dialed="200", queue="support", agent_id="1001",
                detail={"event": "connected", "agent": "1001"}))
            desk = await desk_where(http, "1001", "the call of the other node",
                                    lambda d: d["current"])
            assert (desk["current"]["call_id"], desk["current"]["number"]) == ("far-1",
                                                                                "+15550100")
            other_node.publish_event(CallUpdate(call_id="far-1", kind="ended", agent_id="1001"))
            desk = await desk_where(http, "1001", "its end", lambda d: d["last"])
            assert desk["last"]["call_id"] == "far-1" and desk["current"] is None
    finally:
        await other_node.stop()
