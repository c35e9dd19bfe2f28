"""Campaign leases on the real databases (SQLite and PostgreSQL): with several engine nodes
on one database each running campaign has one runner, a node that dies is replaced after its
lease expires, a node whose lease was taken cannot dial, and in a cluster campaigns with
agents run only on the ACD's leader."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from callcenter.cli.campaign import render_flow
from callcenter.cluster import leadership
from callcenter.store import Database, open_database
from dialer import attempts, leases
from dialer.campaigns import CampaignRepository, lead_flow
from dialer.ports import (
    AgentLoad,
    Answered,
    CallOutcome,
    DialRequest,
    FixedAgents,
    ProgressSink,
    Result,
    Ringing,
)
from dialer.preview import NotPreviewCampaign
from dialer.runner import CampaignRunner, DialerService
from dialer.store import CampaignLease, Lead, LeadAttempt
from tests.integration.test_campaigns_support import NYC, T0, Clock, campaign_db, start

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def _campaign_id(db: Database, name: str = "spring") -> int:
    with db.session() as s:
        return CampaignRepository(s).get(name).id


class HeldLines:
    """An OutboundPort whose calls ring until released; shared by several nodes' ports, it
    fails the test when one number is dialed twice at the same time. The first ``answer``
    calls placed are answered by a person and talk until ``talks_end``."""

    def __init__(self, answer: int = 0) -> None:
        self.ringing: set[str] = set()  # every call in progress, answered or not
        self.overlaps: list[str] = []
        self.release = asyncio.Event()
        self.answer = answer
        self.talks_end = asyncio.Event()

    def port(self) -> NodePort:
        return NodePort(self)


class NodePort:
    def __init__(self, lines: HeldLines) -> None:
        self.lines = lines
        self.placed: list[str] = []

    async def place(self, request: DialRequest, report: ProgressSink) -> CallOutcome:
        if request.number in self.lines.ringing:
            self.lines.overlaps.append(request.number)
        self.lines.ringing.add(request.number)
        self.placed.append(request.number)
        try:
            await report(Ringing())
            if self.lines.answer > 0:
                self.lines.answer -= 1
                await report(Answered(human=True))
                await self.lines.talks_end.wait()
                return CallOutcome(Result.HUMAN, ring_s=3.0, talk_s=30.0, cause="talked")
            await self.lines.release.wait()
            return CallOutcome(Result.NO_ANSWER, ring_s=25.0, cause="no answer")
        finally:
            self.lines.ringing.discard(request.number)


def _service(url: str, port: NodePort, node: str, lease_s: float = 15.0,
             acd_leader: Callable[[], bool] | None = None, layer: str = "sip") -> DialerService:
    """One engine node: its own connection pool, as a separate process would have."""
    return DialerService(open_database(url), {layer: port},
                         FixedAgents({"sales": AgentLoad(available=3)}), poll_s=0.05,
                         tick_s=0.02, owner=node, clock=Clock(), lease_s=lease_s,
                         acd_leader=acd_leader)


class Leads:
    """Which node leads the ACD, as each node's AcdLeadership.is_leader would say."""

    def __init__(self, leader: str | None) -> None:
        self.leader = leader

    def of(self, node: str) -> Callable[[], bool]:
        return lambda: self.leader == node


@asynccontextmanager
async def _two_nodes(url: str, lines: HeldLines, acd: Leads | None = None, layer: str = "sip",
                     ) -> AsyncIterator[tuple[dict[str, NodePort], dict[str, DialerService]]]:
    """Nodes ``a`` and ``b`` (not started) placing their calls on ``lines`` through their
    ``layer``; ``acd`` says which leads the ACD (None: no cluster). Every call ends and both
    stop on the way out."""
    ports = {"a": lines.port(), "b": lines.port()}
    nodes = {n: _service(url, ports[n], f"node-{n}", layer=layer,
                         acd_leader=acd.of(f"node-{n}") if acd else None) for n in ports}
    try:
        yield ports, nodes
    finally:
        lines.release.set()
        lines.talks_end.set()
        for node in nodes.values():
            await node.stop()


