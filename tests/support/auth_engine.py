"""A whole engine with ``http.auth=required`` on its own loop and thread, for browser tests
(Playwright's sync API cannot run inside the test's event loop): Twilio over a stand-in, no
SIP, supervisor sue, agent ann (1001) in the support queue. And the browser's side: a page on
the engine next to an API client, and the login form's steps."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from playwright.sync_api import Locator, Page, expect, sync_playwright

from callcenter.engine import Engine
from callcenter.store import AgentRepository, QueueRepository, open_database
from callcenter.store.users import UserRepository
from tests.support.twilio_standin import TwilioStandIn, whole_engine_settings

FLOW = Path(__file__).parents[1] / "integration" / "flows" / "sip_queue.yaml"


@dataclass
class Running:
    base: str
    token: str  # a supervisor's API token, for changes made outside the page
    loop: asyncio.AbstractEventLoop


def running_engine(tmp_path: Path, sqlite_url: str) -> Iterator[Running]:
    """Start it; yield its address; stop it. A test module makes it its fixture with
    ``running = pytest.fixture(running_engine)`` (its arguments are fixtures too)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[TwilioStandIn, Engine, str]:
        standin = TwilioStandIn()
        await standin.start()
        settings = whole_engine_settings(tmp_path, sqlite_url, standin,
                                         numbers={"+15550200": str(FLOW)})
        settings.http.auth = "required"
        db = open_database(sqlite_url)
        with db.session() as s:
            AgentRepository(s).add("1001", "Ann Lee", "client:ann")
            QueueRepository(s).add_member("support", "1001")
            users = UserRepository(s)
            users.add("sue", ["supervisor"], "supervisor-pass", display_name="Sue Park")
            users.add("ann", ["agent"], "agent-pass-1", agent="1001")
            token = users.add_token("sue", "test")[1]
        db.dispose()
        engine = Engine(settings)
        await engine.start()
        return standin, engine, token

    standin, engine, token = asyncio.run_coroutine_threadsafe(start(), loop).result(60)
    yield Running(f"http://127.0.0.1:{engine.http_port}", token, loop)

    async def stop() -> None:
        await engine.stop()
        await standin.stop()

    asyncio.run_coroutine_threadsafe(stop(), loop).result(60)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


@contextmanager
def page_and_api(running: Running, chromium: str, path: str) -> Iterator[tuple[Page, httpx.Client]]:
    """Headless ``chromium`` opened on the engine's ``path``, not logged in, and an API client
    with the supervisor's token, for changes made outside the page."""
    with sync_playwright() as p, httpx.Client(
            base_url=running.base, headers={"Authorization": f"Bearer {running.token}"}) as api:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{running.base}{path}")
        yield page, api
        browser.close()


def login_form(page: Page) -> Locator:
    """The page's login form: the console's and the desktop's have their own ids, the same
    labels."""
    return page.locator("form", has=page.get_by_label("User name"))


def log_in(page: Page, user: str, password: str) -> None:
    """Submit the page's login form as ``user``."""
    form = login_form(page)
    form.get_by_label("User name").fill(user)
    form.get_by_label("Password").fill(password)
    form.locator("button[type=submit]").click()


def log_in_after_a_wrong_password(page: Page, hidden: str, user: str, password: str) -> None:
    """The page shows its login form instead of ``hidden`` (what it shows once logged in); the
    form refuses a wrong password with the API's message; then ``user`` logs in."""
    form = login_form(page)
    expect(form).to_be_visible()
    expect(page.locator(hidden)).to_be_hidden()
    log_in(page, user, "not-the-password")
    expect(form.locator("[role=alert]")).to_have_text("wrong user name or password")
    log_in(page, user, password)
