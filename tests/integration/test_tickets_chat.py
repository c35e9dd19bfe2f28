"""Customer chat end to end: real uvicorn, real WebSocket clients (the ``websockets`` library)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import websockets
from fastapi import FastAPI

from callcenter.backoffice import BackOffice, chat_router
from callcenter.store import open_database, upgrade
from callcenter.store.models import Agent
from callcenter.web.tickets import router as tickets_router
from tests.unit.tickets.tickets_support import backoffice_settings, recording_bus


@pytest.fixture
async def served(sqlite_url: str, tmp_path: Path) -> AsyncIterator[tuple[BackOffice, str]]:
    db = open_database(sqlite_url)
    upgrade(db)
    with db.session() as s:
        s.add(Agent(code="ann", name="Ann", chat_capacity=2))
    office = BackOffice(backoffice_settings(tmp_path, chat_wait_s=1.0), db, recording_bus())
    app = FastAPI()
    app.state.backoffice = office
    app.include_router(chat_router)
    app.include_router(tickets_router)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    yield office, f"ws://127.0.0.1:{sock.getsockname()[1]}/api/chat"
    server.should_exit = True
    await task
    db.dispose()


async def receive(ws: Any, kind: str) -> dict[str, Any]:
    """The next message of ``kind`` (within 5 s)."""
    while True:
        data = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if data["type"] == kind:
            return data  # type: ignore[no-any-return]


async def test_customer_chats_with_a_back_office_agent_and_the_transcript_is_the_ticket(
    served,
) -> None:  # type: ignore[no-untyped-def]
    office, base = served
    async with websockets.connect(f"{base}/agent/ann") as agent:
        await asyncio.sleep(0.1)  # the agent is present before the customer comes
        async with websockets.connect(f"{base}/customer") as customer:
            await customer.send(
                json.dumps(
                    {
                        "type": "start",
                        "name": "Eve",
                        "email": "eve@example.com",
                        "text": "My parcel is late",
                    }
                )
            )
            queued = await receive(customer, "queued")
            offered = await receive(agent, "chat_assigned")
            assert offered["ticket"] == queued["ticket"]
            assert offered["history"] == [{"from": "eve@example.com", "text": "My parcel is late"}]
            assert (await receive(customer, "agent_joined"))["agent"] == "ann"
            chat_id = offered["chat_id"]
            await agent.send(
                json.dumps({"type": "message", "chat_id": chat_id, "text": "Let me check."})
            )
            assert (await receive(customer, "message"))["text"] == "Let me check."
            await customer.send(json.dumps({"type": "message", "text": "Order 123"}))
            assert (await receive(agent, "message"))["text"] == "Order 123"
            await agent.send(json.dumps({"type": "end", "chat_id": chat_id}))
            assert (await receive(customer, "ended"))["by"] == "ann"
            await receive(agent, "chat_ended")
    number = int(queued["ticket"].removeprefix("T-"))
    read = await office.desk.read(number)
    lines = [(m["direction"], m["body"]) for m in read["messages"] if m["channel"] == "chat"]
    assert lines == [("in", "My parcel is late"), ("out", "Let me check."), ("in", "Order 123")]
    assert (read["status"], read["channel"], read["handled_by"]) == ("resolved", "chat", "ann")
    assert read["first_response_at"] is not None


async def test_with_nobody_available_the_chat_becomes_a_ticket(served) -> None:  # type: ignore[no-untyped-def]
    office, base = served
    async with websockets.connect(f"{base}/customer") as customer:
        await customer.send(
            json.dumps({"type": "start", "email": "bob@example.com", "text": "Anyone there?"})
        )
        queued = await receive(customer, "queued")
        ticketed = await receive(customer, "ticketed")
        assert ticketed["ticket"] == queued["ticket"]
    read = await office.desk.read(int(queued["ticket"].removeprefix("T-")))
    assert read["status"] == "new" and read["messages"][0]["body"] == "Anyone there?"
    assert "chat_ticketed" in [a["action"] for a in read["audit"]]
    # The ticket waits in the back-office queue: the next agent to come gets it.
    async with websockets.connect(f"{base}/agent/ann") as agent:
        assert (await receive(agent, "ticket_assigned"))["ticket"] == queued["ticket"]
    assert (await office.desk.read(int(queued["ticket"][2:])))["assigned_agent"] == "ann"
