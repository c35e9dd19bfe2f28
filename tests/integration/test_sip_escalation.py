"""A caller who says "not resolved" after talking to an agent leaves a complaint ticket linked
to the call's record: SIP, the IVR, the ACD and the back office together."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from callcenter.engine import Engine
from callcenter.store.tickets import Ticket, TicketLink
from tests.support.sip import Sipp
from tests.support.sip_engine import add_agent, make_caller, ready, served


async def test_not_resolved_becomes_a_ticket_linked_to_the_cdr(
    engine: Engine, tmp_path: Path
) -> None:
    agent = Sipp(tmp_path, "agent", "agent_answer.xml", "-m", "1", "-d", "2000")
    await add_agent(engine, "1001", agent.port)
    await engine.start()
    await ready(engine, "1001")
    await agent.start()
    # Queued at once, ~2.5 s with the agent, then "was it resolved?": 2 at 6 s.
    caller = make_caller(tmp_path, engine, number="201", key_after_ms=6000)
    call, path = await served(engine, caller, agent)
    assert ("resolved", "pressed '2'") in path
    assert "create_ticket" in [e.kind for e in call.events]

    def tickets(s):  # type: ignore[no-untyped-def]
        rows = [
            (t.category, t.priority, t.status, t.subject, t.sla_started_at)
            for t in s.scalars(select(Ticket))
        ]
        return rows, [(link.call_id, link.source) for link in s.scalars(select(TicketLink))]

    rows, links = await engine.db.run(tickets)
    assert len(rows) == 1
    category, priority, status, subject, sla_started = rows[0]
    assert (category, priority, status) == ("complaint", "high", "new")
    assert call.id in subject and "+15550100" in subject
    # The SLA clock started when the caller first waited, not when the ticket was made.
    queued_at = next(e.at for e in call.events if e.kind == "queued")
    assert (
        abs((sla_started.replace(tzinfo=None) - queued_at.replace(tzinfo=None)).total_seconds())
        < 1.0
    )
    assert links == [(call.id, "ivr")]