async def _until(check, timeout_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout_s / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not reached within {timeout_s} s")


def test_one_holder_at_a_time_and_terms_only_grow(db_url: str) -> None:
    db = campaign_db(db_url, NYC[:1])
    cid = _campaign_id(db)
    with db.session() as s:
        a = leases.acquire(s, cid, "node-a", NOW, ttl_s=15)
    with db.session() as s:
        assert leases.acquire(s, cid, "node-b", NOW + timedelta(seconds=14), ttl_s=15) is None
        assert leases.holder(s, cid, NOW).node == "node-a"  # type: ignore[union-attr]
    assert a is not None and a.term == 1
    with db.session() as s:  # renewed in time: still A's
        a2 = leases.renew(s, a, NOW + timedelta(seconds=10), ttl_s=15)
    assert a2 is not None and a2.expires_at == NOW + timedelta(seconds=25)
    with db.session() as s:
        assert leases.acquire(s, cid, "node-b", NOW + timedelta(seconds=20), ttl_s=15) is None
        b = leases.acquire(s, cid, "node-b", NOW + timedelta(seconds=25), ttl_s=15)
    assert b is not None and b.term == 2  # expired: B takes it over in a new term
    with db.session() as s:
        assert leases.renew(s, a2, NOW + timedelta(seconds=26)) is None  # A lost it
        assert not leases.release(s, a2, NOW + timedelta(seconds=26))  # and cannot free it
        assert leases.holder(s, cid, NOW + timedelta(seconds=26)).node == "node-b"  # type: ignore[union-attr]
        assert leases.release(s, b, NOW + timedelta(seconds=30))
    with db.session() as s:  # given back: taken at once, and the term still grows
        assert leases.holder(s, cid, NOW + timedelta(seconds=30)) is None
        a3 = leases.acquire(s, cid, "node-a", NOW + timedelta(seconds=30), ttl_s=15)
    assert a3 is not None and a3.term == 3


def test_nodes_racing_for_a_free_campaign_one_wins(db_url: str) -> None:
    db = campaign_db(db_url, NYC[:1])
    cid = _campaign_id(db)
    dbs = [open_database(db_url) for _ in range(6)]
    barrier = threading.Barrier(len(dbs))
    won: list[leases.Lease] = []

    def node(i: int) -> None:
        barrier.wait()
        with dbs[i].session() as s:
            got = leases.acquire(s, cid, f"node-{i}", NOW, ttl_s=15)
        if got is not None:
            won.append(got)

    threads = [threading.Thread(target=node, args=(i,)) for i in range(len(dbs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    with db.session() as s:
        row = s.scalars(select(CampaignLease)).one()
    assert (row.node, row.term) == (won[0].node, won[0].term)


def test_a_node_whose_lease_was_taken_claims_nothing(db_url: str) -> None:
    db = campaign_db(db_url, NYC[:2])
    cid = _campaign_id(db)
    start(db)
    with db.session() as s:
        old = leases.acquire(s, cid, "node-a", NOW, ttl_s=15)
    with db.session() as s:
        new = leases.acquire(s, cid, "node-b", NOW + timedelta(seconds=16), ttl_s=15)
    assert old is not None and new is not None
    with db.session() as s:
        lead_id = s.scalars(select(Lead.id).order_by(Lead.id)).first()
    assert lead_id is not None
    with db.session() as s:
        campaign = CampaignRepository(s).get("spring")
        stats = attempts.campaign_stats(s, campaign, T0)
        assert attempts.claim_and_record(s, campaign, lead_id, T0, "node-a", stats.abandons,
                                         lease=old) is None
        got = attempts.claim_and_record(s, campaign, lead_id, T0, "node-b", stats.abandons,
                                        lease=new)
    assert isinstance(got, attempts.Claimed)
    with db.session() as s:
        assert s.scalar(select(Lead.claimed_by).where(Lead.id == lead_id)) == "node-b"
        assert len(s.scalars(select(LeadAttempt)).all()) == 1


async def test_two_nodes_one_runner_and_a_clean_hand_over(db_url: str) -> None:
    db = campaign_db(db_url, NYC[:8], max_lines=3)
    lines = HeldLines()
    async with _two_nodes(db_url, lines) as (ports, nodes):
        for node in nodes.values():
            await node.start()
        start(db)
        await _until(lambda: sum(len(p.placed) for p in ports.values()) == 3)
        await asyncio.sleep(0.3)  # both nodes polled several times meanwhile
        holder = next(n for n in nodes if nodes[n].live_runner("spring") is not None)
        other = "b" if holder == "a" else "a"
        assert nodes[other].live_runner("spring") is None
        assert len(ports[holder].placed) == 3 and ports[other].placed == []
        with db.session() as s:  # nobody took the holder's calls in flight for a crash's
            assert s.scalars(select(LeadAttempt.outcome)).all() == [None] * 3
        with db.session() as s:
            assert lead_flow(s, "spring", datetime.now(UTC)).run_by == f"node-{holder}"
        with pytest.raises(NotPreviewCampaign, match=f"run by engine node node-{holder}"):
            await nodes[other].preview_desk.next_for("spring", "1001")  # an agent on the other

        await nodes[holder].stop()  # a clean shut-down gives the lease back at once
        await _until(lambda: len(ports[other].placed) == 3, timeout_s=3.0)
        with db.session() as s:
            crashed = s.scalars(select(LeadAttempt).where(
                LeadAttempt.outcome == "failed")).all()
            assert len(crashed) == 3  # the holder's cut-short calls, reconciled by the other
            assert lead_flow(s, "spring", datetime.now(UTC)).run_by == f"node-{other}"
        assert lines.overlaps == []
        assert not set(ports[other].placed) & set(ports[holder].placed)  # fresh leads
        lines.release.set()
        await _until(lambda: not lines.ringing)


async def test_a_dead_node_is_replaced_only_after_its_lease_expires(db_url: str) -> None:
    db = campaign_db(db_url, NYC[:8], max_lines=2)
    lines = HeldLines()
    a_port, b_port = lines.port(), lines.port()
    a = _service(db_url, a_port, "node-a", lease_s=1.5)
    b = _service(db_url, b_port, "node-b", lease_s=1.5)
    start(db)
    await a.start()
    await _until(lambda: len(a_port.placed) == 2)
    # Node A dies: its loops stop and its calls vanish, but nothing is given back.
    assert a._watch is not None
    a._watch.cancel()
    runner = a.live_runner("spring")
    assert runner is not None
    a._runners["spring"][1].cancel()
    await runner.close()
    died = asyncio.get_running_loop().time()
    await b.start()
    try:
        await _until(lambda: b.live_runner("spring") is not None, timeout_s=5.0)
        waited = asyncio.get_running_loop().time() - died
        assert waited >= 1.0  # the lease's 1.5 s, less the polls already gone by
        await _until(lambda: len(b_port.placed) == 2)
        with db.session() as s:
            failed = s.scalars(select(LeadAttempt).where(LeadAttempt.outcome == "failed")).all()
            assert {f.number for f in failed} == set(a_port.placed)
            assert all("crash" in (f.detail or "") for f in failed)
        assert lines.overlaps == []
    finally:
        lines.release.set()
        await b.stop()
        await a.stop()


async def test_a_node_that_learns_its_lease_was_taken_stops_dialing(db_url: str) -> None:
    db = campaign_db(db_url, NYC[:8], max_lines=2)
    lines = HeldLines()
    port = lines.port()
    a = _service(db_url, port, "node-a")
    start(db)
    await a.start()
    try:
        await _until(lambda: len(port.placed) == 2)
        runner = a.live_runner("spring")
        assert runner is not None
        with db.session() as s:  # as if A stalled past its expiry and B took over
            s.execute(update(CampaignLease).values(node="node-b",
                                                   term=CampaignLease.term + 1))
        await _until(lambda: a.live_runner("spring") is None, timeout_s=3.0)
        assert not lines.ringing  # its ringing calls were hung up
        assert len(port.placed) == 2  # and nothing more was dialed
        with db.session() as s:
            assert s.scalar(select(CampaignLease.node)) == "node-b"
    finally:
        lines.release.set()
        await a.stop()


async def test_a_runner_past_its_fence_time_places_nothing(db_url: str) -> None:
    db = campaign_db(db_url, NYC[:4], max_lines=2)
    start(db)
    lines = HeldLines()
    port = lines.port()
    runner = CampaignRunner(db, "spring", port, FixedAgents({"sales": AgentLoad(available=2)}),
                            clock=Clock(), tick_s=0.01)
    task = asyncio.create_task(runner.run())
    try:
        await _until(lambda: len(port.placed) == 2)
        runner.fence_at = 0.0  # its lease went unrenewed (the database unreachable, say)
        assert await asyncio.wait_for(task, 3.0) == "fenced"
        assert not lines.ringing and len(port.placed) == 2
        with db.session() as s:  # the attempts stay open for the next holder's reconcile
            assert s.scalar(select(Lead.status).where(Lead.phone == port.placed[0])) == "dialing"
    finally:
        lines.release.set()
        await runner.close()


# --- In a cluster: campaigns with agents run on the ACD's leader ---------------------------


@pytest.mark.parametrize("campaign", [
    {},  # progressive: agents in queue sales
    # A survey over Twilio: every node sends Twilio's webhooks on to the leader, where only
    # the Twilio layer that placed the call knows it.
    {"kind": "survey", "flow": "csat", "dial_mode": "agentless", "queue": None,
     "voice_layer": "twilio"},
], ids=["with agents", "twilio survey"])
async def test_an_agent_or_twilio_campaign_runs_only_on_the_acd_leader(
        db_url: str, campaign: dict[str, object]) -> None:
    db = campaign_db(db_url, NYC[:8], max_lines=3, **campaign)
    lines = HeldLines()
    layer = str(campaign.get("voice_layer", "sip"))
    async with _two_nodes(db_url, lines, Leads("node-b"), layer) as (ports, nodes):
        await nodes["a"].start()  # the follower alone first: it leaves the campaign
        start(db)
        await asyncio.sleep(0.3)
        assert ports["a"].placed == [] and nodes["a"].live_runner("spring") is None
        await nodes["b"].start()
        await _until(lambda: len(ports["b"].placed) == 3)
        await asyncio.sleep(0.3)
        assert ports["a"].placed == [] and nodes["a"].live_runner("spring") is None
        with db.session() as s:
            flow = lead_flow(s, "spring", datetime.now(UTC))
        assert (flow.run_by, flow.not_run_why) == ("node-b", None)


async def test_an_agentless_campaign_runs_on_a_node_that_does_not_lead(db_url: str) -> None:
    db = campaign_db(db_url, NYC[:8], max_lines=3, kind="survey", flow="csat",
                     dial_mode="agentless", queue=None)
    lines = HeldLines()
    # A third node leads the ACD: neither of these.
    async with _two_nodes(db_url, lines, Leads("node-c")) as (ports, nodes):
        for node in nodes.values():
            await node.start()
        start(db)
        await _until(lambda: sum(len(p.placed) for p in ports.values()) == 3)
        await asyncio.sleep(0.3)
        runs = [n for n in nodes if nodes[n].live_runner("spring") is not None]
        assert len(runs) == 1 and len(ports[runs[0]].placed) == 3
        assert lines.overlaps == []


async def test_an_agent_campaign_follows_the_acd_leader(db_url: str) -> None:
    db = campaign_db(db_url, NYC[:8], max_lines=3)
    lines = HeldLines(answer=1)  # A's first call is answered: a person talks to an agent
    acd = Leads("node-a")
    async with _two_nodes(db_url, lines, acd) as (ports, nodes):
        for node in nodes.values():
            await node.start()
        start(db)
        await _until(lambda: len(ports["a"].placed) == 3)
        talking = ports["a"].placed[0]

        acd.leader = "node-b"  # A stops leading the ACD (its lease lapsed, B took it)
        # A hangs up its two ringing calls at once and places nothing more; the answered
        # call talks on under A's lease, so nobody reconciles it meanwhile.
        await _until(lambda: lines.ringing == {talking}, timeout_s=3.0)
        await asyncio.sleep(0.3)
        assert ports["b"].placed == [] and len(ports["a"].placed) == 3
        with db.session() as s:
            holder = leases.holder(s, _campaign_id(db), datetime.now(UTC))
        assert holder is not None and holder.node == "node-a"

        lines.talks_end.set()  # the talk ends: A records it, gives the lease back, B runs
        await _until(lambda: len(ports["b"].placed) == 3, timeout_s=3.0)
        assert nodes["a"].runner("spring") is None and nodes["b"].live_runner("spring")
        with db.session() as s:
            ended = {n: (o, d) for n, o, d in s.execute(select(
                LeadAttempt.number, LeadAttempt.outcome, LeadAttempt.detail)).all()}
            assert lead_flow(s, "spring", datetime.now(UTC)).run_by == "node-b"
        assert ended[talking][0] == "human"  # recorded by A, not closed as a crash
        hung_up = set(ports["a"].placed) - {talking}
        assert all(ended[n][0] == "failed" and "crash" in (ended[n][1] or "")
                   for n in hung_up)  # reconciled by B at its start
        assert not set(ports["b"].placed) & set(ports["a"].placed)  # fresh leads
        assert lines.overlaps == []

        acd.leader = "node-a"  # and back again
        await _until(lambda: nodes["a"].live_runner("spring") is not None, timeout_s=3.0)
        assert nodes["b"].live_runner("spring") is None


def test_status_says_why_no_node_runs_an_agent_campaign(db_url: str) -> None:
    db = campaign_db(db_url, NYC[:2])
    start(db)
    now = datetime.now(UTC)
    with db.session() as s:  # no cluster on this database, no node up
        assert "no engine node runs it yet" in (lead_flow(s, "spring", now).not_run_why or "")
    with db.session() as s:
        leadership.take_or_read(s, "node-b", now, 15, None, None)
    with db.session() as s:
        flow = lead_flow(s, "spring", now)
    assert flow.run_by is None
    assert "run only on the ACD's leader, node-b" in (flow.not_run_why or "")
    assert f"run by node       none: {flow.not_run_why}" in render_flow(flow)
    with db.session() as s:  # the leader's lease ended: nobody leads the ACD
        flow = lead_flow(s, "spring", now + timedelta(seconds=16))
    assert "no node leads the ACD" in (flow.not_run_why or "")
    with db.session() as s:
        cid = _campaign_id(db)
        leases.acquire(s, cid, "node-b", now, ttl_s=15)
    with db.session() as s:
        flow = lead_flow(s, "spring", now)
    assert (flow.run_by, flow.not_run_why) == ("node-b", None)
