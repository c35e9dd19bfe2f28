"""The agent desktop in the browser: one static page over the REST API.

``GET /desktop`` serves it (``static/desktop.html``, plain HTML and JavaScript, no build
step): the agent sets a call's disposition (with, for ``callback``, the time to call back in
the lead's local time and an "only me" box) and sees their scheduled callbacks ("My
callbacks"), taking a due one as a preview and dialing it. Everything it does is an API call
any other desktop could make.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["agent desktop"])
PAGE = Path(__file__).with_name("static") / "desktop.html"


@router.get("/desktop", response_class=HTMLResponse, summary="The agent desktop (a web page)")
async def desktop() -> HTMLResponse:
    return HTMLResponse(PAGE.read_text(encoding="utf-8"))
