"""The engine nodes sharing this database, each with its last heartbeat (``cluster_nodes``).

Each node writes only its own row (:mod:`callcenter.cluster.members`): at start, then every
few seconds (``seen_at`` and its live figures), and once more when it stops (``stopped_at``).
Reading the rows tells which nodes are up, which stopped and which were lost (no heartbeat).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from callcenter.store.models import Base


class ClusterNode(Base):
    __tablename__ = "cluster_nodes"
    node: Mapped[str] = mapped_column(String(128), primary_key=True)
    sip_uri: Mapped[str | None] = mapped_column(String(255))
    http_url: Mapped[str | None] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    seen_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]
    calls: Mapped[int] = mapped_column(Integer)  # calls up on the node at its last heartbeat


def started(session: Session, node: str, now: datetime, *, version: str,
            sip_uri: str | None, http_url: str | None, calls: int = 0) -> None:
    """``node`` starts: its row, new or again (a restart clears ``stopped_at``)."""
    row = session.get(ClusterNode, node)
    if row is None:
        row = ClusterNode(node=node)
        session.add(row)
    row.sip_uri, row.http_url, row.version = sip_uri, http_url, version
    row.started_at = row.seen_at = now
    row.stopped_at, row.calls = None, calls


def seen(session: Session, node: str, now: datetime, calls: int, *,
         sip_uri: str | None, http_url: str | None) -> bool:
    """A heartbeat of ``node``; False when its row is missing (then written as at start)."""
    row = session.get(ClusterNode, node)
    if row is None:
        return False
    row.seen_at, row.calls, row.stopped_at = now, calls, None
    row.sip_uri, row.http_url = sip_uri, http_url
    return True


def stopped(session: Session, node: str, now: datetime) -> None:
    row = session.get(ClusterNode, node)
    if row is not None:
        row.seen_at = row.stopped_at = now
        row.calls = 0


def all_nodes(session: Session) -> list[ClusterNode]:
    return list(session.scalars(select(ClusterNode).order_by(ClusterNode.node)))


def forget(session: Session, node: str) -> ClusterNode | None:
    """Delete ``node``'s row (a node taken out of service); the row it had, or None."""
    row = session.get(ClusterNode, node)
    if row is not None:
        session.delete(row)
    return row
