"""The agent desktop in the browser: one static page over the REST API, and the agent's live desk.

``GET /desktop`` serves the page (``static/desktop.html``, plain HTML and JavaScript, no build
step). The agent signs in with their code (with authentication on, docs/security.md, an agent
user may act only as their own agent), sees and changes their state, sees the call they are on
as soon as it is connected (the screen pop: the campaign's lead with its own fields), holds and
transfers it, sets its disposition (with, for ``callback``, the time to call back in the lead's
local time and an "only me" box), asks preview campaigns for their next lead, and sees their
scheduled callbacks ("My callbacks"). Everything it does is an API call any other desktop could
make.

- ``GET /api/agents/{code}/desk``: the agent's desk now (JSON): state, reason, since and
  seconds in it, the current call, the last call awaiting a disposition, the disposition codes
  on offer and the running preview campaigns of this node.
- ``GET /api/agents/{code}/desk/stream``: the same as Server-Sent Events, one at once and a
  fresh one after each change of that agent's desk (``web/sse.py``, as the console's stream),
  a keep-alive comment when quiet; it ends when the engine stops. An open stream is the
  agent's desktop presence (:mod:`callcenter.calls.desktop_presence`): one the agent
  themselves opened (or anyone, with authentication off; a supervisor watching is not the
  agent) counts from when it starts until the client goes.

The desk is kept from the bus by the engine's :class:`~callcenter.calls.desk_service.
DeskService`, so it follows calls connected on any node sharing the broker.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from callcenter.calls import dispositions
from callcenter.web import sse
from callcenter.web.auth import principal
from callcenter.web.operations import _engine, _known_agent

if TYPE_CHECKING:
    from callcenter.calls.desk_service import DeskService
    from callcenter.calls.desktop_presence_service import DesktopPresenceService
    from callcenter.engine import Engine

router = APIRouter(tags=["agent desktop"])
PAGE = Path(__file__).with_name("static") / "desktop.html"
MIN_INTERVAL_S = 0.2  # a call's connection and the agent's new state come in one snapshot
KEEPALIVE_S = 15.0  # a comment line so proxies and the browser keep the connection


@router.get("/desktop", response_class=HTMLResponse, summary="The agent desktop (a web page)")
async def desktop() -> HTMLResponse:
    return HTMLResponse(PAGE.read_text(encoding="utf-8"))


def _desks(request: Request, code: str) -> DeskService:
    _known_agent(request, code)
    service = _engine(request).desks
    if service is None:
        raise HTTPException(503, "the agents' desks are not running yet: retry in a moment")
    return service


def preview_campaigns(engine: Engine) -> list[str]:
    """The preview campaigns running on this node (their agents ask for the next lead)."""
    dialer = engine.dialer
    if dialer is None:
        return []
    return [c.campaign for c in dialer.live() if c.dial_mode == "preview"]


def desk_view(engine: Engine, service: DeskService, code: str,
              codes: list[dict[str, object]]) -> dict[str, Any]:
    entry = engine.directory.agents[code]
    return {
        **service.desks.get(code).as_dict(datetime.now(UTC)),
        "name": entry.name,
        "at": time.time(),
        "dispositions": codes,
        "preview_campaigns": preview_campaigns(engine),
    }


@router.get("/api/agents/{code}/desk", summary="An agent's desk: state, current and last call")
async def desk(request: Request, code: str) -> dict[str, Any]:
    service, engine = _desks(request, code), _engine(request)
    return desk_view(engine, service, code, await dispositions.active(engine.db))


@router.get("/api/agents/{code}/desk/stream", summary="An agent's desk as Server-Sent Events")
async def desk_stream(request: Request, code: str) -> StreamingResponse:
    service, engine = _desks(request, code), _engine(request)
    codes = await dispositions.active(engine.db)  # read once a stream: they seldom change
    events = _events(engine, service, code, codes)
    who = principal(request)
    if engine.desktop_presence is not None and (who is None or who.agent == code):
        events = _present(engine.desktop_presence, code, events)
    return sse.response(events)


async def _present(presence: DesktopPresenceService, code: str,
                   events: AsyncIterator[str]) -> AsyncIterator[str]:
    """The stream, counted as the agent's desktop while it runs (Starlette cancels it when
    the client goes, and the ``finally`` tells the presence so)."""
    stream_id = await presence.opened(code)
    try:
        async for chunk in events:
            yield chunk
    finally:
        presence.closed(code, stream_id)


def _events(engine: Engine, service: DeskService, code: str,
            codes: list[dict[str, object]]) -> AsyncIterator[str]:
    shown: list[list[str]] = []

    def snapshot() -> dict[str, Any]:
        view = desk_view(engine, service, code, codes)
        shown[:] = [view["preview_campaigns"]]
        return view

    def quiet() -> dict[str, Any] | None:
        # A preview campaign started or stopped: no desk changed, but the buttons must.
        return snapshot() if [preview_campaigns(engine)] != shown else None

    return sse.snapshot_stream(
        service.changes, snapshot, watched=lambda: service.desks.revision(code),
        min_interval_s=MIN_INTERVAL_S, keepalive_s=KEEPALIVE_S, quiet=quiet)
