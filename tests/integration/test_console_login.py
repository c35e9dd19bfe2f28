"""The supervisors' console in headless Chromium on a whole engine with ``http.auth=required``:
the page asks for a login (the API answered 401), shows a wrong password's message, then the
live console with who is logged in, follows an agent's change made elsewhere, says which role
an agent lacks, and logs out back to the form."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.auth_engine import (
    Running,
    log_in,
    log_in_after_a_wrong_password,
    page_and_api,
    running_engine,
)

running = pytest.fixture(running_engine)


def test_the_console_asks_for_a_login_then_goes_live(chromium: str, running: Running) -> None:
    with page_and_api(running, chromium, "/console") as (page, api):
        log_in_after_a_wrong_password(page, "#console", "sue", "supervisor-pass")
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

        log_in(page, "ann", "agent-pass-1")  # an agent: logged in, but the console is not theirs
        expect(page.locator("#notice")).to_contain_text("needs the admin or supervisor role")
        expect(page.locator("#who")).to_have_text("ann")
