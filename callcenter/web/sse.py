"""Server-Sent Events of live snapshots, shared by the supervisors' console and the agent
desktop.

:func:`snapshot_stream` sends one snapshot at once, then a fresh one each time what the
stream watches changes (at most one per ``min_interval_s``: changes meanwhile go into one
snapshot), and a keep-alive comment when nothing changed for ``keepalive_s`` (or the
``quiet`` snapshot instead, when there is one: figures that move without a change). It ends
when the client goes (Starlette cancels the generator) or when its :class:`~callcenter.calls.
changes.Changes` is closed (the engine stops: uvicorn waits for open responses).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from fastapi.responses import StreamingResponse

if TYPE_CHECKING:
    from callcenter.calls.changes import Changes

Snapshot = Callable[[], dict[str, Any]]
RETRY_MS = 2000  # how soon the browser reconnects after losing the stream


def response(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def snapshot_stream(
    changes: Changes,
    snapshot: Snapshot,
    *,
    min_interval_s: float,
    keepalive_s: float,
    watched: Callable[[], int] | None = None,
    quiet: Callable[[], dict[str, Any] | None] = lambda: None,
) -> AsyncIterator[str]:
    """``watched`` is the revision of what this stream shows (by default every change's)."""
    revision = watched or (lambda: changes.revision)
    loop = asyncio.get_running_loop()
    yield f"retry: {RETRY_MS}\n\n"
    seen, sent_at = -1, float("-inf")
    while not changes.closed:
        if revision() != seen:
            if (pause := sent_at + min_interval_s - loop.time()) > 0:
                await asyncio.sleep(pause)  # changes meanwhile go into this one snapshot
            seen = revision()
            yield event(snapshot())
            sent_at = loop.time()
        quiet_since = loop.time()
        while revision() == seen and not changes.closed and (
                left := keepalive_s - (loop.time() - quiet_since)) > 0:
            await changes.next_change(changes.revision, left)  # wakes on any change
        if revision() == seen and not changes.closed:
            fresh = quiet()
            yield event(fresh) if fresh is not None else ": keep-alive\n\n"


def event(data: dict[str, Any]) -> str:
    return f"event: snapshot\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
