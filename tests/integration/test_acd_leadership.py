"""The ACD's leader on the real databases (SQLite and PostgreSQL): with several engine nodes
on one database exactly one leads; a leader that stops hands the lead over at once, one that
dies is replaced once its lease expired, and one that cannot renew stops leading before."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from callcenter.cluster.leadership import AcdLeadership, Leader, last_lease
from callcenter.store import Database, open_database, upgrade
from tests.integration.test_campaigns_support import Cli, cli_on

LEASE_S, POLL_S = 1.2, 0.1  # fence 0.4 s before expiry


class Changes:
    """A node's on_change, recorded as (old node, old term, new node, new term)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str | None, int | None, str | None, int | None]] = []

    async def __call__(self, old: Leader | None, new: Leader | None) -> None:
        self.seen.append((old.node if old else None, old.term if old else None,
                          new.node if new else None, new.term if new else None))


def _node(url: str, name: str, changes: Changes | None = None, **kw: Any) -> AcdLeadership:
    """One engine node: its own connection pool, as a separate process would have."""
    return AcdLeadership(open_database(url), name, sip_uri=f"sip:{name}.internal:5070",
                         http_url=f"http://{name}.internal:8080", lease_s=LEASE_S,
                         poll_s=POLL_S, on_change=changes, **kw)


def _migrated(url: str) -> str:
    db = open_database(url)
    upgrade(db)
    db.dispose()
    return url


async def _until(check: Callable[[], bool], timeout_s: float = 5.0,
                 watch: Callable[[], None] | None = None) -> float:
    """Wait for ``check``; calls ``watch`` at every step; returns the time it took."""
    started = time.monotonic()
    while not check():
        if watch is not None:
            watch()
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"not reached within {timeout_s} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def test_one_leads_and_a_stop_hands_the_lead_over_at_once(db_url: str) -> None:
    url = _migrated(db_url)
    seen = {name: Changes() for name in "abc"}
    nodes = [_node(url, f"node-{name}", seen[name]) for name in "abc"]
    await asyncio.gather(*(n.start() for n in nodes))  # racing for a free lease
    try:
        leading = [n for n in nodes if n.is_leader]
        assert len(leading) == 1
        first = leading[0]
        assert all(n.leader is not None and n.leader.node == first.node for n in nodes)
        assert first.leader == Leader(first.node, 1, f"sip:{first.node}.internal:5070",
                                      f"http://{first.node}.internal:8080",
                                      first.leader.expires_at)  # type: ignore[union-attr]
        for changes in seen.values():
            assert changes.seen == [(None, None, first.node, 1)]
        await asyncio.sleep(3 * POLL_S)  # renewed, nothing changes
        assert [n.is_leader for n in nodes].count(True) == 1
        assert all(len(c.seen) == 1 for c in seen.values())

        others = [n for n in nodes if n is not first]
        await first.stop()
        assert not first.is_leader
        took = await _until(lambda: any(n.is_leader for n in others))
        assert took < LEASE_S / 2  # given back: no wait for its expiry
        second = next(n for n in others if n.is_leader)
        await _until(lambda: all(n.leader and n.leader.node == second.node for n in others))
        assert [n.is_leader for n in others].count(True) == 1
        first_name = "abc"[nodes.index(first)]
        assert seen[first_name].seen == [(None, None, first.node, 1), (first.node, 1, None, None)]
        for n in others:
            assert seen["abc"[nodes.index(n)]].seen == [(None, None, first.node, 1),
                                                         (first.node, 1, second.node, 2)]
    finally:
        for n in nodes:
            await n.stop()
            n.db.dispose()


async def test_a_leader_that_dies_is_replaced_once_its_lease_expired(db_url: str) -> None:
    url = _migrated(db_url)
    a_seen, b_seen = Changes(), Changes()
    a, b = _node(url, "node-a", a_seen), _node(url, "node-b", b_seen)
    await a.start()
    await b.start()
    try:
        assert a.is_leader and not b.is_leader
        assert a._task is not None
        a._task.cancel()  # its loop dies: no renewal, no release
        await asyncio.gather(a._task, return_exceptions=True)
        assert a.leader is not None
        expires = a.leader.expires_at  # as last renewed

        def never_two() -> None:
            assert not (a.is_leader and b.is_leader)

        fenced = await _until(lambda: not a.is_leader, watch=never_two)
        assert datetime.now(UTC) < expires  # it stopped leading before its lease ended
        assert fenced < LEASE_S
        await _until(lambda: b.is_leader, watch=never_two)
        assert datetime.now(UTC) >= expires  # taken over only once expired
        assert b.leader is not None and (b.leader.node, b.leader.term) == ("node-b", 2)
        assert b_seen.seen == [(None, None, "node-a", 1), ("node-a", 1, "node-b", 2)]
        assert await a.refresh() == b.leader  # the dead loop's node sees who leads now
        assert a_seen.seen == [(None, None, "node-a", 1), ("node-a", 1, None, None),
                               (None, None, "node-b", 2)]
    finally:
        await a.stop()
        await b.stop()
        a.db.dispose()
        b.db.dispose()


