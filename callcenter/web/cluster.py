"""``GET /api/cluster``: this node, and which node leads the ACD (docs/cluster.md).

With ``cluster.enabled`` off the engine runs alone: it is the ACD's leader, without a lease.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

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


class ClusterView(BaseModel):
    enabled: bool = Field(description="cluster.enabled: several nodes share the ACD.")
    node: str = Field(description="This node's name.")
    leader: LeaderView | None = Field(
        description="The ACD's leader as this node last saw it; null: none (or unknown).")
    is_leader: bool = Field(description="This node leads the ACD now.")


@router.get("/cluster", response_model=ClusterView,
            summary="This node and the ACD's leader among the engine nodes")
async def cluster(request: Request) -> ClusterView:
    engine: Engine = request.app.state.engine
    leadership = getattr(engine, "leadership", None)
    if leadership is None:  # one node alone leads its ACD
        return ClusterView(enabled=False, node=engine.settings.node or default_node(),
                           leader=None, is_leader=True)
    leader = leadership.leader
    return ClusterView(
        enabled=True, node=leadership.node, is_leader=leadership.is_leader,
        leader=None if leader is None else LeaderView(
            node=leader.node, term=leader.term, sip_uri=leader.sip_uri,
            http_url=leader.http_url, expires_at=leader.expires_at))
