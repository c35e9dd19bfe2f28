"""The IVR's ``HttpRequest`` (a CRM look-up) performed for a call, answered as ``HttpResult``.

Server side for both voice layers: a timeout, a non-2xx status or a body that is not JSON is a
failure the flow routes on (``on_failure``), never an exception.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from callcenter import ivr
from callcenter.ivr import templates


async def perform_http(
    h: ivr.HttpRequest, transport: httpx.AsyncBaseTransport | None = None
) -> ivr.HttpResult:
    now = datetime.now(UTC)
    try:
        async with httpx.AsyncClient(timeout=h.timeout_s, transport=transport) as client:
            reply = await client.request(
                h.method,
                h.url,
                headers=dict(h.headers),
                json=templates.reveal(h.body) if h.body else None,
            )
        if not reply.is_success:
            return ivr.HttpResult(
                False, reply.status_code, error=f"HTTP {reply.status_code}", now=now
            )
        return ivr.HttpResult(True, reply.status_code, reply.json(), now=datetime.now(UTC))
    except (httpx.HTTPError, ValueError) as exc:
        return ivr.HttpResult(False, error=f"{type(exc).__name__}: {exc}", now=datetime.now(UTC))
