"""Preview dialing over real SIP: a nailed-up SIPp agent asks for the next lead over the HTTP
API, skips one, dials the other; a SIPp callee answers and is bridged to that agent. Then the
same with a transfer: the preview agent sends the callee to another queue, whose agent takes
the call."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from callcenter import acd
from callcenter.engine import Engine
from callcenter.store import AgentRepository, Database, QueueRepository
from callcenter.store.models import Call
from callcenter.web.app import create_app
from dialer.campaigns import CampaignRepository, CampaignSettings
from dialer.store import Lead, LeadAttempt
from tests.integration.test_campaigns_support import T0, Clock, leads
from tests.support.sip import Sipp
from tests.support.sip_engine import add_agent, connected_call, ready, until

CALLED, SKIPPED = "+12125550101", "+12125550103"


def second_call_id(engine: Engine) -> str:
    assert engine.sip is not None
    [call_id] = [c.rec.call_id for c in engine.sip.calls.values() if c.agent_id == "1001"]
    return call_id


async def preview_campaign(
    engine: Engine, tmp_path: Path, callee_scenario: str, *numbers: str,
    script: str | None = None, **fields: str
) -> tuple[Sipp, Sipp]:
    """Campaign "pv" (preview, queue support) on ``numbers`` (with the custom ``fields``, by
    default plan gold), a SIPp callee answering them, and agent 1001 logged in on a nailed-up
    SIPp line (scenario agent_line_preview.xml, 20 s after the login): the engine started, the
    campaign's runner live. Returns (callee, line)."""
    db = Database(engine.settings.database.url)
    with db.session() as s:
        AgentRepository(s).add("1001", "Ann", pin="1234")
        QueueRepository(s).add_member("support", "1001")
    db.dispose()
    callee = Sipp(tmp_path, "callee", callee_scenario, "-m", "1")
    engine.settings.sip.outbound_gateway = f"127.0.0.1:{callee.port}"
    await callee.start()
    await engine.start()
    assert engine.sip is not None and engine.acd is not None and engine.dialer is not None
    # A Wednesday 11:00 in New York, whatever the real time; later than the leads' import, as
    # "now" always is outside tests (a skipped lead goes behind the leads due since then).
    engine.dialer.clock = Clock(T0 + timedelta(weeks=520))
    engine.dialer.tick_s = 0.2

    def create(s):  # type: ignore[no-untyped-def]
        repo = CampaignRepository(s)
        repo.create(
            CampaignSettings(
                name="pv",
                kind="telemarketing",
                caller_id="+12125550999",
                dial_mode="preview",
                queue="support",
                ring_timeout_s=15,
                script=script,
            )
        )
        repo.import_leads("pv", leads(*numbers, **(fields or {"plan": "gold"})))
        repo.transition("pv", "running", T0)

    await engine.db.run(create)
    (tmp_path / "line.csv").write_text("SEQUENTIAL\n1;0;0;1;#;1;2;3;4;#\n")
    line = Sipp(
        tmp_path,
        "line",
        "agent_line_preview.xml",
        "-s",
        engine.settings.sip.agent_login_number,
        "-m",
        "1",
        "-inf",
        str(tmp_path / "line.csv"),
        f"127.0.0.1:{engine.settings.sip.port}",
    )
    await line.start()
    sip, router, dialer = engine.sip, engine.acd.router, engine.dialer

    async def logged_in() -> bool:
        return (
            "1001" in sip.lines
            and router.agent_state("1001") == "available"
            and dialer.live_runner("pv") is not None
        )

    try:
        await until(logged_in, "the agent's login and the campaign's runner")
    except BaseException:
        for peer in (callee, line):
            if peer.proc is not None and peer.proc.returncode is None:
                peer.proc.kill()
        raise
    return callee, line


