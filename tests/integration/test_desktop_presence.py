"""Presence from the agent desktop on a whole engine (``http.desktop_presence_s`` short): an
agent whose desk streams all closed is paused with the reason after the grace, on the API, the
console and in the state history, paused again when made ready while the desktop stays
closed, and ready again when a desktop opens; a reload pauses nobody, a pause chosen meanwhile
stays, a softphone-only agent is never touched. Then the same with the real page in headless
Chromium: sign in, log in, reload, close the page, open it again.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from playwright import async_api
from sqlalchemy import select

from callcenter.engine import Engine
from callcenter.store.models import Agent, AgentStateChange
from tests.support.sip_engine import add_agent, until

GRACE_S = 1.0
REASON = "desktop closed: no agent desktop open for 1 s"


async def started(engine: Engine) -> httpx.AsyncClient:
    """The engine without SIP, a 1 s grace, agents 1001 and 1002 in queue support."""
    engine.settings.sip.enabled = False
    engine.settings.http.desktop_presence_s = GRACE_S
    await add_agent(engine, "1001", 5070)
    await add_agent(engine, "1002", 5071)
    await engine.start()
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.http_port}", timeout=10)


async def agent(http: httpx.AsyncClient, code: str) -> dict[str, Any]:
    """The agent on the API: its state, and from its desk why it is in it."""
    agents = (await http.get("/api/agents")).json()
    desk = (await http.get(f"/api/agents/{code}/desk")).json()
    return {**next(a for a in agents if a["agent_id"] == code), "reason": desk["reason"]}


async def in_state(http: httpx.AsyncClient, code: str, state: str,
                   timeout: float = 5) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        seen = await agent(http, code)
        return seen if seen["state"] == state else None

    return await until(check, f"agent {code} {state}", timeout)


async def open_desk(http: httpx.AsyncClient, code: str) -> tuple[Any, Any]:
    """A desk stream of ``code``, read up to its first snapshot (the engine counts it open)."""
    context = http.stream("GET", f"/api/agents/{code}/desk/stream")
    stream = await context.__aenter__()
    lines = stream.aiter_lines()
    async for line in lines:
        if line.startswith("data: "):
            break
    return context, lines


async def test_a_closed_desktop_pauses_the_agent_and_an_open_one_resumes_them(
        engine: Engine) -> None:
    async with await started(engine) as http:
        for code in ("1001", "1002"):  # 1002 never opens a desktop: a softphone-only agent
            await http.post(f"/api/agents/{code}/login")
            await http.post(f"/api/agents/{code}/ready")
        desk, _ = await open_desk(http, "1001")
        tab, _ = await open_desk(http, "1001")
        await desk.__aexit__(None, None, None)  # one tab of two closed: still open
        await asyncio.sleep(GRACE_S + 0.5)
        assert (await agent(http, "1001"))["state"] == "available"

        await tab.__aexit__(None, None, None)  # a reload: back within the grace
        reloaded, _ = await open_desk(http, "1001")
        await asyncio.sleep(GRACE_S + 0.5)
        assert (await agent(http, "1001"))["state"] == "available"

        await reloaded.__aexit__(None, None, None)  # the browser closed
        paused = await in_state(http, "1001", "paused")
        assert paused["reason"] == f"paused: {REASON}"
        console = (await http.get("/api/console")).json()
        row = next(a for a in console["agents"] if a["code"] == "1001")
        assert row["state"] == "paused"
        assert (await agent(http, "1002"))["state"] == "available"  # never had a desktop

        # Made ready by a supervisor while the desktop stays closed: paused again at once.
        ready = await http.post("/api/agents/1001/ready")
        assert ready.json()["state"] == "available"
        assert (await in_state(http, "1001", "paused"))["reason"] == f"paused: {REASON}"

        again, _ = await open_desk(http, "1001")
        back = await in_state(http, "1001", "available")
        assert back["reason"] == "desktop open again"

        # Closed again, and a supervisor pauses the agent for a meeting meanwhile: the
        # desktop opened again leaves that pause alone.
        await again.__aexit__(None, None, None)
        await in_state(http, "1001", "paused")
        assert (await http.post("/api/agents/1001/pause",
                                json={"reason": "meeting"})).status_code == 200
        last, _ = await open_desk(http, "1001")
        await asyncio.sleep(0.5)
        still = await agent(http, "1001")
        assert still["state"] == "paused"
        await last.__aexit__(None, None, None)
        await http.post("/api/agents/1001/logout")
        await asyncio.sleep(GRACE_S + 0.5)
        assert (await agent(http, "1001"))["state"] == "logged_out"  # never logged out by it

    def history(s):  # type: ignore[no-untyped-def]
        agent_id = s.scalar(select(Agent.id).where(Agent.code == "1001"))
        return [(r.state, r.reason) for r in s.scalars(
            select(AgentStateChange).where(AgentStateChange.agent_id == agent_id)
            .order_by(AgentStateChange.id))]

    async def recorded() -> list[tuple[str, str]] | None:
        rows: list[tuple[str, str]] = await engine.db.run(history)
        return rows if rows[-1:] == [("logged_out", "logged out")] else None

    assert await until(recorded, "the state history", 5) == [
        ("available", "logged in"), ("paused", f"paused: {REASON}"),
        ("available", "ready"), ("paused", f"paused: {REASON}"),
        ("available", "desktop open again"), ("paused", f"paused: {REASON}"),
        ("logged_out", "logged out")]


async def test_closing_the_desktop_page_pauses_the_agent_and_opening_it_resumes(
        engine: Engine, browser: Any) -> None:
    expect = async_api.expect
    async with await started(engine) as http:
        context = await browser.new_context()

        async def desktop() -> Any:
            page = await context.new_page()
            await page.goto(f"http://127.0.0.1:{engine.http_port}/desktop")
            await page.get_by_label("Agent code").fill("1001")
            await page.get_by_role("button", name="Sign in").click()
            await expect(page.locator("#connection")).to_have_text("live")
            return page

        page = await desktop()
        await page.locator("#login").click()
        await expect(page.locator("#state")).to_have_text("ready")  # logged in is available
        await page.reload()  # a reload pauses nobody
        await expect(page.locator("#connection")).to_have_text("live")
        await asyncio.sleep(GRACE_S + 0.5)
        assert (await agent(http, "1001"))["state"] == "available"

        await page.close()
        paused = await in_state(http, "1001", "paused")
        assert paused["reason"] == f"paused: {REASON}"

        page = await desktop()
        await expect(page.locator("#state")).to_have_text("ready")
        assert (await agent(http, "1001"))["reason"] == "desktop open again"
        await context.close()
