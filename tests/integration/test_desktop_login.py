"""The agent desktop in headless Chromium on a whole engine with ``http.auth=required``: the
page asks for a login (the API answered 401), then fills in the agent code of the user
(``/api/me``), shows who is logged in, follows the agent's state live, refuses another agent's
desk with the API's message, and logs out back to the form."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.auth_engine import (
    Running,
    log_in_after_a_wrong_password,
    page_and_api,
    running_engine,
)

running = pytest.fixture(running_engine)


def test_the_desktop_asks_for_a_login_and_fills_in_the_agent(
        chromium: str, running: Running) -> None:
    with page_and_api(running, chromium, "/desktop") as (page, api):
        log_in_after_a_wrong_password(page, "#desk", "ann", "agent-pass-1")
        expect(page.locator("#who")).to_have_text("ann")
        expect(page.locator("#agent")).to_have_value("1001")  # from /api/me
        expect(page.locator("#connection")).to_have_text("live")
        expect(page.locator("#state")).to_have_text("logged out")
        page.click("#login")  # the agent's own state, through the cookie (and its Origin)
        expect(page.locator("#state")).to_have_text("ready")
        assert api.post("/api/agents/1001/pause", json={"reason": "coach"}).status_code == 200
        expect(page.locator("#state")).to_have_text("paused")  # a supervisor's change, live

        page.fill("#agent", "1002")  # not ann's: the API's 403 is shown
        page.click("#sign-in button[type=submit]")
        expect(page.locator("#result")).to_contain_text("agent in the path")

        page.click("#sign-out")
        expect(page.locator("#auth")).to_be_visible()
        expect(page.locator("#desk")).to_be_hidden()
        assert page.context.cookies() == []