async def test_preview_agent_dials_and_gets_the_callee(engine: Engine, tmp_path: Path) -> None:
    callee, line = await preview_campaign(engine, tmp_path, "callee_preview.xml", SKIPPED, CALLED)
    assert engine.sip is not None and engine.acd is not None and engine.dialer is not None
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(engine)), base_url="http://test"
        ) as api:
            wrong = await api.post("/api/campaigns/pv/preview", params={"agent": "9999"})
            assert wrong.status_code == 404 and "no agent" in wrong.json()["detail"]
            first = await api.post("/api/campaigns/pv/preview", params={"agent": "1001"})
            assert first.status_code == 200, first.text
            lead = first.json()
            assert lead["number"] == SKIPPED and lead["fields"] == {"plan": "gold"}
            assert lead["attempts"] == 0 and lead["expires_at"]
            assert engine.acd.router.agent_state("1001") == "paused"  # no queue call meanwhile
            skipped = await api.post(
                f"/api/campaigns/pv/preview/{lead['lead_id']}/skip", params={"agent": "1001"}
            )
            assert skipped.status_code == 200 and skipped.json()["skips_in_a_row"] == 1
            late = await api.post(
                f"/api/campaigns/pv/preview/{lead['lead_id']}/dial", params={"agent": "1001"}
            )
            assert late.status_code == 409 and "not reserved" in late.json()["detail"]

            def status(s):  # type: ignore[no-untyped-def]
                return s.scalar(select(Lead.status).where(Lead.phone == SKIPPED))

            assert await engine.db.run(status) == "new"  # back on the list
            # The skipped lead waits behind the leads due since the import.
            second = (await api.post("/api/campaigns/pv/preview", params={"agent": "1001"})).json()
            assert second["number"] == CALLED
            dialed = await api.post(
                f"/api/campaigns/pv/preview/{second['lead_id']}/dial", params={"agent": "1001"}
            )
            assert dialed.status_code == 202, dialed.text
            again = await api.post(
                f"/api/campaigns/pv/preview/{second['lead_id']}/dial", params={"agent": "1001"}
            )
            assert again.status_code == 409 and "being called already" in again.text

            async def on_the_call() -> str:
                # The ACD did not route the call but holds it as the agent's task (supervisors
                # see them busy).
                bridged = any(c.agent_id == "1001" for c in engine.sip.calls.values())
                state = engine.acd.router.agent_state("1001")
                return state if bridged and state == "busy" else ""

            assert await until(on_the_call, "the bridge to the agent") == "busy"
            assert engine.acd.router.task_status(second_call_id(engine)) == "connected"

        def outcome(s):  # type: ignore[no-untyped-def]
            return s.scalars(select(LeadAttempt.outcome)).all()

        async def closed() -> list[str | None]:
            got = await engine.db.run(outcome)
            return got if got and all(got) else []

        assert await until(closed, "the attempt's outcome", 30) == ["human"]
        result = await callee.wait(30)
        assert result.ok, result.stderr + result.errors

        def read(s):  # type: ignore[no-untyped-def]
            call = s.scalar(select(Call).where(Call.dialed == CALLED))
            attempt = s.scalar(select(LeadAttempt))
            return call, attempt, {lead.phone: lead.status for lead in s.scalars(select(Lead))}

        async def ended() -> Call | None:
            call, _, _ = await engine.db.run(read)
            return call if call is not None and call.ended_at is not None else None

        await until(ended, "the CDR's end")
        call, attempt, status_by_phone = await engine.db.run(read)
        assert call.direction == "outbound"
        assert call.agent_id == engine.directory.agents["1001"].id
        assert call.talk_s is not None and 2.0 < call.talk_s < 8.0
        offered = [e for e in call.events if e.kind == "offered"]
        assert offered and offered[0].data == {"agent": "1001", "nailed": True, "preview": True}
        assert call.legs[0].remote == "nailed-up line"
        [connected] = [e.data for e in call.events if e.kind == "connected"]
        assert connected["agent"] == "1001" and connected["number"] == CALLED
        assert connected["lead"]["plan"] == "gold"  # the screen pop: the lead's fields
        assert attempt.call_id == call.id and attempt.talk_s is not None
        assert status_by_phone == {CALLED: "done", SKIPPED: "new"}
        # The line is free again; the agent wraps up as after any call of the queue, with the
        # call counted as theirs (not as one the queue answered), then is paused as before.
        assert engine.sip.lines["1001"].customer is None
        router = engine.acd.router
        assert router.agent_state("1001") == "wrap_up"
        stats = router.agent_stats("1001", engine.acd.clock())
        assert stats.tasks == 1 and 2.0 < stats.talk_time_s < 8.0
        assert router.queue_stats("support", engine.acd.clock()).answered == 0
        await engine.acd.handle(acd.WrapUpEnded("1001"))
        assert router.agent_state("1001") == "paused"
    finally:
        result = await line.wait(40)
    assert result.ok, result.stderr + result.errors


