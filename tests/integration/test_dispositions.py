"""Agents' dispositions over the API: stored on the call record; unresolved ones become one
back-office ticket, however often they are sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from callcenter.engine import Engine
from callcenter.store.models import Call, CallEvent, Disposition
from callcenter.store.tickets import Ticket, TicketLink


async def test_unresolved_disposition_files_one_ticket(engine: Engine) -> None:
    engine.settings.sip.enabled = False
    await engine.start()
    queued = datetime.now(UTC) - timedelta(minutes=5)

    def calls(s):  # type: ignore[no-untyped-def]
        for call_id in ("c-unresolved", "c-fine"):
            call = Call(id=call_id, direction="inbound", voice_layer="sip", caller="+4930123")
            call.events.append(CallEvent(seq=1, kind="queued", at=queued, data={}))
            call.events.append(CallEvent(seq=2, kind="recording", data={"path": "/r/x.wav"}))
            s.add(call)

    await engine.db.run(calls)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.http_port}") as http:
        for _ in range(2):  # a retried request must not make a second ticket
            r = await http.post(
                "/api/calls/c-unresolved/disposition",
                json={"code": "unresolved", "notes": "router still down"},
            )
            assert r.status_code == 200 and r.json()["escalated"] is True
        r = await http.post("/api/calls/c-fine/disposition", json={"code": "resolved"})
        assert r.status_code == 200 and r.json()["escalated"] is False
        bad = await http.post("/api/calls/c-fine/disposition", json={"code": "nonsense"})
        assert bad.status_code == 422 and "unresolved" in bad.json()["detail"]
        missing = await http.post("/api/calls/nope/disposition", json={"code": "resolved"})
        assert missing.status_code == 404

    def read(s):  # type: ignore[no-untyped-def]
        tickets = [(t.category, t.sla_started_at) for t in s.scalars(select(Ticket))]
        links = [link.call_id for link in s.scalars(select(TicketLink))]
        codes = {c.id: s.get(Disposition, c.disposition_id).code for c in s.scalars(select(Call))}
        notes = [
            e.data for e in s.scalars(select(CallEvent).where(CallEvent.kind == "disposition"))
        ]
        return tickets, links, codes, notes

    tickets, links, codes, notes = await engine.db.run(read)
    assert len(tickets) == 1 and tickets[0][0] == "unresolved"
    started = tickets[0][1].replace(tzinfo=UTC) if tickets[0][1].tzinfo is None else tickets[0][1]
    assert abs((started - queued).total_seconds()) < 1  # the SLA started when the caller waited
    assert links == ["c-unresolved"]
    assert codes == {"c-unresolved": "unresolved", "c-fine": "resolved"}
    assert {"code": "unresolved", "notes": "router still down"} in notes
