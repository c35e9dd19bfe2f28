"""The supervisors' console in headless Chromium on a whole engine with ``http.auth=required``:
the page asks for a login (the API answered 401), shows a wrong password's message, then the
live console with who is logged in, follows an agent's change made elsewhere, says which role
an agent lacks, and logs out back to the form."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from callcenter.engine import Engine
from callcenter.store import AgentRepository, QueueRepository, open_database
from callcenter.store.users import UserRepository
from tests.support.twilio_standin import TwilioStandIn, whole_engine_settings

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt install chromium)")
FLOW = Path(__file__).parent / "flows" / "sip_queue.yaml"
T = TypeVar("T")


@dataclass
class Running:
    base: str
    token: str  # a supervisor's API token, for changes made outside the page
    loop: asyncio.AbstractEventLoop

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(60)


@pytest.fixture
def running(tmp_path: Path, sqlite_url: str) -> Iterator[Running]:
    """A whole engine (Twilio over a stand-in, no SIP) on its own loop and thread, with
    authentication required, supervisor sue, agent ann (1001) in the support queue."""
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
