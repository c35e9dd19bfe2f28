"""Two engine nodes on one database, over real SIP: one queue for the whole cluster.

Node ``a`` runs in this process and leads the ACD (it starts first); node ``b`` is a
``callcenter serve`` process of its own (pjsua2 allows one stack per process). Callers
phone node ``b``; their IVR runs there, and at the queue they are handed over to ``a``,
where the agents are logged in (callcenter/voice/sip/handover.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from callcenter import acd
from callcenter.engine import Engine
from callcenter.store import AgentRepository, Database, QueueRepository, upgrade
from callcenter.store.models import Call
from tests.support.cluster import NodeProcess, cluster_settings
from tests.support.sip import Sipp, free_udp_port
from tests.support.sip_engine import FLOW, add_agent, ready, until

NUMBERS = {"200": str(FLOW)}


@pytest.fixture
async def leader(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Engine]:
    db = Database(sqlite_url)
    upgrade(db)
    db.dispose()
    eng = Engine(cluster_settings(tmp_path, sqlite_url, "a", NUMBERS))
    yield eng
    await eng.stop()


@pytest.fixture
async def follower(tmp_path: Path, sqlite_url: str) -> AsyncIterator[NodeProcess]:
    node = NodeProcess(tmp_path, cluster_settings(tmp_path, sqlite_url, "b", NUMBERS))
    yield node
    await node.stop()


@contextlib.asynccontextmanager
async def a_leads_elsewhere(
    tmp_path: Path, sqlite_url: str
) -> AsyncIterator[tuple[NodeProcess, Engine, Sipp]]:
    """Node a leads as a process of its own; node b, following, runs in this process; agent
    1001 (a SIPp phone, talks 1.5 s, not started) is on the record."""
    db = Database(sqlite_url)
    upgrade(db)
    db.dispose()
    old = NodeProcess(tmp_path, cluster_settings(tmp_path, sqlite_url, "a", NUMBERS))
    new = Engine(cluster_settings(tmp_path, sqlite_url, "b", NUMBERS))
    agent = Sipp(tmp_path, "agent", "agent_answer.xml", "-m", "1", "-d", "1500")
    try:
        await add_agent(new, "1001", agent.port)
        await old.start()
        await new.start()
        assert new.leadership is not None and not new.leadership.is_leader
        yield old, new, agent
    finally:
        await new.stop()
        await old.stop()


def caller(tmp_path: Path, name: str, port: int, number: str = "+15550100",
           key: str = "2", dialed: str = "200") -> Sipp:
    """A SIPp caller that presses ``key`` (2: support) a second after the answer, then waits
    for the engine to hang up."""
    keys = tmp_path / f"{name}-keys.csv"
    keys.write_text(f"SEQUENTIAL\n{key};0;{number}\n")
    return Sipp(tmp_path, name, "caller_dtmf_info.xml", "-s", dialed, "-d", "1000", "-m", "1",
                "-inf", str(keys), f"127.0.0.1:{port}")


async def calls(engine: Engine) -> list[Call]:
    return await engine.db.run(lambda s: list(
        s.scalars(select(Call).options(selectinload(Call.events)).order_by(Call.started_at))))


def kinds(call: Call) -> list[str]:
    return [e.kind for e in call.events]


async def test_a_caller_on_another_node_waits_at_the_leader_and_reaches_its_agent(
    leader: Engine, follower: NodeProcess, tmp_path: Path
) -> None:
    agent = Sipp(tmp_path, "agent", "agent_answer.xml", "-m", "1", "-d", "2000")
    await add_agent(leader, "1001", agent.port)
    await leader.start()
    assert leader.leadership is not None and leader.leadership.is_leader
    await ready(leader, "1001")
    await agent.start()
    await follower.start()
    assert follower.settings.sip.port != leader.settings.sip.port

    phone = caller(tmp_path, "caller", follower.settings.sip.port)
    await phone.start()
    result = await phone.wait(60)
    assert result.ok, result.stderr + result.errors + follower.text()[-3000:]
    assert (await agent.wait(10)).ok

    async def both_finished() -> list[Call] | None:
        got = await calls(leader)
        return got if len(got) == 2 and all(c.ended_at for c in got) else None

    origin, handed = sorted(await until(both_finished, "two finished call records"),
                            key=lambda c: c.dialed != "200")
    # The origin node ran the IVR, handed the caller over, and went on after the agent.
    assert origin.dialed == "200" and "handed_over" in kinds(origin)
    result_event = next(e for e in origin.events if e.kind == "handover_result")
    assert result_event.data["leader"] == "a"
    assert result_event.data["result"].startswith("served;agent=1001;connected=")
    assert origin.agent_id is not None  # the agent the leader connected, on both records
    # The origin's record counts the wait up to the leader's agent, and the talk from there
    # (to the end of the call, as on one node: the flow's goodbye after the agent included).
    assert origin.talk_s is not None and origin.talk_s > (handed.talk_s or 0) - 0.5
    assert origin.queue_wait_s is not None and origin.queue_wait_s < 2.0
    # The leader queued it (no flow of its own) and connected its agent.
    handed_in = next(e for e in handed.events if e.kind == "handed_in")
    assert handed_in.data == {"origin": "b", "call": origin.id}
    assert handed.flow is None
    assert handed.caller == "+15550100"
    assert handed.queue_id == origin.queue_id is not None
    assert handed.agent_id == origin.agent_id
    assert handed.talk_s is not None and handed.talk_s > 0
    assert handed.hangup_cause.startswith("handed back: served;agent=1001;connected=")


async def test_a_leader_shedding_new_calls_still_takes_handed_over_callers(
    leader: Engine, follower: NodeProcess, tmp_path: Path
) -> None:
    """Overload shedding and the rate per source refuse new calls; a caller another node
    answered and hands over is not new load (refused, it would wait where no agent is)."""
    agent = Sipp(tmp_path, "agent", "agent_answer.xml", "-m", "1", "-d", "1500")
    await add_agent(leader, "1001", agent.port)
    await leader.start()
    await ready(leader, "1001")
    assert leader.sip is not None
    admission = leader.sip.admission
    admission.overloaded = "test: the engine runs late"
    admission.rate, admission.burst = 1e-6, 0.5  # and no source may place a call
    assert admission.check("127.0.0.1:5999", "200", 0.0)[0] == 503
    await agent.start()
    await follower.start()
    phone = caller(tmp_path, "caller", follower.settings.sip.port)
    await phone.start()
    got = await phone.wait(60)
    assert got.ok, got.stderr + got.errors + follower.text()[-3000:]
    assert (await agent.wait(10)).ok

    async def served() -> Call | None:
        return next((c for c in await calls(leader) if c.dialed == "cc-handover"
                     and c.ended_at and c.talk_s), None)

    handed = await until(served, "the handed-over caller served at the shedding leader")
    assert handed.agent_id is not None


async def test_callers_of_both_nodes_share_one_line(
    leader: Engine, follower: NodeProcess, tmp_path: Path
) -> None:
    """The caller who phoned the other node first is served first."""
    agent = Sipp(tmp_path, "agent", "agent_answer.xml", "-m", "2", "-d", "1500")
    await add_agent(leader, "1001", agent.port)
    await leader.start()
    assert leader.acd is not None
    await leader.acd.handle(acd.AgentLoggedIn("1001"))
    await leader.acd.handle(acd.AgentPaused("1001", "not yet"))
    await agent.start()
    await follower.start()

    first = caller(tmp_path, "first", follower.settings.sip.port, "+15550101")
    second = caller(tmp_path, "second", leader.settings.sip.port, "+15550102")
    await first.start()

    async def waiting(n: int) -> bool:
        assert leader.acd is not None
        return leader.acd.router.queue_stats("support", leader.acd.clock()).waiting >= n

    await until(lambda: waiting(1), "the first caller waiting at the leader")
    await second.start()
    await until(lambda: waiting(2), "both callers waiting at the leader")
    await leader.acd.handle(acd.AgentReady("1001"))
    for phone in (first, second):
        got = await phone.wait(60)
        assert got.ok, got.stderr + got.errors
    assert (await agent.wait(10)).ok

    async def served() -> list[Call] | None:
        # The conversations (the origin's record of the first caller has no "connected").
        got = [c for c in await calls(leader) if c.ended_at and "connected" in kinds(c)]
        return got if len(got) == 2 else None

    def connected_at(call: Call) -> object:
        return next(e.at for e in call.events if e.kind == "connected")

    order = sorted(await until(served, "both callers served"), key=connected_at)
    assert [c.caller for c in order] == ["+15550101", "+15550102"]
    assert [c.dialed for c in order] == ["cc-handover", "200"]  # from node b, then a's own


async def test_a_handover_nobody_signed_is_refused(
    leader: Engine, tmp_path: Path
) -> None:
    await leader.start()
    forged = tmp_path / "forged.csv"
    forged.write_text("SEQUENTIAL\neyJjYWxsX2lkIjoieCJ9.0000;\n")
    forger = Sipp(tmp_path, "forger", "handover_forged.xml", "-s", "cc-handover", "-m", "1",
                  "-inf", str(forged), f"127.0.0.1:{leader.settings.sip.port}")
    await forger.start()
    got = await forger.wait(20)
    assert got.ok, got.stderr + got.errors
    assert leader.sip is not None and leader.sip.handovers is not None
    assert leader.sip.handovers.refused == 1
    await asyncio.sleep(0.5)
    assert await calls(leader) == []  # nothing queued, nothing recorded


async def test_an_agent_line_dialed_into_another_node_logs_in_at_the_leader(
    leader: Engine, follower: NodeProcess, tmp_path: Path
) -> None:
    """The agent's nailed-up line and the caller both reach node b; the line is relayed to
    the leader, the agent logs in there, and the caller is bridged onto the line."""
    db = Database(leader.settings.database.url)
    with db.session() as s:
        AgentRepository(s).add("1001", "Ann", pin="1234")
        QueueRepository(s).add_member("support", "1001")
    db.dispose()
    await leader.start()
    await follower.start()
    assert leader.acd is not None and leader.sip is not None
    (tmp_path / "line.csv").write_text("SEQUENTIAL\n1;0;0;1;#;1;2;3;4;#;#\n")
    line = Sipp(tmp_path, "line", "agent_line.xml", "-s", leader.settings.sip.agent_login_number,
                "-m", "1", "-inf", str(tmp_path / "line.csv"),
                f"127.0.0.1:{follower.settings.sip.port}")
    await line.start()

    async def logged_in() -> bool:
        assert leader.acd is not None and leader.sip is not None
        return "1001" in leader.sip.lines and leader.acd.router.agent_state("1001") == "available"

    await until(logged_in, "agent 1001 logged in at the leader through node b", timeout=30)
    phone = caller(tmp_path, "caller", follower.settings.sip.port)
    await phone.start()
    got = await phone.wait(60)
    assert got.ok, got.stderr + got.errors
    assert (await line.wait(20)).ok

    async def handed() -> Call | None:
        return next((c for c in await calls(leader) if c.dialed == "cc-handover" and c.ended_at
                     and c.talk_s), None)

    call = await until(handed, "the handed-in caller served")
    offered = next(e for e in call.events if e.kind == "offered")
    assert offered.data == {"agent": "1001", "nailed": True}


@pytest.mark.parametrize("end", ["stops", "dies"])
async def test_when_the_leader_ends_its_waiting_caller_and_agents_move_to_the_new_leader(
    tmp_path: Path, sqlite_url: str, end: str
) -> None:
    """Node a (a process of its own) leads; a caller of node b waits there for a paused
    agent. Node a stops (SIGTERM: it hands the caller back, moved) or dies (SIGKILL: node b
    sees another term once a's lease expired); node b takes the lead, logs the agent in as
    node a had it (paused, same reason), and queues the caller in the place it had: once the
    agent is ready, the caller is served at b, its wait counted from the start."""
    async with a_leads_elsewhere(tmp_path, sqlite_url) as (old, new, agent):
        assert new.sip is not None and new.sip.handovers is not None and new.acd is not None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{old.http_port}") as http:
            assert (await http.post("/api/agents/1001/login")).status_code == 200
            r = await http.post("/api/agents/1001/pause", json={"reason": "lunch"})
            assert r.status_code == 200 and r.json()["state"] == "paused"
        await agent.start()
        phone = caller(tmp_path, "caller", new.settings.sip.port)
        await phone.start()
        handovers = new.sip.handovers

        async def handed() -> bool:
            return bool(handovers.handed)

        await until(handed, "the caller handed over to node a")
        await asyncio.sleep(2)  # waiting at a
        if end == "stops":
            assert await old.stop() == 0
        else:
            old.kill()

        async def took_over() -> bool:
            assert new.acd is not None and new.leadership is not None
            return (new.leadership.is_leader
                    and new.acd.router.queue_stats("support", new.acd.clock()).waiting == 1
                    and new.acd.router.agent_state("1001") == "paused")

        await until(took_over, "node b leading, the caller waiting there, the agent paused",
                    timeout=30)
        assert new.acd.router.pause_reason("1001") == "lunch"
        await new.acd.handle(acd.AgentReady("1001"))
        got = await phone.wait(60)
        assert got.ok, got.stderr + got.errors + old.text()[-2000:]
        assert (await agent.wait(10)).ok

        async def finished() -> Call | None:
            return next((c for c in await calls(new) if c.dialed == "200" and c.ended_at),
                        None)

        call = await until(finished, "the caller's record at b")
        moved = next(e for e in call.events if e.kind == "handover_result")
        # Handed back by a; or a dead leader, noticed when b took the lead from it.
        assert moved.data == {"leader": "a", "result": "moved" if end == "stops"
                              else "leader gone"}
        after = kinds(call)[kinds(call).index("handed_over"):]
        assert "queued" in after and "connected" in after  # served at b, by 1001
        assert call.queue_wait_s is not None and call.queue_wait_s > 2.0


async def test_a_caller_no_leader_took_goes_to_the_leader_once_it_may(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Node a leads; node b's handovers fail (here: a number a does not answer, 404) until b
    gives up and the caller waits in b's own queue, where no agent is. Once a may take the
    caller (the number right again, seen at b's next look), b hands the caller over in the
    same place and a's agent serves it."""
    from callcenter.voice.sip import handover

    monkeypatch.setattr(handover, "MAX_TRIES", 2)  # give up sooner
    monkeypatch.setattr(handover, "RECHECK_S", 1.0)  # and look again sooner
    async with a_leads_elsewhere(tmp_path, sqlite_url) as (old, new, agent):
        assert new.sip is not None and new.sip.handovers is not None and new.acd is not None
        handovers = new.sip.handovers
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{old.http_port}") as http:
            assert (await http.post("/api/agents/1001/login")).status_code == 200
            assert (await http.post("/api/agents/1001/ready")).status_code == 200
        await agent.start()
        right, handovers.number = handovers.number, "cc-nowhere"
        phone = caller(tmp_path, "caller", new.settings.sip.port)
        await phone.start()

        async def waiting_here() -> bool:
            assert new.acd is not None
            return (bool(handovers.local)
                    and new.acd.router.queue_stats("support", new.acd.clock()).waiting == 1)

        await until(waiting_here, "the caller waiting in b's own queue", timeout=30)
        handovers.number = right
        got = await phone.wait(60)
        assert got.ok, got.stderr + got.errors + old.text()[-2000:]
        assert (await agent.wait(10)).ok
        assert not handovers.local
        assert new.acd.router.queue_stats("support", new.acd.clock()).waiting == 0

        async def finished() -> Call | None:
            return next((c for c in await calls(new) if c.dialed == "200" and c.ended_at
                         and "handover_result" in kinds(c)), None)

        call = await until(finished, "the caller's record at b")
        seen = kinds(call)
        assert seen.index("queued") < seen.index("moved_to_leader") < seen.index("handed_over")
        served = next(e for e in call.events if e.kind == "handover_result")
        assert served.data["result"].startswith("served;agent=1001")
        assert "abandoned" not in seen
        # What an operator sees of it (/metrics of node b).
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{new.http_port}") as http:
            text = (await http.get("/metrics")).text
        metrics = dict(line.rsplit(" ", 1) for line in text.splitlines()
                       if line.startswith("callcenter_cluster_"))
        assert float(metrics["callcenter_cluster_leader"]) == 0
        assert float(metrics["callcenter_cluster_handovers_total"]) == 1
        assert float(metrics["callcenter_cluster_handovers_failed_total"]) >= 2
        assert float(metrics["callcenter_cluster_callers_waiting_here"]) == 0


async def test_a_call_back_kept_at_the_leader_is_made_by_the_next_leader(
    tmp_path: Path, sqlite_url: str
) -> None:
    """A caller of node b presses * while waiting at the leader a: a keeps the place on the
    record. Node a stops before the place's turn; b leads, takes the place over, and its
    agent calls the customer back through b's gateway."""
    from callcenter.store.queue_callbacks import QueueCallbackRow

    db = Database(sqlite_url)
    upgrade(db)
    db.dispose()
    gateway = free_udp_port()
    numbers = {"300": str(FLOW.with_name("sip_callback.yaml"))}
    out = f"127.0.0.1:{gateway}"
    old = NodeProcess(tmp_path, cluster_settings(tmp_path, sqlite_url, "a", numbers, out))
    new = Engine(cluster_settings(tmp_path, sqlite_url, "b", numbers, out))
    agent = Sipp(tmp_path, "agent", "agent_answer.xml", "-m", "1", "-d", "3000")
    customer = Sipp(tmp_path, "customer", "callee_preview_stays.xml", "-m", "1")
    customer.args[customer.args.index("-p") + 1] = str(gateway)
    try:
        await add_agent(new, "1001", agent.port)
        await old.start()
        await new.start()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{old.http_port}") as http:
            assert (await http.post("/api/agents/1001/login")).status_code == 200
            r = await http.post("/api/agents/1001/pause", json={"reason": "meeting"})
            assert r.status_code == 200
        phone = caller(tmp_path, "caller", new.settings.sip.port, key="*", dialed="300")
        await phone.start()
        got = await phone.wait(60)
        assert got.ok, got.stderr + got.errors

        async def place() -> tuple[str, str, str, int] | None:
            def read(s):  # type: ignore[no-untyped-def]
                row = s.scalars(select(QueueCallbackRow)).first()
                return None if row is None else (row.node, row.status, row.number, row.calls)

            return await new.db.run(read)  # type: ignore[no-any-return]

        assert await until(place, "the place kept at a") == ("a", "waiting", "+15550100", 0)
        origin = next(c for c in await calls(new) if c.dialed == "300")
        result = next(e for e in origin.events if e.kind == "handover_result")
        assert result.data == {"leader": "a", "result": "callback"}
        assert await old.stop() == 0

        async def taken() -> bool:
            return await place() == ("b", "waiting", "+15550100", 0)

        await until(taken, "node b holding the place", timeout=30)
        assert new.acd is not None
        await agent.start()
        await customer.start()
        await new.acd.handle(acd.AgentReady("1001"))  # restored paused: ready now
        assert (await agent.wait(30)).ok
        assert (await customer.wait(30)).ok

        async def done() -> bool:
            return await place() == ("b", "done", "+15550100", 1)

        await until(done, "the call-back made by node b")
    finally:
        await new.stop()
        await old.stop()
