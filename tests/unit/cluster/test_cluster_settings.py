"""What decides the ACD's leader without a database: the cluster settings, the leadership
service's limits, who may read ``/api/cluster`` and what it answers."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from callcenter.cluster.leadership import AcdLeadership, Leader
from callcenter.config import load_settings, masked
from callcenter.errors import ConfigError
from callcenter.store import Database
from callcenter.web import cluster
from callcenter.web.roles import SUPERVISORS, rule_for
from dialer.leases import default_node

EXPIRES = datetime(2026, 12, 6, 9, 0, 15, tzinfo=UTC)


def test_cluster_is_off_by_default_and_needs_a_secret_when_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    off = load_settings().cluster
    assert (off.enabled, off.secret, off.sip_uri, off.lease_s, off.handover_number) == (
        False, None, None, 15.0, "cc-handover")
    monkeypatch.setenv("CALLCENTER_CLUSTER__ENABLED", "true")
    with pytest.raises(ConfigError, match="needs a secret.*set CALLCENTER_CLUSTER__SECRET"):
        load_settings()
    monkeypatch.setenv("CALLCENTER_CLUSTER__SECRET", "hunter2")
    monkeypatch.setenv("CALLCENTER_CLUSTER__SIP_URI", "sip:10.0.0.5:5070")
    on = load_settings()
    assert on.cluster.secret is not None and on.cluster.secret.get_secret_value() == "hunter2"
    shown = masked(on)["cluster"]
    assert shown["secret"] == "***" and shown["sip_uri"] == "sip:10.0.0.5:5070"


@pytest.mark.parametrize(("key", "value", "says"), [
    ("LEASE_S", "3", "greater than or equal to 6"),
    ("LEASE_S", "301", "less than or equal to 300"),
    ("HANDOVER_NUMBER", "cc handover", "should match pattern"),
    ("HANDOVER_NUMBER", "sip:cc@x", "should match pattern"),
    ("SIP_URI", "10.0.0.5:5070", "a SIP URI such as sip:10.0.0.5:5070"),
    ("HTTP_URL", "10.0.0.5:8080", "an http:// or https:// URL"),
])
def test_bad_cluster_settings_say_what_is_allowed(monkeypatch: pytest.MonkeyPatch, key: str,
                                                  value: str, says: str) -> None:
    monkeypatch.setenv(f"CALLCENTER_CLUSTER__{key}", value)
    with pytest.raises(ConfigError, match=f"cluster.{key.lower()}.*{says}.*"
                                          f"CALLCENTER_CLUSTER__{key}"):
        load_settings()


def test_the_lease_must_outlast_three_polls_and_the_node_have_a_name() -> None:
    db = Database("sqlite://")
    with pytest.raises(ValueError, match="must last at least three polls"):
        AcdLeadership(db, "node-a", lease_s=1.0, poll_s=0.5)
    with pytest.raises(ValueError, match="CALLCENTER_NODE"):
        AcdLeadership(db, "", lease_s=15.0)
    fast = AcdLeadership(db, "node-a", lease_s=3.0, poll_s=1.0)
    assert fast.fence_margin_s == 1.0
    assert AcdLeadership(db, "node-a", lease_s=60.0).fence_margin_s == 5.0
    assert not fast.is_leader and fast.leader is None and fast.node == "node-a"


def test_supervisors_may_read_the_cluster() -> None:
    assert rule_for("GET", "/api/cluster") == SUPERVISORS


async def _get(engine: object) -> dict[str, object]:
    app = FastAPI()
    app.state.engine = engine
    app.include_router(cluster.router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        answer = await client.get("/api/cluster")
    assert answer.status_code == 200
    body: dict[str, object] = answer.json()
    return body


async def test_api_cluster_alone_and_among_nodes() -> None:
    alone = SimpleNamespace(settings=load_settings(), leadership=None)
    assert await _get(alone) == {"enabled": False, "node": default_node(), "leader": None,
                                 "is_leader": True, "nodes": []}
    alone.settings = load_settings(node="node-a")
    assert (await _get(alone))["node"] == "node-a"

    leader = Leader("node-b", 3, "sip:10.0.0.6:5070", None, EXPIRES)
    follower = SimpleNamespace(node="node-a", is_leader=False, leader=leader)
    async def no_rows(work: object) -> list[object]:  # the nodes' rows: none yet
        return []

    among = SimpleNamespace(settings=load_settings(node="node-a"), leadership=follower,
                            db=SimpleNamespace(run=no_rows))
    assert await _get(among) == {
        "enabled": True, "node": "node-a", "is_leader": False,
        "leader": {"node": "node-b", "term": 3, "sip_uri": "sip:10.0.0.6:5070",
                   "http_url": None, "expires_at": "2026-12-06T09:00:15Z"}, "nodes": []}
    follower.leader = None
    assert (await _get(among))["leader"] is None
