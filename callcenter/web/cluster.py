"""``GET /api/cluster``: this node, which node leads the ACD, and every node sharing the
database with its condition (up, stopped, lost: docs/cluster.md).

With ``cluster.enabled`` off the engine runs alone: it is the ACD's leader, without a lease.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from callcenter.cluster.members import read_members
from dialer.leases import default_node

if TYPE_CHECKING:
    from callcenter.engine import Engine

router = APIRouter(prefix="/api", tags=["operations"])


class LeaderView(BaseModel):
    node: str
    term: int = Field(description="1 for the first leader, one more at each take-over.")
    sip_uri: str | None = Field(description="Where the other nodes send it their callers.")
    http_url: str | None
    expires_at: datetime = Field(description="When its lease ends unless renewed (UTC).")


class NodeView(BaseModel):
    node: str
    condition: Literal["up", "stopped", "lost"] = Field(
        description="up: heard from within cluster.lease_s; stopped: it stopped cleanly; "
        "lost: silent for longer (died, hangs, or cannot reach the database).")
    leads: bool = Field(description="It holds the ACD's lease as this node last saw it.")
    version: str
    sip_uri: str | None
    http_url: str | None
    started_at: datetime
    seen_at: datetime = Field(description="Its last heartbeat (UTC).")
    stopped_at: datetime | None
    calls: int = Field(description="Calls up on it at its last heartbeat.")


class ClusterView(BaseModel):
    enabled: bool = Field(description="cluster.enabled: several nodes share the ACD.")
    node: str = Field(description="This node's name.")
    leader: LeaderView | None = Field(
        description="The ACD's leader as this node last saw it; null: none (or unknown).")
    is_leader: bool = Field(description="This node leads the ACD now.")
    nodes: list[NodeView] = Field(
        default_factory=list, description="Every node that ever ran on this database, by name "
        "(empty with cluster.enabled off).")


@router.get("/cluster", response_model=ClusterView,
            summary="This node and the ACD's leader among the engine nodes")
async def cluster(request: Request) -> ClusterView:
    engine: Engine = request.app.state.engine
    leadership = getattr(engine, "leadership", None)
    if leadership is None:  # one node alone leads its ACD
        return ClusterView(enabled=False, node=engine.settings.node or default_node(),
                           leader=None, is_leader=True)
    leader = leadership.leader
    found = await read_members(engine.db, engine.settings.cluster.lease_s)
    return ClusterView(
        enabled=True, node=leadership.node, is_leader=leadership.is_leader,
        leader=None if leader is None else LeaderView(
            node=leader.node, term=leader.term, sip_uri=leader.sip_uri,
            http_url=leader.http_url, expires_at=leader.expires_at),
        nodes=[NodeView(leads=leader is not None and m.node == leader.node,
                        **asdict(m)) for m in found])
