"""Preview dialing for the agent desktop: see the next lead, then dial it or skip it.

- ``POST /api/campaigns/{name}/preview?agent=CODE`` reserves the next due lead for the agent
  and returns its screen pop (number, names, custom fields, attempts so far, when the
  reservation expires); the ACD sees the agent paused with reason ``preview``, so no queue call
  is offered while they read. Asking again returns the same lead until it is dialed, skipped or
  expired.
- ``POST /api/campaigns/{name}/preview/{lead_id}/dial?agent=CODE`` records the attempt (once:
  a second dial is refused) and places the call; a person who answers is connected to this
  agent.
- ``POST /api/campaigns/{name}/preview/{lead_id}/skip?agent=CODE`` puts the lead back behind
  the due leads; an agent may skip a limited number of leads in a row (counted in the
  database: the limit holds across engine processes and restarts).

The work is :class:`dialer.preview.PreviewDesk`'s (the engine's dialer service owns it); this
module checks the agent and turns its errors into 404 / 409 with what to do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Query, Request

from callcenter import acd
from callcenter.errors import NotFound
from dialer.preview import PreviewDesk, PreviewError, Reservation

if TYPE_CHECKING:
    from callcenter.engine import Engine

router = APIRouter(prefix="/api/campaigns", tags=["preview dialing"])

AGENT = Query(..., min_length=1, max_length=64, description="The agent's code.")
_ON_A_CALL = {"busy", "offered"}


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _desk(request: Request) -> PreviewDesk:
    dialer = _engine(request).dialer
    if dialer is None:
        raise HTTPException(503, "the dialer is not running on this node: enable it and "
                                 "start the engine, or ask the node that runs campaigns")
    desk: PreviewDesk = dialer.preview_desk
    return desk


def _check_agent(request: Request, agent: str) -> None:
    """The agent exists, is logged in and not on a call."""
    engine = _engine(request)
    if agent not in engine.directory.agents:
        raise HTTPException(404, f"no agent {agent!r}: check the code, or add the agent with "
                                 "`callcenter agents add`")
    if engine.acd is None:
        return
    state = engine.acd.router.agent_state(agent)
    if state == "logged_out":
        raise HTTPException(409, f"agent {agent} is logged out: log in (a nailed-up line or "
                                 f"POST /api/agents/{agent}/login) before previewing leads")
    if state in _ON_A_CALL:
        raise HTTPException(409, f"agent {agent} is {state} with a call: finish it, then ask "
                                 "for the next lead")


def _http(exc: Exception) -> HTTPException:
    if isinstance(exc, PreviewError):
        return HTTPException(exc.status, str(exc))
    return HTTPException(404, str(exc))


@router.post("/{name}/preview", summary="Reserve the next lead for an agent (screen pop)")
async def next_lead(request: Request, name: str, agent: str = AGENT) -> dict[str, Any]:
    return await _show(request, agent, lambda desk: desk.next_for(name, agent))


async def _show(request: Request, agent: str,
                reserve: Callable[[PreviewDesk], Awaitable[Reservation]]) -> dict[str, Any]:
    """Reserve a lead for the agent (``reserve``) and answer its screen pop."""
    desk = _desk(request)
    _check_agent(request, agent)
    try:
        reservation = await reserve(desk)
    except (PreviewError, NotFound) as exc:
        raise _http(exc) from None
    service = _engine(request).acd
    if service is not None:
        # Not offered queue calls while reading the lead (a no-op when paused already).
        await service.handle(acd.AgentPaused(agent, "preview"))
    return {**reservation.as_dict(), "max_skips": desk.max_skips}


@router.post("/{name}/callbacks/{callback_id}/preview",
             summary="Take a due callback as a preview (its owner, or anyone for an anyone's)")
async def callback_lead(request: Request, name: str, callback_id: int,
                        agent: str = AGENT) -> dict[str, Any]:
    """The callback's lead reserved for the agent, as a preview lead is (any running campaign
    with agents); then dial or skip it with the preview calls above."""
    return await _show(request, agent, lambda desk: desk.callback_for(name, callback_id, agent))


@router.post("/{name}/preview/{lead_id}/dial", status_code=202,
             summary="Dial the reserved lead; the answer goes to this agent")
async def dial_lead(request: Request, name: str, lead_id: int,
                    agent: str = AGENT) -> dict[str, Any]:
    desk = _desk(request)
    _check_agent(request, agent)
    try:
        claimed = await desk.dial(name, lead_id, agent)
    except (PreviewError, NotFound) as exc:
        raise _http(exc) from None
    r = claimed.request
    return {"campaign": name, "lead_id": lead_id, "agent": agent, "number": r.number,
            "attempt": r.attempt_key, "ring_timeout_s": r.ring_timeout_s}


@router.post("/{name}/preview/{lead_id}/skip", summary="Put the reserved lead back")
async def skip_lead(request: Request, name: str, lead_id: int,
                    agent: str = AGENT) -> dict[str, Any]:
    desk = _desk(request)
    if agent not in _engine(request).directory.agents:
        raise HTTPException(404, f"no agent {agent!r}: check the code")
    try:
        skips = await desk.skip(name, lead_id, agent)
    except (PreviewError, NotFound) as exc:
        raise _http(exc) from None
    return {"campaign": name, "lead_id": lead_id, "agent": agent, "skipped": True,
            "skips_in_a_row": skips, "max_skips": desk.max_skips}
