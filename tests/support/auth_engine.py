"""A whole engine with ``http.auth=required`` on its own loop and thread, for browser tests
(Playwright's sync API cannot run inside the test's event loop): Twilio over a stand-in, no
SIP, supervisor sue, agent ann (1001) in the support queue."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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
    """Start it; yield its address; stop it."""
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