async def test_preview_call_transferred_to_a_queue(engine: Engine, tmp_path: Path) -> None:
    """The preview agent sends the person to another queue's line (call control API): the
    ACD offers them to an agent of that queue, who takes the call; the preview agent wraps up."""
    second = Sipp(tmp_path, "second", "agent_answer.xml", "-m", "1", "-d", "3000")
    await add_agent(engine, "1002", second.port, queue="billing")
    callee, line = await preview_campaign(engine, tmp_path, "callee_preview_stays.xml", CALLED)
    assert engine.sip is not None and engine.acd is not None
    router = engine.acd.router
    await ready(engine, "1002")
    await second.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(engine)), base_url="http://test"
        ) as api:
            lead = (await api.post("/api/campaigns/pv/preview", params={"agent": "1001"})).json()
            assert lead["number"] == CALLED
            dialed = await api.post(
                f"/api/campaigns/pv/preview/{lead['lead_id']}/dial", params={"agent": "1001"}
            )
            assert dialed.status_code == 202, dialed.text
            call_id = await connected_call(engine, "1001")
            assert router.task_status(call_id) == "connected"
            assert router.agent_state("1001") == "busy"
            moved = await api.post(f"/api/calls/{call_id}/transfer", json={"to": "queue:billing"})
            assert moved.status_code == 202, moved.text

        async def wrapping_up() -> bool:
            return router.agent_state("1001") == "wrap_up"

        await until(wrapping_up, "the preview agent's wrap-up after the transfer", 5)

        async def with_second_agent() -> bool:
            call = engine.sip.calls.get(call_id)
            return (
                call is not None
                and call.agent_id == "1002"
                and router.agent_state("1002") == "busy"
                and router.task_status(call_id) == "connected"
            )

        await until(with_second_agent, "the queue's agent taking the call", 10)
        # The queue's agent talks 3 s and hangs up; the engine then ends the person's call.
        assert (await second.wait(20)).ok
        result = await callee.wait(20)
        assert result.ok, result.stderr + result.errors

        def read(s):  # type: ignore[no-untyped-def]
            return s.scalar(select(Call).where(Call.dialed == CALLED)), s.scalar(
                select(LeadAttempt)
            )

        async def ended() -> bool:
            call, attempt = await engine.db.run(read)
            return (
                call is not None
                and call.ended_at is not None
                and attempt is not None
                and attempt.outcome is not None
            )

        await until(ended, "the CDR's end and the attempt's outcome")
        call, attempt = await engine.db.run(read)
        assert call.agent_id == engine.directory.agents["1002"].id
        assert call.queue_id == engine.directory.queues["billing"].id
        assert [e.data["agent"] for e in call.events if e.kind == "connected"] == ["1001", "1002"]
        [transferred] = [e.data for e in call.events if e.kind == "transferred"]
        assert transferred == {"to": "queue:billing", "by": "1001"}
        assert [leg.remote for leg in call.legs] == [
            "nailed-up line",
            engine.directory.agents["1002"].sip_uri,
        ]
        assert attempt.outcome == "human" and attempt.call_id == call.id
        assert router.task_status(call_id) is None  # the ACD's task ended with the call
        assert router.agent_state("1002") == "wrap_up"
        assert engine.sip.lines["1001"].customer is None
        now = engine.acd.clock()
        assert router.agent_stats("1001", now).tasks == 1
        assert router.agent_stats("1002", now).tasks == 1
        # The transferred call counts as the billing queue's, not as the preview queue's.
        assert router.queue_stats("billing", now).answered == 1
        assert router.queue_stats("support", now).answered == 0
    finally:
        result = await line.wait(40)
        if second.proc is not None and second.proc.returncode is None:
            second.proc.kill()
    assert result.ok, result.stderr + result.errors
