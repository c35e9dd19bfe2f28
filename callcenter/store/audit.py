"""The audit log: who did what, when, from where (``audit_log``, model :class:`AuditEntry`).

Written for the changes supervisors and admins make (campaigns, leads, do-not-call lists,
agents' states forced by someone else, monitoring), for user and token changes and for failed
logins; read by ``callcenter audit`` and ``GET /api/audit``. Details never hold a password or
a token: callers pass only names, counts and options.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.store.models import AuditEntry


def record(session: Session, action: str, *, actor: str | None, target: str = "",
           source: str = "", details: Mapping[str, Any] | None = None,
           at: datetime | None = None) -> None:
    entry = AuditEntry(action=action, actor=actor, target=target[:255], source=source[:64],
                       details=dict(details or {}))
    if at is not None:
        entry.at = at
    session.add(entry)


def entries(session: Session, *, since: datetime | None = None, actor: str | None = None,
            action: str | None = None, limit: int = 100) -> Sequence[AuditEntry]:
    """The newest entries first."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if action is not None:
        query = query.where(AuditEntry.action.startswith(action))
    return session.scalars(query).all()


def as_dict(entry: AuditEntry) -> dict[str, Any]:
    at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)  # SQLite: naive UTC
    return {"id": entry.id, "at": at.isoformat(), "actor": entry.actor,
            "action": entry.action, "target": entry.target, "source": entry.source,
            "details": entry.details}
