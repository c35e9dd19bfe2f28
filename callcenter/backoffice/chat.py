"""Customer chat over WebSocket, answered by back-office agents over WebSocket.

``/api/chat/customer``: the customer sends ``{"type": "start", "name", "email", "text"}``,
gets ``queued`` with the ticket number, then ``agent_joined`` and the agent's ``message``s;
sends ``message`` and finally ``end``. Every line is stored on the chat's ticket as it flows,
so the transcript is the ticket. Nobody present to take chats, or nobody taking it within
``chat_wait_s``: the customer gets ``ticketed`` and the ticket goes to the back-office queue.

``/api/chat/agent/{code}``: while connected the agent is present with the chat and ticket
capacity of their record; they receive ``chat_assigned`` (with the history so far),
``message``, ``chat_ended``, ``ticket_assigned`` and ``callback_offered``, and send
``message`` / ``end`` with a ``chat_id``. Chats are routed by the service's task assigner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy.orm import Session

from callcenter.errors import NotFound
from callcenter.store.tickets import Chat
from callcenter.tickets import (
    AgentReplied,
    Assigned,
    Assignment,
    BackofficeTask,
    CustomerWrote,
    InvalidTransition,
    Priority,
    Status,
    StatusRequested,
)

from . import records
from .service import Batch, TicketService, ticket_task

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/chat", tags=["chat"])


@dataclass
class ChatRoom:
    chat_id: str
    ticket: int
    customer: WebSocket
    agent: str | None = None
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    ended: bool = False


class ChatDesk:
    """The live chats and the agents connected to take them (in memory, on the loop)."""

    def __init__(self, service: TicketService, wait_s: float = 120.0) -> None:
        self.service, self.wait_s = service, wait_s
        self.rooms: dict[str, ChatRoom] = {}
        self.agents: dict[str, WebSocket] = {}
        service.listeners["chat"] = self._chat_assigned
        service.listeners["ticket"] = self._notify("ticket_assigned")
        service.listeners["callback"] = self._callback_offered

    # --- customer side -------------------------------------------------------------------

    async def serve_customer(self, ws: WebSocket) -> None:
        start = await ws.receive_json()
        if start.get("type") != "start":
            await ws.close(code=4400, reason='send {"type": "start"} first')
            return
        room = await self._start(ws, start)
        await ws.send_json(
            {"type": "queued", "chat_id": room.chat_id, "ticket": f"T-{room.ticket}"}
        )
        lines = asyncio.create_task(self._customer_lines(room), name=f"chat {room.chat_id}")
        try:
            task = BackofficeTask(
                f"chat:{room.chat_id}", "chat", Priority.NORMAL, self.service.now()
            )
            if self.service.assigner.can_serve("chat"):
                await self.service.deliver(self.service.assigner.submit(task))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(room.answered.wait(), self.wait_s)
            if not room.answered.is_set() and not room.ended:
                await self._to_ticket(room)
                return
            await lines
        finally:
            lines.cancel()
            await self._end(room, "customer")

    async def _start(self, ws: WebSocket, start: dict[str, Any]) -> ChatRoom:
        chat_id = uuid.uuid4().hex

        def work(session: Session, batch: Batch) -> int:
            customer = records.customer_for(
                session, start.get("number"), start.get("email"), str(start.get("name", ""))
            )
            text = str(start.get("text", ""))
            row = self.service.open_ticket(
                session,
                batch,
                customer,
                subject=f"Chat: {text[:60]}" if text else "Chat",
                category="chat",
                priority=Priority.NORMAL,
                channel="chat",
                source="chat",
                waiting_since=batch.now,
                route=False,
            )
            session.add(Chat(id=chat_id, ticket_id=row.id, status="waiting", started_at=batch.now))
            if text:
                records.add_message(
                    session,
                    row,
                    direction="in",
                    channel="chat",
                    author=customer.email or "customer" if customer else "customer",
                    body=text,
                    now=batch.now,
                )
            return row.id

        number = await self.service.transact(work)
        room = ChatRoom(chat_id, number, ws)
        self.rooms[chat_id] = room
        return room

    async def _customer_lines(self, room: ChatRoom) -> None:
        try:
            while True:
                data = await room.customer.receive_json()
                if data.get("type") == "end":
                    return
                if data.get("type") == "message":
                    text = str(data.get("text", ""))
                    await self._store(room, "in", "customer", text)
                    if room.agent in self.agents:
                        await self.agents[room.agent].send_json(
                            {
                                "type": "message",
                                "chat_id": room.chat_id,
                                "text": text,
                                "from": "customer",
                            }
                        )
        except WebSocketDisconnect:
            return

    async def _to_ticket(self, room: ChatRoom) -> None:
        self.service.assigner.withdraw(f"chat:{room.chat_id}")

        def work(session: Session, batch: Batch) -> None:
            chat = session.get(Chat, room.chat_id)
            if chat is not None:
                chat.status, chat.ended_at = "ticketed", batch.now
            row = records.ticket(session, room.ticket)
            records.audit(
                session, row.id, "chat", "chat_ticketed", batch.now, reason="no agent took the chat"
            )
            batch.submit.append(ticket_task(row, batch.now))

        await self.service.transact(work)
        room.ended = True
        self.rooms.pop(room.chat_id, None)
        await room.customer.send_json(
            {
                "type": "ticketed",
                "ticket": f"T-{room.ticket}",
                "text": "Nobody is free to chat right now. Your message is ticket "
                f"T-{room.ticket}; we will answer you as soon as we can.",
            }
        )
        await room.customer.close()

    # --- agent side ----------------------------------------------------------------------

    async def serve_agent(self, ws: WebSocket, code: str) -> None:
        try:
            capacity = await self.service.db.run(lambda s: _capacity(s, code))
        except NotFound as exc:
            await ws.close(code=4404, reason=str(exc)[:120])
            return
        self.agents[code] = ws
        try:
            await self.service.deliver(self.service.assigner.agent_present(code, capacity))
            while True:
                data = await ws.receive_json()
                room = self.rooms.get(str(data.get("chat_id")))
                if room is None or room.agent != code:
                    await ws.send_json({"type": "error", "text": "no such chat of yours"})
                elif data.get("type") == "message":
                    text = str(data.get("text", ""))
                    await self._store(room, "out", code, text)
                    await room.customer.send_json({"type": "message", "text": text, "from": code})
                elif data.get("type") == "end":
                    await self._end(room, code)
        except WebSocketDisconnect:
            pass
        finally:
            self.agents.pop(code, None)
            returned = self.service.assigner.agent_gone(code)
            for task in returned:  # chats and tickets of an agent who left go back in line
                if task.id.startswith("chat:") and task.id[5:] in self.rooms:
                    self.rooms[task.id[5:]].agent = None
                    await self.service.deliver(self.service.assigner.submit(task))

    async def _chat_assigned(self, assignment: Assignment) -> None:
        chat_id = assignment.task.id.partition(":")[2]
        room, agent = self.rooms.get(chat_id), assignment.agent
        if room is None or room.ended or agent not in self.agents:
            self.service.assigner.finish(assignment.task.id)
            return

        def work(session: Session, batch: Batch) -> list[dict[str, Any]]:
            chat = session.get(Chat, chat_id)
            if chat is not None:
                chat.status, chat.answered_at = "active", batch.now
                chat.agent_id = records.agent(session, agent).id
            row = records.ticket(session, room.ticket)
            self.service.drive(session, batch, row, Assigned(agent), agent)
            return [{"from": m.author, "text": m.body} for m in row.messages if m.channel == "chat"]

        history = await self.service.transact(work)
        room.agent = agent
        room.answered.set()
        await self.agents[agent].send_json(
            {
                "type": "chat_assigned",
                "chat_id": chat_id,
                "ticket": f"T-{room.ticket}",
                "history": history,
            }
        )
        await room.customer.send_json({"type": "agent_joined", "agent": agent})

    def _notify(self, kind: str) -> Any:
        async def send(assignment: Assignment) -> None:
            ws = self.agents.get(assignment.agent)
            if ws is not None:
                with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                    await ws.send_json(
                        {"type": kind, "ticket": "T-" + assignment.task.id.partition(":")[2]}
                    )

        return send

    async def _callback_offered(self, assignment: Assignment) -> None:
        await self._notify("callback_offered")(assignment)
        self.service.assigner.finish(assignment.task.id)  # an offer, not a lasting task

    # --- both ----------------------------------------------------------------------------

    async def _store(self, room: ChatRoom, direction: str, author: str, text: str) -> None:
        def work(session: Session, batch: Batch) -> None:
            row = records.ticket(session, room.ticket)
            records.add_message(
                session,
                row,
                direction=direction,
                channel="chat",
                author=author,
                body=text,
                now=batch.now,
            )
            event = CustomerWrote() if direction == "in" else AgentReplied(author)
            self.service.drive(session, batch, row, event, author)

        await self.service.transact(work)

    async def _end(self, room: ChatRoom, by: str) -> None:
        if room.ended:
            return
        room.ended = True
        self.rooms.pop(room.chat_id, None)
        served = room.agent is not None

        def work(session: Session, batch: Batch) -> None:
            chat = session.get(Chat, room.chat_id)
            if chat is not None:
                chat.status, chat.ended_at = "ended", batch.now
            row = records.ticket(session, room.ticket)
            records.audit(session, row.id, by, "chat_ended", batch.now)
            if served:
                with contextlib.suppress(InvalidTransition):
                    self.service.drive(
                        session, batch, row, StatusRequested(Status.RESOLVED, by), by
                    )
            else:
                batch.submit.append(ticket_task(row, batch.now))

        await self.service.transact(work)
        await self.service.deliver(self.service.assigner.finish(f"chat:{room.chat_id}"))
        for ws, message in (
            (
                self.agents.get(room.agent or ""),
                {"type": "chat_ended", "chat_id": room.chat_id, "by": by},
            ),
            (room.customer, {"type": "ended", "by": by}),
        ):
            if ws is not None:
                with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                    await ws.send_json(message)


def _capacity(session: Session, code: str) -> dict[str, int]:
    agent = records.agent(session, code)
    return {"chat": agent.chat_capacity, "ticket": agent.ticket_capacity}


def chat_desk(ws: WebSocket) -> ChatDesk:
    state = ws.app.state
    office = getattr(state, "backoffice", None) or state.engine.backoffice
    desk: ChatDesk = office.chats
    return desk


@router.websocket("/customer")
async def customer_chat(ws: WebSocket) -> None:
    await ws.accept()
    with contextlib.suppress(WebSocketDisconnect):
        await chat_desk(ws).serve_customer(ws)


@router.websocket("/agent/{code}")
async def agent_chat(ws: WebSocket, code: str) -> None:
    await ws.accept()
    await chat_desk(ws).serve_agent(ws, code)
