"""The agent desktop in headless Chromium (Playwright): an agent books a callback for
themselves through the page (the date-time field and "only me" box appear for the callback
disposition only), the callback is in the database as typed, in the lead's time zone, and
shows under "My callbacks"; a bad time shows the API's message."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from fastapi import FastAPI
from playwright import sync_api as playwright
from sqlalchemy import select

from callcenter.bus import InProcessBus
from callcenter.store import Database
from callcenter.web import callbacks, desktop, operations
from dialer.store import Callback, Lead
from tests.integration import test_campaigns_support as support

NY = ZoneInfo("America/New_York")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(sqlite_url: str) -> Iterator[tuple[str, Database, dict[str, str]]]:
    """The desktop and its API on loopback, over a campaign with two answered calls."""
    db, calls = asyncio.run(support.answered_campaign(sqlite_url, support.NYC[:2]))
    app = FastAPI()
    app.state.db = db
    app.state.engine = SimpleNamespace(db=db, backoffice=None, acd=None, bus=InProcessBus("t"))
    for router in (operations.router, callbacks.router, desktop.router):
        app.include_router(router)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.05)
    yield f"http://127.0.0.1:{port}", db, calls
    server.should_exit = True
    thread.join(5)
    db.dispose()


def test_an_agent_books_a_callback_for_themselves(
        chromium: str, served: tuple[str, Database, dict[str, str]]) -> None:
    base, db, calls = served
    day = datetime.now(NY).date() + timedelta(days=3)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{base}/desktop")
        page.fill("#agent", "ann")
        page.fill("#call-id", calls[support.NYC[0]])
        fields = page.locator("#callback-fields")
        assert not fields.is_visible()
        page.get_by_role("button", name="Call back requested").click()  # asks for the time
        assert fields.is_visible()

        page.fill("#callback-at", "2020-01-01T10:00")  # the past: the API's 422 is shown
        page.click("#save")
        page.wait_for_selector("#result.error")
        assert "in the past" in page.inner_text("#result")

        page.fill("#callback-at", f"{day.isoformat()}T15:30")
        page.check("#only-me")
        page.fill("#notes", "wants the gold plan")
        page.click("#save")
        page.wait_for_function(
            "document.querySelector('#result').textContent.includes('booked')")
        assert "for ann only" in page.inner_text("#result")
        assert "local time in America/New_York" in page.inner_text("#result")
        row = page.locator("#my-callbacks tbody tr")
        row.first.wait_for()
        assert row.count() == 1
        text = row.first.inner_text()
        assert support.NYC[0] in text and "scheduled" in text and "wants the gold plan" in text
        assert not page.locator("#due").is_visible()

        with db.session() as s:  # its time comes: the page says so on its next look
            (cb,) = s.scalars(select(Callback)).all()
            due = datetime.combine(day, datetime.min.time().replace(hour=15, minute=30), NY)
            assert cb.due_at.replace(tzinfo=cb.due_at.tzinfo or UTC) == due
            lead = s.get(Lead, cb.lead_id)
            assert lead is not None
            cb.due_at = lead.next_attempt_at = datetime.now(UTC) - timedelta(minutes=1)
        page.click("#refresh")
        page.wait_for_selector("#due", state="visible")
        assert "A callback is due now" in page.inner_text("#due")
        assert support.NYC[0] in page.inner_text("#due")
        assert page.get_by_role("button", name="Call now").count() == 1
        browser.close()

    with db.session() as s:
        (cb,) = s.scalars(select(Callback)).all()
        assert (cb.owner, cb.state, cb.note) == ("ann", "pending", "wants the gold plan")
