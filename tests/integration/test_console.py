"""The supervisors' console: the snapshot follows the live ACD (agents logging in, pausing,
taking an offer; a caller waiting), the stream pushes a new snapshot after a change (at most
one a second), keeps the line alive, and ends when the client goes or the engine stops (a
real engine stops with a console open); in headless Chromium the page shows an agent's state
and follows a change made on the server without a reload."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright import sync_api as playwright

from callcenter import acd
from callcenter.bus import InProcessBus, Message
from callcenter.calls import AcdService
from callcenter.calls.campaign_board import CampaignBoard
from callcenter.calls.campaign_board_service import stats_of
from callcenter.calls.directory import AgentEntry, Directory, QueueEntry
from callcenter.engine import Engine
from callcenter.web import console, operations
from dialer.runner import CampaignLive

T = TypeVar("T")


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Caller:
    async def on_acd_action(self, action: acd.Action) -> None:
        pass


def directory() -> Directory:
    d = Directory()
    d.queues["sales"] = QueueEntry(1, acd.QueueConfig("sales", wrap_up_s=20.0))
    d.queues["support"] = QueueEntry(2, acd.QueueConfig("support"))
    d.agents["a1"] = AgentEntry(1, "a1", "Ann Lee", None,
                                acd.AgentProfile("a1", queues={"sales": 0, "support": 0}))
    d.agents["a2"] = AgentEntry(2, "a2", "Bob Roy", None,
                                acd.AgentProfile("a2", queues={"support": 0}))
    return d


def campaign(name: str = "spring", dialed: int = 40, human: int = 12,
             abandoned: int = 1) -> CampaignLive:
    return CampaignLive(campaign=name, state="running", dial_mode="predictive", dialed=dialed,
                        answered_human=human, answered_machine=3, abandoned=abandoned,
                        abandon_pct=round(100 * abandoned / human, 2), abandon_target_pct=3.0,
                        lines_in_flight=4, max_lines=10, leads_pending=950, node="node-a")


def app_for(service: AcdService | None, d: Directory,
            campaigns: list[CampaignLive] | None = None) -> FastAPI:
    """The console over ``service``; the campaigns some node runs are ``campaigns`` (a list
    the test may change), told through the campaign board as the bus would, or no board."""
    app = FastAPI()
    board = CampaignBoard()

    def told() -> list[dict[str, Any]]:
        for c in campaigns or ():
            board.apply(Message.of("t", stats_of(c)))
        return board.view(datetime.now(UTC))

    told_board = SimpleNamespace(live=told) if campaigns is not None else None
    app.state.engine = SimpleNamespace(directory=d, acd=service, sip=None, campaigns=told_board)
    app.include_router(operations.router)
    app.include_router(console.router)
    return app


def agent(snap: dict[str, Any], code: str) -> dict[str, Any]:
    found: dict[str, Any] = next(a for a in snap["agents"] if a["code"] == code)
    return found


def queue(snap: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(q for q in snap["queues"] if q["queue"] == name)
    return found


async def test_the_snapshot_follows_the_acd() -> None:
    d, clock = directory(), Clock()
    service = AcdService(d.router(), InProcessBus("t"), clock=clock)
    transport = httpx.ASGITransport(app=app_for(service, d))
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as http:
        snap = (await http.get("/api/console")).json()
        assert agent(snap, "a1") == {"code": "a1", "name": "Ann Lee", "state": "logged_out",
                                     "in_state_s": None, "pause_reason": None,
                                     "queues": ["sales", "support"]}
        assert queue(snap, "sales")["agents"] == {
            "available": 0, "offered": 0, "busy": 0, "wrap_up": 0, "paused": 0}

        assert (await http.post("/api/agents/a1/login")).status_code == 200
        clock.t += 7.0
        snap = (await http.get("/api/console")).json()
        assert agent(snap, "a1")["state"] == "available"
        assert agent(snap, "a1")["in_state_s"] == 7.0
        assert queue(snap, "sales")["agents"]["available"] == 1
        assert queue(snap, "support")["agents"]["available"] == 1

        await http.post("/api/agents/a1/pause", json={"reason": "lunch"})
        service.register("c1", Caller())
        await service.handle(acd.TaskArrived("c1", "sales"))
        clock.t += 12.0
        snap = (await http.get("/api/console")).json()
        assert agent(snap, "a1")["state"] == "paused"
        assert agent(snap, "a1")["pause_reason"] == "lunch"
        assert agent(snap, "a1")["in_state_s"] == 12.0
        assert queue(snap, "sales")["agents"]["paused"] == 1
        assert queue(snap, "sales")["agents"]["available"] == 0
        assert queue(snap, "sales")["waiting"] == 1
        assert queue(snap, "sales")["longest_wait_s"] == 12.0
        assert queue(snap, "support")["waiting"] == 0

        await http.post("/api/agents/a2/login")
        snap = (await http.get("/api/console")).json()
        assert queue(snap, "support")["agents"]["available"] == 1
        assert queue(snap, "sales")["agents"]["available"] == 0  # a2 is not in sales

        assert (await http.post("/api/agents/a1/ready")).json()["state"] == "offered"
        snap = (await http.get("/api/console")).json()
        assert agent(snap, "a1")["state"] == "offered"
        assert agent(snap, "a1")["in_state_s"] == 0.0
        assert queue(snap, "sales")["waiting"] == 0
        assert queue(snap, "sales")["agents"]["offered"] == 1
    await asyncio.sleep(0)  # the caller's owner takes the offer
    await service.stop()


async def test_the_snapshot_shows_the_campaigns_the_bus_told() -> None:
    d = directory()
    service = AcdService(d.router(), InProcessBus("t"), clock=Clock())
    running = [campaign()]
    transport = httpx.ASGITransport(app=app_for(service, d, running))
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as http:
        (shown,) = (await http.get("/api/console")).json()["campaigns"]
        assert shown.pop("as_of_s") < 1.0
        assert shown == {"campaign": "spring", "state": "running", "dial_mode": "predictive",
                         "dialed": 40, "answered_human": 12, "answered_machine": 3,
                         "abandoned": 1, "abandon_pct": 8.33, "abandon_target_pct": 3.0,
                         "lines_in_flight": 4, "max_lines": 10, "leads_pending": 950,
                         "node": "node-a", "stale": False}
        running[0] = campaign(dialed=41)
        assert (await http.get("/api/console")).json()["campaigns"][0]["dialed"] == 41
    no_dialer = httpx.ASGITransport(app=app_for(service, d))
    async with httpx.AsyncClient(transport=no_dialer, base_url="http://console") as http:
        assert (await http.get("/api/console")).json()["campaigns"] == []
    await service.stop()


async def test_no_acd_yet_is_503() -> None:
    transport = httpx.ASGITransport(app=app_for(None, directory()))
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as http:
        assert (await http.get("/api/console")).status_code == 503
        assert (await http.get("/api/console/stream")).status_code == 503


@dataclass
class Served:
    base: str
    service: AcdService
    campaigns: list[CampaignLive]
    loop: asyncio.AbstractEventLoop
    server: uvicorn.Server
    thread: threading.Thread

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the server's loop (where the ACD lives) and wait for it."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(5)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served() -> Iterator[Served]:
    """The console and the operations API on loopback, over a live ACD on the real clock."""
    d = directory()
    service = AcdService(d.router(), InProcessBus("t"))
    campaigns: list[CampaignLive] = []
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app_for(service, d, campaigns), host="127.0.0.1",
                                           port=port, log_level="warning"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),),
                              daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.05)
    served = Served(f"http://127.0.0.1:{port}", service, campaigns, loop, server, thread)
    yield served
    loop.call_soon_threadsafe(service.close_watchers)
    server.should_exit = True
    thread.join(10)
    assert not thread.is_alive(), "the server did not stop: a stream held it up"
    loop.close()


def snapshots(lines: Iterator[str]) -> Iterator[tuple[float, dict[str, Any]]]:
    """(arrival time, snapshot) of each ``snapshot`` event in an SSE stream."""
    event = ""
    for line in lines:
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event == "snapshot":
            yield time.monotonic(), json.loads(line.removeprefix("data: "))


def test_the_stream_pushes_changes_at_most_once_a_second(served: Served) -> None:
    with httpx.Client(base_url=served.base, timeout=10) as http, \
            http.stream("GET", "/api/console/stream") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = snapshots(stream.iter_lines())
        first_at, first = next(events)
        assert agent(first, "a1")["state"] == "logged_out"
        http.post("/api/agents/a1/login")
        http.post("/api/agents/a2/login")
        at, snap = next(events)
        assert at - first_at >= 0.9  # the two changes wait for the second to pass...
        assert agent(snap, "a1")["state"] == "available"  # ...and come in one snapshot
        assert agent(snap, "a2")["state"] == "available"
        assert queue(snap, "support")["agents"]["available"] == 2
        http.post("/api/agents/a1/pause", json={"reason": "lunch"})
        _, snap = next(events)
        assert agent(snap, "a1")["state"] == "paused"


def test_a_quiet_stream_is_kept_alive_and_ends_when_the_engine_stops(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "KEEPALIVE_S", 0.2)
    with httpx.Client(base_url=served.base, timeout=10) as http, \
            http.stream("GET", "/api/console/stream") as stream:
        lines = stream.iter_lines()
        assert next(lines) == "retry: 2000"
        assert next(line for line in lines if line.startswith(": ")) == ": keep-alive"
        served.loop.call_soon_threadsafe(served.service.close_watchers)
        rest = list(lines)  # the server ends the response: this returns
        assert not any(line.startswith("data: ") for line in rest)


def test_a_quiet_stream_with_a_campaign_running_sends_its_figures_instead(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    # The ACD is quiet, but a running campaign's figures move: no keep-alive, a snapshot.
    monkeypatch.setattr(console, "KEEPALIVE_S", 0.2)
    with httpx.Client(base_url=served.base, timeout=10) as http, \
            http.stream("GET", "/api/console/stream") as stream:
        events = snapshots(stream.iter_lines())
        assert next(events)[1]["campaigns"] == []
        served.campaigns.append(campaign(dialed=7))
        assert next(events)[1]["campaigns"][0]["dialed"] == 7
        served.campaigns[0] = campaign(dialed=9)
        assert next(events)[1]["campaigns"][0]["dialed"] == 9


def test_a_client_that_goes_away_does_not_hold_the_server(served: Served) -> None:
    with httpx.Client(base_url=served.base, timeout=10) as http, \
            http.stream("GET", "/api/console/stream") as stream:
        next(snapshots(stream.iter_lines()))
    # The fixture stops the server without waking the stream: had the stream not ended
    # with its client, uvicorn would wait for it and the thread would still be alive.
    served.server.should_exit = True
    served.thread.join(10)
    assert not served.thread.is_alive()


async def test_the_engine_serves_the_console_and_stops_with_a_stream_open(
        engine: Engine) -> None:
    engine.settings.sip.enabled = False
    await engine.start()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.http_port}",
                                 timeout=10) as http:
        page = await http.get("/console")
        assert page.status_code == 200 and "EventSource" in page.text
        async with http.stream("GET", "/api/console/stream") as stream:
            lines = stream.aiter_lines()
            async for line in lines:
                if line.startswith("data: "):
                    assert json.loads(line.removeprefix("data: "))["revision"] >= 0
                    break
            # uvicorn waits for responses in progress: the open stream must end by itself.
            await asyncio.wait_for(engine.stop(), 15)
            assert [line async for line in lines if line.startswith("data: ")] == []


def test_the_page_follows_an_agent_live(chromium: str, served: Served) -> None:
    with playwright.sync_playwright() as p, httpx.Client(base_url=served.base) as http:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{served.base}/console")
        state = page.locator("#agents tr[data-agent=a1] td.state")
        playwright.expect(state).to_have_text("logged-out")
        playwright.expect(page.locator("#connection")).to_have_text("live")
        playwright.expect(page.locator("#agents tr[data-agent=a2] td:nth-child(2)")).to_have_text(
            "Bob Roy")

        http.post("/api/agents/a1/login")  # on the server; the page is not reloaded
        playwright.expect(state).to_have_text("available")
        http.post("/api/agents/a1/pause", json={"reason": "lunch"})
        playwright.expect(state).to_have_text("paused")
        playwright.expect(page.locator("#agents tr[data-agent=a1] td.reason")).to_have_text(
            "lunch")
        sales = page.locator("#queues tr[data-queue=sales]")
        playwright.expect(sales.locator("td.paused")).to_have_text("1")
        clock = page.locator("#agents tr[data-agent=a1] td.in-state")
        playwright.expect(clock).to_have_text(re.compile(r"^0:0[01]$"))  # since the pause
        playwright.expect(clock).to_have_text("0:02", timeout=5000)  # counts up by itself

        served.campaigns.append(campaign(human=20, abandoned=1))  # 5 %: over its 3 %
        http.post("/api/agents/a1/ready")
        playwright.expect(state).to_have_text("available")
        row = page.locator("#campaigns tr[data-campaign=spring]")
        playwright.expect(row.locator("td.dialed")).to_have_text("40")
        playwright.expect(row.locator("td.lines")).to_have_text("4 / 10")
        playwright.expect(row.locator("td.abandon")).to_have_text("5 % (max 3 %)")
        playwright.expect(row.locator("td.abandon.over")).to_have_count(1)
        playwright.expect(row.locator("td.node")).to_have_text("node-a")
        playwright.expect(sales.locator("td.available")).to_have_text("1")
        playwright.expect(sales.locator("td.paused")).to_have_text("0")

        served.loop.call_soon_threadsafe(served.service.close_watchers)  # the stream ends
        playwright.expect(page.locator("#connection")).to_have_text("reconnecting")
        browser.close()
