"""The agent desktop in headless Chromium on a whole engine with ``http.auth=required``: the
page asks for a login (the API answered 401), then fills in the agent code of the user
(``/api/me``), shows who is logged in, follows the agent's state live, refuses another agent's
desk with the API's message, and logs out back to the form. And the page's answers held back
and let through in the worst order: an answer about an agent no longer chosen never lands."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Route, expect

from tests.support.auth_engine import (
    Running,
    log_in,
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


class HeldAnswers:
    """The page's requests whose URL names ``text``, held back until :meth:`let_through`."""

    def __init__(self, page: Page, text: str) -> None:
        self.page, self.routes = page, list[Route]()
        page.route(lambda url: text in url, self._hold)

    def _hold(self, route: Route) -> None:
        self.routes.append(route)

    def wait_for(self, path: str) -> None:
        """Until the page has asked for ``path`` (the route's handler runs on the page's events)."""
        for _ in range(200):
            if any(path in r.request.url for r in self.routes):
                return
            self.page.wait_for_timeout(25)
        asked = [r.request.url for r in self.routes]
        raise AssertionError(f"the page never asked for {path}, only for {asked}")

    def let_through(self, path: str = "") -> None:
        """Let the held requests for ``path`` (all of them by default) reach the engine, and
        wait until the page has had their answers (or had aborted them)."""
        chosen = [r for r in self.routes if path in r.request.url]
        self.routes = [r for r in self.routes if r not in chosen]
        for route in chosen:
            route.fallback()
        for route in chosen:
            response = route.request.response()  # None for a request the page aborted
            if response is not None:
                response.finished()
        # The page had those answers whole before this round trip to the engine: their
        # handlers have run by its end.
        self.page.evaluate("() => fetch('/api/me').then(() => new Promise(setTimeout))")


def test_an_answer_about_an_agent_no_longer_chosen_never_lands(
        chromium: str, running: Running) -> None:
    with page_and_api(running, chromium, "/desktop") as (page, _):
        log_in(page, "ann", "agent-pass-1")
        expect(page.locator("#connection")).to_have_text("live")
        held = HeldAnswers(page, "1002")

        # Another agent's code, signed in by a click (the field's change comes first): the
        # desk's refusal is the message, whatever else the page asked about 1002 answers after.
        page.fill("#agent", "1002")
        page.click("#sign-in button[type=submit]")
        held.wait_for("/api/agents/1002/desk")
        held.let_through("/api/agents/1002/desk")
        expect(page.locator("#result")).to_contain_text("agent in the path")
        held.let_through()
        expect(page.locator("#result")).to_contain_text("agent in the path")
        expect(page.locator("#state")).to_have_text("signed out")

        # 1002's desk answers only after ann signed in again as 1001: 1001's desk stays.
        page.click("#sign-in button[type=submit]")
        held.wait_for("/api/agents/1002/desk")
        page.fill("#agent", "1001")
        page.click("#sign-in button[type=submit]")
        expect(page.locator("#connection")).to_have_text("live")
        expect(page.locator("#result")).to_have_text("Signed in as 1001.")
        held.let_through()
        expect(page.locator("#result")).to_have_text("Signed in as 1001.")
        expect(page.locator("#connection")).to_have_text("live")
        expect(page.locator("#state")).to_have_text("logged out")
        page.click("#login")  # and the buttons act for 1001
        expect(page.locator("#state")).to_have_text("ready")
