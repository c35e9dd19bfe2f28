"""Scheduled callbacks over HTTP: list, move, reassign, cancel (supervisors and agents).

- ``GET /api/campaigns/{name}/callbacks?agent=CODE|anyone&state=pending|done|cancelled|
  missed|all``: by due time, each with ``waiting`` (``scheduled``, ``waiting_for_window``,
  ``due``, ``dialing``, and ``waiting_for_owner`` when its owner is due but not logged in);
- ``GET /api/callbacks?agent=CODE``: the same over every campaign (the desktop's "My
  callbacks");
- ``PATCH /api/campaigns/{name}/callbacks/{id}`` ``{"due_at": ..., "owner": ...}``: move it
  (read as ``callback_at`` is) and/or give it to another agent (``none``: anyone);
- ``DELETE /api/campaigns/{name}/callbacks/{id}?requeue=false``: cancel it; the lead is
  closed, or with ``requeue=true`` goes back to the list due now.

Booking one is the disposition's work (``POST /api/calls/{id}/disposition``); taking one as
its owner is the preview router's (``POST .../callbacks/{id}/preview``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from callcenter.web.campaigns import run_in_db
from dialer import callbacks
from dialer.callback_times import CallbackTimeError

router = APIRouter(prefix="/api", tags=["callbacks"])

AGENT_FILTER = Query(None, max_length=64,
                     description=f"An agent's code, or {callbacks.ANYONE} (any agent's).")
STATE_FILTER = Query("pending", description="pending, done, cancelled, missed, or all.")


class CallbackChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    due_at: str | None = Field(None, max_length=64,
                               description="The new time, read as callback_at is.")
    owner: str | None = Field(None, max_length=64,
                              description="An agent's code, or none (any agent).")


def _state(raw: str) -> str | None:
    return None if raw == "all" else raw


def _with_owner_presence(request: Request, rows: list[callbacks.CallbackView],
                         ) -> list[dict[str, Any]]:
    """Mark the due owner-only callbacks whose agent is not logged in."""
    engine = getattr(request.app.state, "engine", None)
    service = getattr(engine, "acd", None)
    out = []
    for cb in rows:
        row = cb.as_dict()
        if (service is not None and cb.owner is not None and cb.waiting == "due"
                and service.router.agent_state(cb.owner) == "logged_out"):
            row["waiting"] = "waiting_for_owner"
        out.append(row)
    return out


async def _call(request: Request, work: Any) -> Any:
    try:
        return await run_in_db(request, work)
    except CallbackTimeError as exc:
        raise HTTPException(422, str(exc)) from None
    except callbacks.CallbackError as exc:
        raise HTTPException(exc.status, str(exc)) from None


@router.get("/campaigns/{name}/callbacks", summary="A campaign's scheduled callbacks")
async def campaign_callbacks(request: Request, name: str, agent: str | None = AGENT_FILTER,
                             state: str = STATE_FILTER) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    rows = await _call(request, lambda s: callbacks.list_callbacks(s, now, name, agent,
                                                                   _state(state)))
    return _with_owner_presence(request, rows)


@router.get("/callbacks", summary="Scheduled callbacks over every campaign (My callbacks)")
async def all_callbacks(request: Request, agent: str | None = AGENT_FILTER,
                        state: str = STATE_FILTER) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    rows = await _call(request, lambda s: callbacks.list_callbacks(s, now, None, agent,
                                                                   _state(state)))
    return _with_owner_presence(request, rows)


@router.patch("/campaigns/{name}/callbacks/{callback_id}",
              summary="Move a callback or give it to another agent (or anyone)")
async def change_callback(request: Request, name: str, callback_id: int,
                          body: CallbackChange) -> dict[str, Any]:
    if not body.model_fields_set:
        raise HTTPException(422, "send due_at (the new time) and/or owner (an agent's code, "
                                 "or none for any agent)")
    now = datetime.now(UTC)

    def work(s: Session) -> dict[str, Any]:
        kw: dict[str, Any] = {"due": body.due_at}
        if "owner" in body.model_fields_set:
            kw["owner"] = callbacks.owner_code(s, body.owner, None)
        return callbacks.change(s, name, callback_id, now, **kw).as_dict()

    result: dict[str, Any] = await _call(request, work)
    return result


@router.delete("/campaigns/{name}/callbacks/{callback_id}", summary="Cancel a callback")
async def cancel_callback(request: Request, name: str, callback_id: int,
                          requeue: bool = False) -> dict[str, Any]:
    now = datetime.now(UTC)
    result: dict[str, Any] = await _call(
        request, lambda s: callbacks.cancel(s, name, callback_id, now, requeue).as_dict())
    return result
