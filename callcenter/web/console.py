"""The supervisors' live console: queue and agent figures pushed to the browser.

``GET /console`` serves the page (``static/console.html``, plain HTML and JavaScript, no build
step). ``GET /api/console/stream`` is a Server-Sent Events stream of snapshots read from the
live ACD in memory (never from the database): one at once, then one after each change the
ACD handles (an agent logs in, pauses, takes a call; a caller arrives or hangs up), at most
one a second, and a keep-alive comment when nothing changed for a while (a fresh snapshot
instead while a campaign runs: its figures move without the ACD). Running and paused campaigns
come from the bus (``campaign.stats``, published by whichever node runs each: the engine's
:class:`~callcenter.calls.campaign_board_service.CampaignBoardService`), not from the database,
so every node's console shows every node's campaigns, each with its node, the age of its
figures and ``stale`` when its node went quiet. Times in state and
the longest wait are sent as seconds at the snapshot's instant; the page counts them up
between snapshots. ``GET /api/console`` returns the same snapshot once, for scripts.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from callcenter.acd import AgentState
from callcenter.web import sse
from callcenter.web.operations import _acd, _engine

if TYPE_CHECKING:
    from callcenter.calls import AcdService
    from callcenter.calls.directory import Directory

Campaigns = Callable[[], Sequence[dict[str, Any]]]

router = APIRouter(tags=["supervisor console"])
PAGE = Path(__file__).with_name("static") / "console.html"
MIN_INTERVAL_S = 1.0  # at most one snapshot a second, however busy the ACD is
KEEPALIVE_S = 15.0  # a comment line so proxies and the browser keep the connection
_COUNTED = [s.value for s in AgentState if s is not AgentState.LOGGED_OUT]


def snapshot(service: AcdService, directory: Directory,
             campaigns: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """Every queue and agent as the ACD sees them now, and the campaigns as the bus last
    told them (JSON-ready)."""
    router, now = service.router, service.clock()
    agents = []
    counts: dict[str, dict[str, int]] = {q: dict.fromkeys(_COUNTED, 0) for q in directory.queues}
    for code, entry in sorted(directory.agents.items()):
        state = router.agent_state(code)
        since = service.state_since.get(code)
        queues = sorted(entry.profile.queues)
        agents.append({
            "code": code,
            "name": entry.name,
            "state": state,
            "in_state_s": round(now - since, 1) if since is not None else None,
            "pause_reason": router.pause_reason(code),  # why paused (None: not paused)
            "queues": queues,
        })
        for q in queues:
            if state in counts.get(q, {}):
                counts[q][state] += 1
    queues_out = []
    for name in sorted(directory.queues):
        s = router.queue_stats(name, now)
        queues_out.append({
            "queue": name,
            "waiting": s.waiting,
            "longest_wait_s": round(s.longest_wait_s, 1),
            "agents": counts[name],
            "offered": s.offered,
            "answered": s.answered,
            "abandoned": s.abandoned,
            "service_level_pct": round(s.service_level_pct, 1),
            "abandon_pct": round(s.abandon_pct, 1),
            "asa_s": round(s.asa_s, 1),
        })
    return {"at": time.time(), "revision": service.revision, "queues": queues_out,
            "agents": agents, "campaigns": list(campaigns)}


def _campaigns(request: Request) -> Campaigns:
    board = getattr(_engine(request), "campaigns", None)
    return board.live if board is not None else list


@router.get("/console", response_class=HTMLResponse, summary="The supervisors' live console")
async def console_page() -> HTMLResponse:
    return HTMLResponse(PAGE.read_text(encoding="utf-8"))


@router.get("/api/console", summary="The console's snapshot of queues and agents, once")
async def console_snapshot(request: Request) -> dict[str, Any]:
    return snapshot(_acd(request), _engine(request).directory, _campaigns(request)())


@router.get("/api/console/stream", summary="The console's snapshots as Server-Sent Events")
async def console_stream(request: Request) -> StreamingResponse:
    service, directory = _acd(request), _engine(request).directory
    return sse.response(_events(service, directory, _campaigns(request)))


def _events(service: AcdService, directory: Directory,
            campaigns: Campaigns = list) -> AsyncIterator[str]:
    def quiet() -> dict[str, Any] | None:
        live = campaigns()  # a running campaign's figures move without the ACD
        return snapshot(service, directory, live) if live else None

    return sse.snapshot_stream(
        service.changes, lambda: snapshot(service, directory, campaigns()),
        min_interval_s=MIN_INTERVAL_S, keepalive_s=KEEPALIVE_S, quiet=quiet)
