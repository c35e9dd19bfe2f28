"""Kept places of callers who asked to be called back (fair virtual hold), in the database.

A row per kept place (``queue_callbacks``): which queue, whom to call, what to show, and when
the caller first started waiting, so that a restarted engine, or a new ACD leader, puts the
place back in line where it was (:mod:`callcenter.calls.kept_places`). Exactly one
engine dials each: the node that holds a row (``node``) claims it for a call with a
conditional UPDATE, and a node taking the places over (a new ACD leader) takes the rows.
``voice_layer`` says which layer calls the customer back (``sip`` or ``twilio``): each layer
takes over, and restores, its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, CursorResult, Integer, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from callcenter.store.models import Base, as_utc, utcnow

WAITING, CALLING, DONE, GIVEN_UP = "waiting", "calling", "done", "given_up"
STATUSES = (WAITING, CALLING, DONE, GIVEN_UP)


class QueueCallbackRow(Base):
    __tablename__ = "queue_callbacks"
    task_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    queue: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(128))
    shown: Mapped[str] = mapped_column(String(128), default="")  # the caller ID it shows
    priority: Mapped[int] = mapped_column(Integer, default=0)
    call_id: Mapped[str | None] = mapped_column(String(64))  # the caller's call
    waiting_since: Mapped[datetime] = mapped_column()  # the place in line
    status: Mapped[str] = mapped_column(String(16), default=WAITING)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    node: Mapped[str] = mapped_column(String(128), default="")
    voice_layer: Mapped[str] = mapped_column(String(16), default="sip", server_default="sip")
    last_cause: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (
        CheckConstraint("status IN ('waiting', 'calling', 'done', 'given_up')", name="status"),
    )


@dataclass(frozen=True)
class KeptPlace:
    task_id: str
    queue: str
    number: str
    shown: str
    priority: int
    waiting_since: datetime
    calls: int


def keep(session: Session, place: KeptPlace, call_id: str | None, node: str,
         voice_layer: str = "sip") -> None:
    session.add(QueueCallbackRow(
        task_id=place.task_id, queue=place.queue, number=place.number, shown=place.shown,
        priority=place.priority, call_id=call_id, waiting_since=place.waiting_since,
        calls=place.calls, node=node, voice_layer=voice_layer))


def take_over(session: Session, node: str, now: datetime,
              voice_layer: str = "sip") -> list[KeptPlace]:
    """Every place ``voice_layer`` still has to call back, now held by ``node`` (an engine
    starting, a new ACD leader): a call that was being placed when its node went counts as
    placed."""
    rows = list(session.scalars(select(QueueCallbackRow).where(
        QueueCallbackRow.status.in_((WAITING, CALLING)),
        QueueCallbackRow.voice_layer == voice_layer).order_by(
            QueueCallbackRow.waiting_since)))
    for row in rows:
        row.node, row.status, row.updated_at = node, WAITING, now
    return [KeptPlace(r.task_id, r.queue, r.number, r.shown, r.priority,
                      as_utc(r.waiting_since), r.calls) for r in rows]


def claim_call(session: Session, task_id: str, node: str, now: datetime) -> bool:
    """Claim the place for one call to the customer: ``False`` when another node holds it
    now (it took the places over) or it is over."""
    done: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(QueueCallbackRow)
        .where(QueueCallbackRow.task_id == task_id, QueueCallbackRow.node == node,
               QueueCallbackRow.status == WAITING)
        .values(status=CALLING, calls=QueueCallbackRow.calls + 1, updated_at=now)
        .execution_options(synchronize_session=False))
    return bool(done.rowcount == 1)


def settle(session: Session, task_id: str, node: str, status: str, cause: str,
           now: datetime) -> None:
    """The call is over: ``waiting`` (to call again), ``done`` or ``given_up``."""
    session.execute(
        update(QueueCallbackRow)
        .where(QueueCallbackRow.task_id == task_id, QueueCallbackRow.node == node)
        .values(status=status, last_cause=cause[:128], updated_at=now)
        .execution_options(synchronize_session=False))


def pending(session: Session) -> list[QueueCallbackRow]:
    """The places still to call back, oldest first (for supervisors)."""
    return list(session.scalars(select(QueueCallbackRow).where(
        QueueCallbackRow.status.in_((WAITING, CALLING))).order_by(
            QueueCallbackRow.waiting_since)))
