"""Scheduled callbacks over HTTP and the CLI, on SQLite and PostgreSQL: the disposition's
callback_at and callback_owner with their 422s, the lists (per campaign, per agent, the
owner not logged in), moving, reassigning and cancelling, and `campaign callbacks`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from typer.testing import CliRunner

from callcenter import acd
from callcenter.bus import InProcessBus
from callcenter.cli.campaign import app as campaign_cli
from callcenter.store import Database
from callcenter.web import callbacks as callbacks_api
from callcenter.web import operations
from callcenter.web import preview as preview_api
from dialer import attempts, preview
from dialer.store import Callback, Lead
from tests.integration import test_campaigns_support as support

NY = ZoneInfo("America/New_York")
NUMBERS = support.NYC[:2]


class _Acd:
    """The ACD as the list asks it: who is logged in."""

    def __init__(self, logged_in: set[str]) -> None:
        self.router = SimpleNamespace(
            agent_state=lambda code: "ready" if code in logged_in else "logged_out")
        self.events: list[object] = []

    async def handle(self, event: object) -> None:
        self.events.append(event)


@asynccontextmanager
async def _api(db: Database, logged_in: set[str]) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.db = db
    app.state.engine = SimpleNamespace(db=db, backoffice=None, acd=_Acd(logged_in),
                                       bus=InProcessBus("t"))
    app.include_router(operations.router)
    app.include_router(callbacks_api.router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        yield client


async def _campaign(db_url: str) -> tuple[Database, dict[str, str]]:
    return await support.answered_campaign(db_url, NUMBERS)


def _in_ny(days: int) -> str:
    """A wall-clock time in New York ``days`` ahead at 15:30, as an agent types it."""
    day = datetime.now(NY).date() + timedelta(days=days)
    return f"{day.isoformat()}T15:30"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"code": "callback", "callback_at": "2020-01-01T10:00:00Z"}, "in the past"),
        ({"code": "callback", "callback_at": "2099-01-01T10:00:00Z"}, "more than 90 days"),
        ({"code": "callback", "callback_at": "tuesday 3pm"}, "not an ISO 8601"),
        ({"code": "sale", "callback_at": "2099-01-01T10:00:00Z"}, "goes with the disposition"),
        ({"code": "callback", "callback_owner": "ann"}, "goes with callback_at"),
        ({"code": "callback", "callback_at": "+2", "callback_owner": "me"}, "has none"),
        ({"code": "callback", "callback_at": "+2", "callback_owner": "zed"}, "is no agent"),
    ],
)
async def test_a_bad_callback_is_422_saying_what_to_send(db_url: str, body: dict[str, str],
                                                         says: str) -> None:
    db, calls = await _campaign(db_url)
    if body.get("callback_at") == "+2":
        body = {**body, "callback_at": _in_ny(2)}
    async with _api(db, set()) as api:
        r = await api.post(f"/api/calls/{calls[NUMBERS[0]]}/disposition", json=body)
    assert r.status_code == 422, r.text
    assert says in r.json()["detail"] and "send" in r.json()["detail"]
    with db.session() as s:
        assert s.scalars(select(Callback)).all() == []  # nothing booked
    db.dispose()


async def test_book_list_move_reassign_cancel(db_url: str) -> None:
    db, calls = await _campaign(db_url)
    local = _in_ny(2)
    async with _api(db, logged_in=set()) as api:
        r = await api.post(f"/api/calls/{calls[NUMBERS[0]]}/disposition", json={
            "code": "callback", "notes": "wants the gold plan", "callback_at": local,
            "callback_owner": "ann"})
        assert r.status_code == 200, r.text
        cb = r.json()["callback"]
        due = datetime.fromisoformat(local).replace(tzinfo=NY).astimezone(UTC)
        assert datetime.fromisoformat(cb["due_at"]) == due
        assert (cb["owner"], cb["read_as"], cb["state"], cb["waiting"]) == (
            "ann", "local time in America/New_York", "pending", "scheduled")
        assert cb["window_opens"] is None and cb["note"] is None  # 15:30 is inside the window
        late = await api.post(f"/api/calls/{calls[NUMBERS[1]]}/disposition", json={
            "code": "callback", "callback_at": _in_ny(3).replace("15:30", "22:00")})
        assert "waits for the window to open" in late.json()["callback"]["note"]

        mine = (await api.get("/api/campaigns/spring/callbacks", params={"agent": "ann"})).json()
        assert [c["number"] for c in mine] == [NUMBERS[0]]
        anyone = (await api.get("/api/callbacks", params={"agent": "anyone"})).json()
        assert [c["number"] for c in anyone] == [NUMBERS[1]]
        bad = await api.get("/api/campaigns/spring/callbacks", params={"state": "soon"})
        assert bad.status_code == 422 and "pending, done" in bad.json()["detail"]
        assert (await api.get("/api/campaigns/autumn/callbacks")).status_code == 404

        # Due now and ann is not logged in: it waits for her, and the list says so.
        with db.session() as s:
            lead = s.scalar(select(Lead).where(Lead.phone == NUMBERS[0]))
            assert lead is not None
            lead.next_attempt_at = datetime.now(UTC) - timedelta(minutes=1)
        (row,) = (await api.get("/api/callbacks", params={"agent": "ann"})).json()
        assert row["waiting"] == "waiting_for_owner"
        async with _api(db, logged_in={"ann"}) as present:
            (row,) = (await present.get("/api/callbacks", params={"agent": "ann"})).json()
            assert row["waiting"] == "due"

        url = f"/api/campaigns/spring/callbacks/{cb['id']}"
        assert (await api.patch(url, json={})).status_code == 422
        past = await api.patch(url, json={"due_at": "2020-01-01T10:00"})
        assert past.status_code == 422 and "in the past" in past.json()["detail"]
        nobody = await api.patch(url, json={"owner": "zed"})
        assert nobody.status_code == 422 and "is no agent" in nobody.json()["detail"]
        moved = await api.patch(url, json={"due_at": _in_ny(5), "owner": "none"})
        assert moved.status_code == 200, moved.text
        assert moved.json()["owner"] is None
        assert datetime.fromisoformat(moved.json()["due_at"]) > due + timedelta(days=2)
        cancelled = await api.delete(url)
        assert cancelled.json()["state"] == "cancelled"
        again = await api.delete(url)
        assert again.status_code == 409 and "is cancelled" in again.json()["detail"]
        assert (await api.delete("/api/campaigns/spring/callbacks/999")).status_code == 404
    with db.session() as s:
        lead = s.scalar(select(Lead).where(Lead.phone == NUMBERS[0]))
        assert lead is not None and lead.status == "done"
    db.dispose()


async def test_cli_lists_the_callbacks(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE__URL", sqlite_url)
    db, calls = await _campaign(sqlite_url)
    async with _api(db, set()) as api:
        for number, owner in zip(NUMBERS, ("ann", "none"), strict=True):
            r = await api.post(f"/api/calls/{calls[number]}/disposition", json={
                "code": "callback", "notes": f"note {owner}", "callback_at": _in_ny(2),
                "callback_owner": owner})
            assert r.status_code == 200, r.text
    cli = CliRunner()
    out = cli.invoke(campaign_cli, ["callbacks", "spring"])
    assert out.exit_code == 0, out.output
    lines = out.output.strip().splitlines()
    assert len(lines) == 2 and "ann" in lines[0] and "anyone" in lines[1]
    assert "scheduled" in lines[0] and NUMBERS[0] in lines[0] and "note ann" in lines[0]
    only = cli.invoke(campaign_cli, ["callbacks", "spring", "--agent", "ann"])
    assert only.output.count("\n") == 1
    none = cli.invoke(campaign_cli, ["callbacks", "spring", "--state", "done"])
    assert "no done callbacks" in none.output
    bad = cli.invoke(campaign_cli, ["callbacks", "spring", "--state", "soon"])
    assert bad.exit_code != 0
    status = cli.invoke(campaign_cli, ["status", "spring"])
    assert "callbacks       2 scheduled, 0 due for their agent" in status.output
    db.dispose()


async def test_the_owner_takes_a_due_callback_as_a_preview(db_url: str) -> None:
    db, calls = await _campaign(db_url)
    local = _in_ny(2)
    due = datetime.fromisoformat(local).replace(tzinfo=NY).astimezone(UTC)
    placed: list[attempts.Claimed] = []
    desk = preview.PreviewDesk(db, lambda name: SimpleNamespace(place=placed.append),
                               clock=lambda: due)
    async with _api(db, logged_in={"ann", "bob"}) as api:
        api._transport.app.state.engine.dialer = SimpleNamespace(  # type: ignore[attr-defined]
            preview_desk=desk)
        api._transport.app.state.engine.directory = SimpleNamespace(  # type: ignore[attr-defined]
            agents={"ann": None, "bob": None})
        api._transport.app.include_router(preview_api.router)  # type: ignore[attr-defined]
        r = await api.post(f"/api/calls/{calls[NUMBERS[0]]}/disposition", json={
            "code": "callback", "callback_at": local, "callback_owner": "ann"})
        cb = r.json()["callback"]["id"]
        url = f"/api/campaigns/spring/callbacks/{cb}/preview"
        bob = await api.post(url, params={"agent": "bob"})
        assert bob.status_code == 409 and "ann's only" in bob.json()["detail"]
        ann = await api.post(url, params={"agent": "ann"})
        assert ann.status_code == 200, ann.text
        assert ann.json()["number"] == NUMBERS[0]
        lead_id = ann.json()["lead_id"]
        dial = await api.post(f"/api/campaigns/spring/preview/{lead_id}/dial",
                              params={"agent": "ann"})
        assert dial.status_code == 202, dial.text
        twice = await api.post(f"/api/campaigns/spring/preview/{lead_id}/dial",
                               params={"agent": "ann"})
        assert twice.status_code == 409
        engine = api._transport.app.state.engine  # type: ignore[attr-defined]
        assert engine.acd.events == [acd.AgentPaused("ann", "preview")]  # no queue calls now
    assert [c.request.agent for c in placed] == ["ann"]
    with db.session() as s:
        assert [c.state for c in s.scalars(select(Callback))] == ["done"]
    db.dispose()
