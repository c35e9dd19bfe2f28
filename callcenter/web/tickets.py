"""REST API for back-office tickets: list with filters, read, update, reply, assign, merge.

The consoles of later issues use these. Errors are the engine's own: an unknown ticket or
agent is 404, a change the life cycle forbids (reopening a merged ticket, closed -> pending)
is 409 with the sentence that says what is allowed. With authentication on, the ``actor`` of a
change, an assignment or a merge is the logged-in user, whatever the body says.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from callcenter.backoffice.desk import TicketDesk, TicketFilter
from callcenter.errors import NotFound
from callcenter.tickets import InvalidTransition
from callcenter.web.auth import acting_as

router = APIRouter(prefix="/api/tickets", tags=["tickets"])

StatusName = Literal["new", "open", "pending_customer", "resolved", "closed"]
PriorityName = Literal["low", "normal", "high", "urgent"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TicketChange(_Body):
    actor: str = Field(min_length=1, max_length=64)
    status: StatusName | None = None
    priority: PriorityName | None = None
    category: str | None = Field(None, max_length=64)
    subject: str | None = Field(None, max_length=255)


class Reply(_Body):
    agent: str = Field(min_length=1, max_length=32)
    body: str = Field(min_length=1)
    awaiting_customer: bool = False
    internal: bool = Field(False, description="A note for colleagues; the customer never sees it.")


class Assignment(_Body):
    agent: str = Field(min_length=1, max_length=32)
    actor: str = Field(min_length=1, max_length=64)


class Merge(_Body):
    into: str = Field(pattern=r"^(T-)?[0-9]+$", description="The ticket that stays: T-12 or 12.")
    actor: str = Field(min_length=1, max_length=64)


def _desk(request: Request) -> TicketDesk:
    state = request.app.state
    office = getattr(state, "backoffice", None) or state.engine.backoffice
    desk: TicketDesk = office.desk
    return desk


def _number(ticket_id: str) -> int:
    digits = ticket_id.upper().removeprefix("T-")
    if not digits.isdigit():
        raise HTTPException(404, f"{ticket_id!r} is not a ticket number like T-12")
    return int(digits)


async def _guarded(work: Any) -> Any:
    try:
        return await work
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except InvalidTransition as exc:
        raise HTTPException(409, str(exc)) from None


@router.get("")
async def list_tickets(
    request: Request,
    status: Annotated[list[StatusName] | None, Query()] = None,
    priority: Annotated[list[PriorityName] | None, Query()] = None,
    category: str | None = None,
    channel: Literal["phone", "email", "chat", "web"] | None = None,
    agent: str | None = None,
    customer: str | None = Query(None, description="Phone number or mail address."),
    q: str | None = Query(None, description="Text in the subject."),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    flt = TicketFilter(
        tuple(status or ()),
        tuple(priority or ()),
        category,
        channel,
        agent,
        customer,
        q,
        limit,
        offset,
    )
    total, items = await _desk(request).list(flt)
    return {"total": total, "items": items}


@router.get("/{ticket_id}")
async def read_ticket(request: Request, ticket_id: str) -> dict[str, Any]:
    result: dict[str, Any] = await _guarded(_desk(request).read(_number(ticket_id)))
    return result


@router.patch("/{ticket_id}")
async def update_ticket(request: Request, ticket_id: str, change: TicketChange) -> dict[str, Any]:
    number = _number(ticket_id)
    await _guarded(
        _desk(request).update(
            number,
            acting_as(request, change.actor),
            status=change.status,
            priority=change.priority,
            category=change.category,
            subject=change.subject,
        )
    )
    return await read_ticket(request, ticket_id)


@router.post("/{ticket_id}/reply", status_code=201)
async def reply(request: Request, ticket_id: str, body: Reply) -> dict[str, Any]:
    desk, number = _desk(request), _number(ticket_id)
    if body.internal:
        message = await _guarded(desk.note(number, body.agent, body.body))
    else:
        message = await _guarded(
            desk.reply(number, body.agent, body.body, awaiting_customer=body.awaiting_customer)
        )
    return {"message_id": message}


@router.post("/{ticket_id}/assign")
async def assign(request: Request, ticket_id: str, body: Assignment) -> dict[str, Any]:
    await _guarded(_desk(request).assign(_number(ticket_id), body.agent,
                                         acting_as(request, body.actor)))
    return await read_ticket(request, ticket_id)


@router.post("/{ticket_id}/merge")
async def merge(request: Request, ticket_id: str, body: Merge) -> dict[str, Any]:
    await _guarded(_desk(request).merge(_number(ticket_id), _number(body.into),
                                        acting_as(request, body.actor)))
    return await read_ticket(request, ticket_id)
