"""Term-fenced leases in the database: which engine node holds something, one node at a time.

Several engine nodes share one database; some work must run on exactly one of them (a
campaign's runner: :mod:`dialer.leases`; the ACD's leader: :mod:`callcenter.cluster`). A
lease row per thing held (its key, the holding ``node``, a ``term`` and an expiry) decides:

- :func:`take` gives the lease to a node when nobody holds an unexpired one (or the node
  already does) and bumps its ``term``; of several nodes trying at once exactly one gets it
  (a conditional UPDATE, or an INSERT guarded by the primary key).
- :func:`expire_held` moves the expiry of a lease still held in that term by that node:
  later to renew it, to now to give it back at once. ``False``: another node took it over.
- :func:`unexpired` reads who holds it now, if anyone.

The row stays when a lease is given back, so terms only grow. Tables of leases mix in
:class:`TermLease` and add their key column(s). Times are the nodes' clocks (UTC): keep them
in NTP sync and the leases a few seconds longer than any skew. SQL only, no asyncio.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, CursorResult, Integer, String, and_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from callcenter.store.models import Base, utcnow


class TermLease:
    """The columns every lease table has beside its key: the holder, its term (1 for the
    first holder, bumped at each take) and when the lease was taken and ends."""

    node: Mapped[str] = mapped_column(String(128))
    term: Mapped[int] = mapped_column(Integer, default=1)
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


L = TypeVar("L", bound=TermLease)


class NodeLease(TermLease, Base):
    """A role that one engine node holds for the whole cluster (``name``: ``"acd"``, the
    ACD's leader: :mod:`callcenter.cluster`), with where the other nodes reach the holder."""

    __tablename__ = "node_leases"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    sip_uri: Mapped[str | None] = mapped_column(String(255))  # where to send SIP calls to it
    http_url: Mapped[str | None] = mapped_column(String(255))


def _is_key(model: type[TermLease], key: Mapping[str, object]) -> ColumnElement[bool]:
    return and_(*(getattr(model, column) == value for column, value in key.items()))


def take(session: Session, model: type[TermLease], key: Mapping[str, object], node: str,
         now: datetime, ttl_s: float, **details: object) -> int | None:
    """Take the lease of ``key`` (its primary key columns and values) for ``node`` until
    ``now + ttl_s``, writing ``details`` (other columns) too: the new term, or ``None`` while
    another node holds an unexpired one. Taking starts a new term, even from the node that
    held it (its earlier holder in this node is gone)."""
    expires = now + timedelta(seconds=ttl_s)
    values: dict[str, Any] = {"node": node, "acquired_at": now, "expires_at": expires,
                              **details}
    taken: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(model)
        .where(_is_key(model, key), (model.expires_at <= now) | (model.node == node))
        .values(term=model.term + 1, **values)
        .execution_options(synchronize_session=False))
    if taken.rowcount != 1:
        try:
            with session.begin_nested():
                session.add(model(**{**key, "term": 1, **values}))
        except IntegrityError:
            return None  # another node holds it (or took it first, just now)
    return session.scalar(select(model.term).where(_is_key(model, key), model.node == node))


def expire_held(session: Session, model: type[TermLease], key: Mapping[str, object],
                node: str, term: int, expires_at: datetime, **details: object) -> bool:
    """Set the lease's expiry while it is still held in ``term`` by ``node`` (later: renewed;
    now: given back, any node may take it at once), writing ``details`` (other columns) too.
    ``False`` when it was lost."""
    done: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(model)
        .where(_is_key(model, key), model.node == node, model.term == term)
        .values(expires_at=expires_at, **details)
        .execution_options(synchronize_session=False))
    return bool(done.rowcount == 1)


def unexpired(session: Session, model: type[L], key: Mapping[str, object],
              now: datetime) -> L | None:
    """The lease of ``key`` while it is held (unexpired at ``now``), else ``None``."""
    return session.scalar(select(model).where(_is_key(model, key), model.expires_at > now))
