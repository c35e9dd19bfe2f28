"""Two engine nodes on one database, over real HTTP: the API of the node that does not lead
the ACD sends the live ACD's requests on to the leader (callcenter/web/forwarding.py).

Node ``a`` runs in this process and leads (it starts first); node ``b`` is a ``callcenter
serve`` process. Both require authentication, with one session secret; no SIP (the ACD's
leadership does not need it). Agent ann (1001) and bob (1002) are in the support queue.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import update
from sqlalchemy.orm import Session

from callcenter import acd
from callcenter.config import Settings
from callcenter.engine import Engine
from callcenter.store import AgentRepository, Database, QueueRepository, upgrade
from callcenter.store.leases import NodeLease
from callcenter.store.users import UserRepository
from tests.support.brokers import free_port
from tests.support.cluster import NodeProcess, cluster_settings

PASSWORDS = {"sue": "supervisor-pass", "ann": "agent-pass-1", "bob": "agent-pass-2"}
HOP = "X-CC-Forwarded-By"


def settings(tmp_path: Path, url: str, node: str, **cluster: object) -> Settings:
    s = cluster_settings(tmp_path, url, node, {})
    s.sip.enabled = False
    s.http.auth = "required"
    s.http.session_secret = SecretStr("the-same-on-every-node")
    for key, value in cluster.items():
        setattr(s.cluster, key, value)
    return s


def add_people(url: str) -> dict[str, str]:
    """The agents and users; the API tokens of sue (supervisor) and ann (agent 1001)."""
    db = Database(url)
    upgrade(db)
    with db.session() as s:
        for code, name in (("1001", "Ann"), ("1002", "Bob")):
            AgentRepository(s).add(code, name, f"sip:{code}@127.0.0.1")
            QueueRepository(s).add_member("support", code)
        users = UserRepository(s)
        users.add("sue", ["supervisor"], PASSWORDS["sue"])
        users.add("ann", ["agent"], PASSWORDS["ann"], agent="1001")
        users.add("bob", ["agent"], PASSWORDS["bob"], agent="1002")
        tokens = {name: users.add_token(name, "tests")[1] for name in ("sue", "ann")}
    db.dispose()
    return tokens


@pytest.fixture
def tokens(sqlite_url: str) -> dict[str, str]:
    return add_people(sqlite_url)


@pytest.fixture
async def leader(tmp_path: Path, sqlite_url: str, tokens: dict[str, str]
                 ) -> AsyncIterator[Engine]:
    eng = Engine(settings(tmp_path, sqlite_url, "a"))
    await eng.start()
    assert eng.leadership is not None and eng.leadership.is_leader
    yield eng
    await eng.stop()


@pytest.fixture
async def follower(tmp_path: Path, sqlite_url: str, leader: Engine) -> AsyncIterator[NodeProcess]:
    node = NodeProcess(tmp_path, settings(tmp_path, sqlite_url, "b"))
    await node.start()
    yield node
    await node.stop()


@pytest.fixture
async def via_b(follower: NodeProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{follower.http_port}",
                                 timeout=20) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def snapshots(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """The ``data`` of each event of a Server-Sent Events stream, as it comes."""
    async for line in response.aiter_lines():
        if line.startswith("data: "):
            yield json.loads(line.removeprefix("data: "))


def agent_state(snapshot: dict[str, Any], code: str) -> str:
    return next(a["state"] for a in snapshot["agents"] if a["code"] == code)


async def test_an_agent_logged_in_on_the_follower_is_the_leaders(
    leader: Engine, via_b: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    assert leader.acd is not None
    # The follower knows where the leader listens (its port was picked at start).
    cluster = await via_b.get("/api/cluster", headers=bearer(tokens["sue"]))
    assert cluster.status_code == 200 and "x-cc-served-by" not in cluster.headers  # local
    assert cluster.json()["node"] == "b"
    assert cluster.json()["leader"]["http_url"] == f"http://127.0.0.1:{leader.http_port}"
    # Both nodes are up (their heartbeats), a leading, each with the addresses it gave.
    nodes = {n["node"]: n for n in cluster.json()["nodes"]}
    assert {k: (n["condition"], n["leads"]) for k, n in nodes.items()} == {
        "a": ("up", True), "b": ("up", False)}
    assert nodes["a"]["http_url"] == f"http://127.0.0.1:{leader.http_port}"
    assert nodes["b"]["sip_uri"] and nodes["b"]["version"]

    # ann logs in to the follower's pages (local: a session cookie), then works from them.
    login = await via_b.post("/api/login", json={"username": "ann",
                                                 "password": PASSWORDS["ann"]})
    assert login.status_code == 200, login.text
    assert "x-cc-served-by" not in login.headers
    page = {"Origin": str(via_b.base_url).rstrip("/")}  # the CSRF rule: from b's own pages
    done = await via_b.post("/api/agents/1001/login", headers=page)
    assert done.status_code == 200, done.text
    assert done.headers["x-cc-served-by"] == "a"
    assert done.headers["content-type"] == "application/json"
    assert done.json() == {"agent_id": "1001", "state": "available"}
    assert leader.acd.router.agent_state("1001") == "available"
    paused = await via_b.post("/api/agents/1001/pause", headers=page, json={"reason": "lunch"})
    assert paused.json()["state"] == "paused"
    assert leader.acd.router.pause_reason("1001") == "lunch"
    ready = await via_b.post("/api/agents/1001/ready", headers=page)
    assert ready.json()["state"] == "available"
    assert leader.acd.router.agent_state("1001") == "available"
    # Another agent's state is not ann's to change: the leader says so.
    other = await via_b.post("/api/agents/1002/login", headers=page)
    assert other.status_code == 403 and other.headers["x-cc-served-by"] == "a"
    assert leader.acd.router.agent_state("1002") == "logged_out"

    # The supervisor's live figures through the follower are the leader's.
    sue = bearer(tokens["sue"])
    queues = await via_b.get("/api/queues", headers=sue)
    assert queues.status_code == 200 and queues.headers["x-cc-served-by"] == "a"
    assert [q["queue"] for q in queues.json()] == sorted(leader.directory.queues)
    agents = {a["agent_id"]: a["state"] for a in (await via_b.get("/api/agents",
                                                                    headers=sue)).json()}
    assert agents == {"1001": "available", "1002": "logged_out"}

    # A request already forwarded once is answered where it arrives: the follower's own ACD.
    again = await via_b.get("/api/agents", headers={**sue, HOP: "c"})
    assert again.status_code == 200 and "x-cc-served-by" not in again.headers
    assert {a["agent_id"]: a["state"] for a in again.json()}["1001"] == "logged_out"


async def test_the_leader_refuses_what_it_would_refuse_itself(
    leader: Engine, via_b: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    assert leader.acd is not None
    anonymous = await via_b.post("/api/agents/1001/ready")
    assert anonymous.status_code == 401
    assert anonymous.headers["x-cc-served-by"] == "a"
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert "authentication required" in anonymous.json()["detail"]
    assert (await via_b.get("/api/console")).status_code == 401
    # A cookie-authenticated change from another site: the leader's CSRF rule holds.
    await via_b.post("/api/login", json={"username": "ann", "password": PASSWORDS["ann"]})
    forged = await via_b.post("/api/agents/1001/login", headers={"Origin": "http://evil.test"})
    assert forged.status_code == 403 and forged.headers["x-cc-served-by"] == "a"
    assert "cross-site" in forged.json()["detail"]
    # An agent's token on their own agent is fine.
    assert (await via_b.post("/api/agents/1001/login", headers=bearer(tokens["ann"]))
            ).status_code == 200
    assert leader.acd.router.agent_state("1001") == "available"


async def test_streams_through_the_follower_deliver_the_leaders_changes(
    leader: Engine, follower: NodeProcess, via_b: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    assert leader.acd is not None and leader.desktop_presence is not None
    async with via_b.stream("GET", "/api/console/stream",
                            headers=bearer(tokens["sue"])) as console, \
            via_b.stream("GET", "/api/agents/1001/desk/stream",
                         headers=bearer(tokens["ann"])) as desk:
        assert console.status_code == 200 and desk.status_code == 200
        assert console.headers["content-type"].startswith("text/event-stream")
        assert console.headers["x-cc-served-by"] == "a"
        consoles, desks = snapshots(console), snapshots(desk)
        first = await asyncio.wait_for(anext(consoles), 10)
        assert agent_state(first, "1001") == "logged_out"
        assert (await asyncio.wait_for(anext(desks), 10))["state"] == "logged_out"

        await leader.acd.handle(acd.AgentLoggedIn("1001"))

        async def state_changed() -> dict[str, Any]:
            async for snap in consoles:
                if agent_state(snap, "1001") == "available":
                    return snap
            raise AssertionError("the console stream ended")

        await asyncio.wait_for(state_changed(), 10)  # pushed, not polled: within a second
        # The desk stream opened through the follower is ann's desktop on the leader.
        assert leader.desktop_presence.tracker.open_streams("1001") == 1

        # An open forwarded stream does not hold up the follower's stop.
        started = time.monotonic()
        assert await follower.stop() == 0
        assert time.monotonic() - started < 10


async def test_a_forwarded_stream_ends_when_another_node_leads(
    leader: Engine, via_b: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    """A leader that died sends no end: the follower ends the stream once it sees another
    leader, and the browser reconnects (to the new one)."""
    async with via_b.stream("GET", "/api/console/stream",
                            headers=bearer(tokens["sue"])) as console:
        events = snapshots(console)
        await asyncio.wait_for(anext(events), 10)

        def taken_by_c(s: Session) -> None:  # node c took the lease (a expired, to it)
            s.execute(update(NodeLease).where(NodeLease.name == "acd").values(
                node="c", term=NodeLease.term + 1,
                expires_at=datetime.now(UTC) + timedelta(seconds=60)))

        await leader.db.run(taken_by_c)
        started = time.monotonic()
        async for _ in events:  # until the follower ends it
            pass
        assert time.monotonic() - started < 8


async def test_a_follower_whose_leader_is_unreachable_says_so(
    tmp_path: Path, sqlite_url: str, tokens: dict[str, str]
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # where nothing listens
    leader = Engine(settings(tmp_path, sqlite_url, "a", http_url=dead))
    await leader.start()
    follower = NodeProcess(tmp_path, settings(tmp_path, sqlite_url, "b"))
    try:
        await follower.start()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{follower.http_port}",
                                     timeout=20) as via_b:
            started = time.monotonic()
            answer = await via_b.get("/api/queues", headers=bearer(tokens["sue"]))
            assert time.monotonic() - started < 11
            assert answer.status_code == 503
            assert answer.headers["retry-after"] == "2"
            detail = answer.json()["detail"]
            assert detail.startswith(f"the ACD's leader node a at {dead} is unreachable: ")
            assert detail.endswith("check that node, or GET /api/cluster (retry in 2 s: a new "
                                   "leader is known within one poll)")
            stream = await via_b.get("/api/console/stream", headers=bearer(tokens["sue"]))
            assert stream.status_code == 503 and "is unreachable" in stream.json()["detail"]
            # What the database answers stays local.
            assert (await via_b.get("/api/campaigns", headers=bearer(tokens["sue"]))
                    ).status_code == 200
    finally:
        await follower.stop()
        await leader.stop()


async def test_the_console_lists_the_engine_nodes(
    leader: Engine, follower: NodeProcess, chromium: str
) -> None:
    """A supervisor's console (headless Chromium, on the leader) shows both nodes up, the
    leader marked; the follower stops, and the page shows it stopped without a reload."""
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, headless=True,
                                          args=["--no-sandbox"])
        page = await browser.new_page()
        await page.goto(f"http://127.0.0.1:{leader.http_port}/console")
        await page.fill("#username", "sue")
        await page.fill("#password", PASSWORDS["sue"])
        await page.click("#login button[type=submit]")
        a, b = (page.locator(f"#nodes tr[data-node={n}]") for n in "ab")
        await expect(a.locator("td.name")).to_have_text("a (leads the ACD)")
        await expect(a.locator("td.condition")).to_have_text("up")
        await expect(b.locator("td.name")).to_have_text("b")
        await expect(b.locator("td.condition")).to_have_text("up")
        await expect(b.locator("td.calls")).to_have_text("0")
        assert await follower.stop() == 0
        await expect(b.locator("td.condition")).to_have_text("stopped", timeout=10_000)
        await expect(a.locator("td.condition")).to_have_text("up")
        await browser.close()
