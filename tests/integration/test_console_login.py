"""The supervisors' console in headless Chromium on a whole engine with ``http.auth=required``:
the page asks for a login (the API answered 401), shows a wrong password's message, then the
live console with who is logged in, follows an agent's change made elsewhere, says which role
an agent lacks, and logs out back to the form."""

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


def test_the_console_asks_for_a_login_then_goes_live(running: Running) -> None:
    expect = playwright.expect
    with playwright.sync_playwright() as p, httpx.Client(
            base_url=running.base, headers={"Authorization": f"Bearer {running.token}"}) as api:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{running.base}/console")
        expect(page.locator("#login")).to_be_visible()
        expect(page.locator("#console")).to_be_hidden()

        page.fill("#username", "sue")
        page.fill("#password", "not-the-password")
        page.click("#login button[type=submit]")
        expect(page.locator("#login-error")).to_have_text("wrong user name or password")

        page.fill("#password", "supervisor-pass")
        page.click("#login button[type=submit]")
        expect(page.locator("#connection")).to_have_text("live")
        expect(page.locator("#who")).to_have_text("Sue Park (sue)")
        expect(page.locator("#login")).to_be_hidden()
        state = page.locator("#agents tr[data-agent='1001'] td.state")
        expect(state).to_have_text("logged-out")
        assert api.post("/api/agents/1001/login").status_code == 200  # elsewhere: live here
        expect(state).to_have_text("available")

        page.click("#logout")
        expect(page.locator("#login")).to_be_visible()
        assert page.context.cookies() == []  # the cookie is gone
        page.reload()
        expect(page.locator("#login")).to_be_visible()

        page.fill("#username", "ann")  # an agent: logged in, but the console is not theirs
        page.fill("#password", "agent-pass-1")
        page.click("#login button[type=submit]")
        expect(page.locator("#notice")).to_contain_text("needs the admin or supervisor role")
        expect(page.locator("#who")).to_have_text("ann")
        browser.close()
