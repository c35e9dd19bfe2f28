"""Tickets in the store on SQLite and PostgreSQL: migration, escalation exactly once, REST."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, inspect, select

import callcenter.store.tickets  # noqa: F401  (registers the ticket tables on Base)
from callcenter.backoffice import BackOffice
from callcenter.store import current_revision, downgrade, open_database, upgrade
from callcenter.store.models import Agent, Base
from callcenter.store.tickets import EscalationKey, Ticket, TicketAudit, TicketLink
from callcenter.tickets import Customer, Escalation, Priority, add_calendar_seconds
from callcenter.web.tickets import router
from tests.unit.tickets.tickets_support import add_call, backoffice_settings, recording_bus

NOW = datetime.now(UTC)
TICKET_TABLES = {
    "customers",
    "tickets",
    "ticket_messages",
    "ticket_attachments",
    "ticket_audit",
    "ticket_links",
    "escalation_keys",
    "chats",
}


def test_migration_0002_creates_the_models_tables_and_round_trips(db_url: str) -> None:
    db = open_database(db_url)
    upgrade(db, "0002")
    assert current_revision(db) == "0002"
    tables = set(inspect(db.engine).get_table_names())
    assert tables >= TICKET_TABLES
    assert set(Base.metadata.tables) >= TICKET_TABLES
    downgrade(db, "0001")
    assert not TICKET_TABLES & set(inspect(db.engine).get_table_names())
    upgrade(db)
    assert set(inspect(db.engine).get_table_names()) >= TICKET_TABLES
    db.dispose()


@pytest.fixture
async def office(db_url: str, tmp_path: Path) -> AsyncIterator[BackOffice]:
    db = open_database(db_url)
    upgrade(db)
    with db.session() as s:
        add_call(s, "call-1")
        s.add(Agent(code="ann", name="Ann", ticket_capacity=2))
        s.add(Agent(code="bob", name="Bob"))
    bus = recording_bus()
    await bus.start()
    office = BackOffice(backoffice_settings(tmp_path), db, bus)
    yield office
    await bus.stop()
    db.dispose()


def escalation(
    key: str = "ivr:call-1", call_id: str | None = "call-1", priority: Priority = Priority.NORMAL
) -> Escalation:
    return Escalation(
        key,
        "ivr",
        Customer("+4930111"),
        "billing",
        priority,
        "Not resolved in the IVR",
        NOW,
        call_id=call_id,
        recording="r.wav",
    )


async def test_one_escalation_gives_one_ticket_linked_to_its_cdr(office: BackOffice) -> None:
    svc = office.service
    first = await svc.file_escalation(escalation())
    again = await svc.file_escalation(escalation())
    assert first.created and not again.created and again.replayed
    assert again.number == first.number

    def counts(s):  # type: ignore[no-untyped-def]
        return (
            s.scalar(select(func.count()).select_from(Ticket)),
            s.scalar(select(func.count()).select_from(EscalationKey)),
            s.scalars(select(TicketLink)).one(),
        )

    tickets, keys, link = await svc.db.run(counts)
    assert (tickets, keys, link.call_id) == (1, 1, "call-1")
    assert link.data["recording"] == "r.wav"
    sent = svc.bus.sent  # type: ignore[attr-defined]
    assert sent[0].topic == f"cc/t1/tickets/T-{first.number}"
    assert [m.envelope().data["kind"] for m in sent] == ["created", "updated"]
    assert sent[1].envelope().data["detail"] == {"replayed_escalation": "ivr:call-1"}


async def test_second_escalation_joins_the_customers_open_ticket(office: BackOffice) -> None:
    svc = office.service
    first = await svc.file_escalation(escalation())
    second = await svc.file_escalation(escalation("survey:call-9:csat", None, Priority.URGENT))
    assert second.number == first.number and not second.created
    read = await office.desk.read(first.number)
    assert read["priority"] == "urgent"
    assert [m["author"] for m in read["messages"]] == ["escalation:ivr", "escalation:ivr"]
    assert read["calls"][0]["ivr_path"] == [{"node": "menu"}, {"node": "escalate"}]


async def test_rest_api_lists_reads_updates_replies_assigns_and_merges(office: BackOffice) -> None:
    svc = office.service
    a = (await svc.file_escalation(escalation())).number
    b = (
        await svc.file_escalation(
            Escalation(
                "x:2", "ivr", Customer("+4930222"), "tech", Priority.HIGH, "Router broken", NOW
            )
        )
    ).number
    app = FastAPI()
    app.state.backoffice = office
    app.include_router(router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        r = await c.get("/api/tickets", params={"priority": "high"})
        assert r.status_code == 200 and [t["id"] for t in r.json()["items"]] == [f"T-{b}"]
        r = await c.get("/api/tickets", params={"customer": "+4930111"})
        assert r.json()["total"] == 1
        r = await c.post(f"/api/tickets/T-{a}/assign", json={"agent": "ann", "actor": "sup"})
        assert r.json()["assigned_agent"] == "ann" and r.json()["status"] == "open"
        r = await c.post(
            f"/api/tickets/T-{a}/reply",
            json={"agent": "ann", "body": "Which invoice?", "awaiting_customer": True},
        )
        assert r.status_code == 201
        r = await c.patch(f"/api/tickets/T-{a}", json={"actor": "sup", "category": "invoice"})
        body = r.json()
        assert (body["status"], body["category"], body["sla_due_at"]) == (
            "pending_customer",
            "invoice",
            None,
        )  # waiting on the customer: no due time
        r = await c.post(f"/api/tickets/T-{b}/merge", json={"into": f"T-{a}", "actor": "sup"})
        assert r.json()["status"] == "closed" and r.json()["merged_into"] == f"T-{a}"
        r = await c.patch(f"/api/tickets/T-{b}", json={"actor": "sup", "status": "open"})
        assert r.status_code == 409 and f"T-{a}" in r.json()["detail"]
        assert (await c.get("/api/tickets/T-999")).status_code == 404
        r = await c.post(f"/api/tickets/T-{a}/assign", json={"agent": "nobody", "actor": "s"})
        assert r.status_code == 404

    def trail(s):  # type: ignore[no-untyped-def]
        return [
            x.action
            for x in s.scalars(
                select(TicketAudit).where(TicketAudit.ticket_id == a).order_by(TicketAudit.id)
            )
        ]

    actions = await svc.db.run(trail)
    assert actions[0] == "created"
    assert {"assigned", "status", "replied", "updated", "merged_from"} <= set(actions)


async def test_sla_check_raises_priority_then_announces_the_breach(
    db_url: str, tmp_path: Path
) -> None:
    db = open_database(db_url)
    upgrade(db)
    clock = [NOW]
    bus = recording_bus()
    office = BackOffice(backoffice_settings(tmp_path), db, bus, clock=lambda: clock[0])
    number = (await office.service.file_escalation(escalation(call_id=None))).number
    plan = office.service.plans[Priority.NORMAL]  # on business hours by default
    clock[0] = add_calendar_seconds(plan.hours, NOW, plan.first_response_s * 0.9)
    await office.service.check_sla()
    clock[0] = add_calendar_seconds(plan.hours, NOW, plan.first_response_s + 1)
    await office.service.check_sla()
    kinds = [m.envelope().data["kind"] for m in bus.sent]
    assert kinds[-2:] == ["priority_raised", "sla_breached"]
    read = await office.desk.read(number)
    assert read["priority"] == "high" and read["sla_breached"] == "first_response"
    db.dispose()
