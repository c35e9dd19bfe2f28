"""Which nodes share the database: each node's heartbeat row (callcenter/cluster/members.py),
on SQLite and PostgreSQL, read by ``callcenter cluster status``."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import callcenter
from callcenter.cli import app as root_cli
from callcenter.cluster.members import Heartbeat, condition, read_members
from callcenter.store import Database, upgrade
from callcenter.store.nodes import forget
from tests.integration.test_acd_leadership import cli_on

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_a_node_is_up_stopped_or_lost() -> None:
    assert condition(NOW - timedelta(seconds=5), None, NOW, 15.0) == "up"
    assert condition(NOW - timedelta(seconds=16), None, NOW, 15.0) == "lost"
    assert condition(NOW - timedelta(hours=5), NOW - timedelta(hours=5), NOW, 15.0) == "stopped"


def migrated(url: str) -> Database:
    db = Database(url)
    upgrade(db)
    return db


async def test_heartbeats_say_which_nodes_are_up_stopped_or_lost(db_url: str) -> None:
    db = migrated(db_url)
    calls = {"a": 3, "b": 0}
    a = Heartbeat(db, "a", 0.1, lambda: calls["a"], sip_uri="sip:10.0.0.1:5060",
                  http_url="http://10.0.0.1:8080")
    b = Heartbeat(db, "b", 0.1, lambda: calls["b"])
    try:
        await a.start()
        await b.start()
        await asyncio.sleep(0.35)  # a few beats
        found = {m.node: m for m in await read_members(db, 1.0)}
        assert {n: m.condition for n, m in found.items()} == {"a": "up", "b": "up"}
        assert found["a"].calls == 3 and found["a"].sip_uri == "sip:10.0.0.1:5060"
        assert found["a"].version == callcenter.__version__
        assert found["a"].seen_at > found["a"].started_at  # beats after the start
        calls["a"] = 7
        a.http_url = "http://10.0.0.1:8081"  # its port known later (port 0)
        await asyncio.sleep(0.3)
        again = {m.node: m for m in await read_members(db, 1.0)}["a"]
        assert again.calls == 7 and again.http_url == "http://10.0.0.1:8081"

        await a.stop()  # cleanly
        assert b._task is not None
        b._task.cancel()  # b dies: no more beats, no stop
        await asyncio.sleep(0.1)
        later = datetime.now(UTC) + timedelta(seconds=2)
        found = {m.node: m for m in await read_members(db, 1.0, now=later)}
        assert found["a"].condition == "stopped" and found["a"].calls == 0
        assert found["b"].condition == "lost"

        await a.start()  # a restarts: up again, a new start time
        restarted = {m.node: m for m in await read_members(db, 1.0)}["a"]
        assert restarted.condition == "up" and restarted.started_at > again.started_at
    finally:
        await a.stop()
        db.dispose()


async def test_a_heartbeat_without_its_database_is_logged_once_and_comes_back(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    db = migrated(sqlite_url)
    working = db.run

    async def refused(work: Any) -> Any:
        raise ConnectionRefusedError("connection refused")

    beat = Heartbeat(db, "a", 0.05, lambda: 1)
    try:
        with caplog.at_level(logging.WARNING, logger="callcenter.cluster.members"):
            db.run = refused  # type: ignore[method-assign]
            await beat.start()  # the engine starts all the same
            await asyncio.sleep(0.3)
            errors = [r for r in caplog.records if r.levelno == logging.ERROR]
            assert len(errors) == 1 and "CALLCENTER_DATABASE__URL" in errors[0].getMessage()
            assert await read_members(db.__class__(sqlite_url), 1.0) == []
            db.run = working  # type: ignore[method-assign]
            await asyncio.sleep(0.2)
        assert [m.condition for m in await read_members(db, 1.0)] == ["up"]
        assert "reaches the database again" in caplog.text
    finally:
        db.run = working  # type: ignore[method-assign]
        await beat.stop()
        db.dispose()


async def test_cluster_status_lists_the_nodes(sqlite_url: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    db = migrated(sqlite_url)
    cli = cli_on(sqlite_url, monkeypatch)
    up = Heartbeat(db, "node-a", 5.0, lambda: 4, sip_uri="sip:node-a.internal:5070")
    gone = Heartbeat(db, "node-b", 5.0, lambda: 0)
    try:
        await up.start()
        await gone.start()
        await gone.stop()
        shown = cli("cluster", "status")
        lines = {line.split()[0]: line.split() for line in shown.splitlines()[1:] if line}
        assert lines["node-a"][1:3] == ["up", "4"] and "sip:node-a.internal:5070" in shown
        assert lines["node-b"][1:3] == ["stopped", "0"]
        as_json = cli("cluster", "status", "--json")
        assert '"condition": "up"' in as_json and '"node": "node-b"' in as_json

        # node-b is taken out of service: forgotten. node-a is up: refused, as is a typo.
        assert "forgot node node-b (stopped)" in cli("cluster", "forget", "node-b")
        assert "node-b" not in cli("cluster", "status")
        refused = cli.runner.invoke(root_cli, ["cluster", "forget", "node-a"])
        assert refused.exit_code == 2 and "is up" in refused.output
        assert "stop it first" in refused.output
        typo = cli.runner.invoke(root_cli, ["cluster", "forget", "node-x"])
        assert typo.exit_code == 2 and "listed: node-a" in typo.output
        # A node forgotten while it runs (its row removed by hand) is listed at its next beat.
        await db.run(lambda s: forget(s, "node-a"))
        assert "node-a" not in cli("cluster", "status")
        await up._beat()
        assert "node-a" in cli("cluster", "status")
    finally:
        await up.stop()
        db.dispose()