async def test_a_leader_that_cannot_renew_stops_leading_before_its_lease_ends(
        db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    url = _migrated(db_url)
    a_seen, b_seen = Changes(), Changes()
    a, b = _node(url, "node-a", a_seen), _node(url, "node-b", b_seen)
    await a.start()
    await b.start()
    working = a.db.run

    async def database_gone(work: Any) -> Any:
        raise OperationalError("UPDATE node_leases", {}, Exception("connection refused"))

    try:
        assert a.leader is not None
        a.db.run = database_gone  # type: ignore[method-assign]
        caplog.set_level(logging.WARNING, "callcenter.cluster.leadership")
        await _until(lambda: not a.is_leader, watch=lambda: None)
        assert a.leader is None or a.leader.node == "node-a"
        await _until(lambda: a_seen.seen[-1] == ("node-a", 1, None, None))
        last = last_lease_of(b.db)
        assert last is not None and datetime.now(UTC) < last.expires_at  # before its end
        assert not b.is_leader
        messages = " ".join(r.getMessage() for r in caplog.records)
        assert "renewing the ACD lead failed (connection refused)" in messages
        assert "CALLCENTER_DATABASE__URL" in messages
        assert "stops leading the ACD" in messages

        await _until(lambda: b.is_leader)  # after the lease expired: B leads
        assert not a.is_leader
        a.db.run = working  # type: ignore[method-assign]
        await _until(lambda: a.leader is not None and a.leader.node == "node-b")
        assert not a.is_leader and a_seen.seen[-1] == (None, None, "node-b", 2)
    finally:
        a.db.run = working  # type: ignore[method-assign]
        await a.stop()
        await b.stop()
        a.db.dispose()
        b.db.dispose()


def last_lease_of(db: Database) -> Leader | None:
    with db.session() as s:
        return last_lease(s)


async def test_cluster_status_command(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cli: Cli = cli_on(sqlite_url, monkeypatch)
    assert "no leader: no node holds the ACD lease" in cli("cluster", "status")
    node = _node(sqlite_url, "node-a")
    await node.start()
    try:
        shown = cli("cluster", "status")
        assert "leader       node-a" in shown and "term         1" in shown
        assert "sip_uri      sip:node-a.internal:5070" in shown
        assert "http_url     http://node-a.internal:8080" in shown
        assert "cluster.enabled is off here" in shown
        monkeypatch.setenv("CALLCENTER_CLUSTER__ENABLED", "true")
        monkeypatch.setenv("CALLCENTER_CLUSTER__SECRET", "s3cret")
        as_json = cli("cluster", "status", "--json")
        assert '"node": "node-a"' in as_json and '"enabled": true' in as_json
    finally:
        await node.stop()
        node.db.dispose()
    shown = cli("cluster", "status")
    assert "no leader" in shown and "last leader  node-a (term 1)" in shown


async def test_a_leader_whose_lease_was_taken_stops_at_once(db_url: str) -> None:
    url = _migrated(db_url)
    a_seen, b_seen = Changes(), Changes()
    a = _node(url, "node-a", a_seen)
    # node-b's clock runs LEASE_S ahead: to it, node-a's lease has already expired
    b = _node(url, "node-b", b_seen,
              clock=lambda: datetime.now(UTC) + timedelta(seconds=LEASE_S + 0.5))
    await a.refresh()  # no polling loops: each step by hand
    assert a.is_leader
    assert (await b.refresh()) == b.leader and b.is_leader
    assert a.is_leader  # it has not looked yet
    await a.refresh()  # its renewal finds term 2 held by node-b
    assert not a.is_leader
    assert a_seen.seen == [(None, None, "node-a", 1), ("node-a", 1, "node-b", 2)]
    assert b_seen.seen == [(None, None, "node-b", 2)]
    a.db.dispose()
    b.db.dispose()


async def test_on_change_failures_are_logged_and_it_may_refresh(
        sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    url = _migrated(sqlite_url)
    told: list[Leader | None] = []

    async def on_change(old: Leader | None, new: Leader | None) -> None:
        told.append(await node.refresh())  # not a deadlock: the leader known now
        raise RuntimeError("the SIP layer broke")

    node = AcdLeadership(open_database(url), "node-a", lease_s=LEASE_S, poll_s=POLL_S,
                         on_change=on_change)
    await node.start()
    try:
        assert node.is_leader and told == [node.leader]
        assert "on_change (no leader -> node-a) failed" in caplog.text
        assert "the SIP layer broke" in caplog.text
    finally:
        await node.stop()
        node.db.dispose()
    assert told[-1] is None and not node.is_leader and node.leader is None


async def test_an_http_address_known_after_the_start_is_written_to_the_lease(
        db_url: str) -> None:
    """``http.port`` 0: the port is known once the HTTP server listens, after the lease was
    taken; the others read it from the lease, and a later take writes it too."""
    url = _migrated(db_url)
    a = AcdLeadership(open_database(url), "node-a", sip_uri="sip:a.internal:5070",
                      lease_s=LEASE_S, poll_s=POLL_S)
    b = _node(url, "node-b")
    await a.refresh()
    assert a.is_leader and a.leader is not None and a.leader.http_url is None
    await a.advertise_http("http://a.internal:41234")
    assert a.is_leader and a.leader.http_url == "http://a.internal:41234"
    found = await b.refresh()
    assert found is not None and found.node == "node-a"
    assert found.http_url == "http://a.internal:41234"
    assert found.term == 1  # written by the renewal, not by a new take
    await a.stop()  # given back; taken again (a new term) with the address
    again = await a.refresh()
    assert again is not None and (again.term, again.http_url) == (2, "http://a.internal:41234")
    await a.stop()
    a.db.dispose()
    b.db.dispose()
