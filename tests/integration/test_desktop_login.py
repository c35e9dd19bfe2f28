"""The agent desktop in headless Chromium on a whole engine with ``http.auth=required``: the
page asks for a login (the API answered 401), then fills in the agent code of the user
(``/api/me``), shows who is logged in, follows the agent's state live, refuses another agent's
desk with the API's message, and logs out back to the form."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.auth_engine import Running, running_engine

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt install chromium)")


@pytest.fixture
def running(tmp_path: Path, sqlite_url: str) -> Iterator[Running]:
    yield from running_engine(tmp_path, sqlite_url)


def test_the_desktop_asks_for_a_login_and_fills_in_the_agent(running: Running) -> None:
    expect = playwright.expect
    with playwright.sync_playwright() as p, httpx.Client(
            base_url=running.base, headers={"Authorization": f"Bearer {running.token}"}) as api:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{running.base}/desktop")
        expect(page.locator("#auth")).to_be_visible()
        expect(page.locator("#desk")).to_be_hidden()

        page.fill("#auth-username", "ann")
        page.fill("#auth-password", "wrong-password")
        page.click("#auth button[type=submit]")
        expect(page.locator("#auth-error")).to_have_text("wrong user name or password")
        page.fill("#auth-password", "agent-pass-1")
        page.click("#auth button[type=submit]")

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
        browser.close()
