"""Call detail records: one row per call with its legs and events, the same for SIP and Twilio.

A :class:`CallLog` follows one live call. Each write is committed to the database first and
announced on the bus after (``cc/<tenant>/calls/<id>``); events carry a per-call sequence
number, so a retried write (a Twilio callback delivered twice) cannot duplicate one.

Every call makes about ten writes (and its agent's state changes a few more, which ride the
same batches through :meth:`CdrWriter.write`), so :class:`CdrWriter` batches them: one writer
task takes whatever is queued when it wakes and commits it in one transaction in one worker
thread, at most one transaction per ``COMMIT_INTERVAL_S`` (group commit); if the batch fails,
again with each write in its own SAVEPOINT, so a failing write fails alone. A caller's coroutine
returns once the batch holding its write is committed (the row exists: tickets may link to it).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import String, Table, bindparam, case, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callcenter.bus import CallUpdate, EventBus
from callcenter.calls.directory import Directory
from callcenter.store import Database
from callcenter.store.models import Call, CallEvent, CallLeg, Disposition

log = logging.getLogger(__name__)

Kind = Literal[
    "started",
    "ivr",
    "queued",
    "offered",
    "connected",
    "transferred",
    "held",
    "resumed",
    "abandoned",
    "ended",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class CallLog:
    """The record of one call as it happens; ``CdrWriter`` persists it."""

    call_id: str
    direction: Literal["inbound", "outbound", "internal"]
    voice_layer: Literal["sip", "twilio"]
    caller: str = ""
    dialed: str = ""
    flow: str | None = None
    external_id: str | None = None
    started_at: datetime = field(default_factory=utcnow)
    answered_at: datetime | None = None
    queue: str | None = None
    queued_at: datetime | None = None
    agent: str | None = None
    connected_at: datetime | None = None
    ended_at: datetime | None = None
    hangup_cause: str | None = None
    hangup_by: str | None = None
    disposition: str | None = None
    seq: int = 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


BATCH_MAX = 500
#: Group commit: a batch starts at most this often. The first write after a quiet spell is
#: committed at once; under load the writes of the interval share one transaction (at 450
#: calls/s, commits at once made 620 transactions a second of 3 writes each, and the writer
#: was the engine's busiest Python thread).
COMMIT_INTERVAL_S = 0.01


#: Tables whose rows the writer inserts itself, in foreign-key order.
_ROW_TABLES: tuple[Table, ...] = (Call.__table__, CallLeg.__table__, CallEvent.__table__)  # type: ignore[assignment]
_CALLS = _ROW_TABLES[0]
#: A call's end: one UPDATE, the ends of a batch in one executemany. (Loading the Call would
#: load its legs and events too; an ORM UPDATE per call was compiled per call.) The
#: disposition stays as it is when the call has none, and is NULL for a code that is not (or
#: no longer) defined.
_END = (
    update(_CALLS)
    .where(_CALLS.c.id == bindparam("b_id"))
    .values(
        answered_at=bindparam("b_answered_at"),
        ended_at=bindparam("b_ended_at"),
        queue_id=bindparam("b_queue_id"),
        agent_id=bindparam("b_agent_id"),
        hangup_cause=bindparam("b_hangup_cause"),
        hangup_by=bindparam("b_hangup_by"),
        queue_wait_s=bindparam("b_queue_wait_s"),
        talk_s=bindparam("b_talk_s"),
        disposition_id=case(
            (bindparam("b_disposition", type_=String).is_(None), _CALLS.c.disposition_id),
            else_=select(Disposition.id)
            .where(Disposition.code == bindparam("b_disposition", type_=String))
            .scalar_subquery(),
        ),
    )
)


@dataclass(eq=False)
class _Write:
    """One queued write: run in the batch's session, announced after the commit.

    A ``row`` write is one INSERT into one of ``_ROW_TABLES``: a batch inserts each table's
    rows in one statement (an executemany, no ORM unit of work: the ORM's bookkeeping per
    object was most of the writer's time under load). A ``work`` write is any other change
    (an agent's state), run after the rows. A ``late`` write (an UPDATE of rows the batch may
    insert) runs last."""

    work: Callable[[Session], None] | None
    announce: Callable[[], None] | None
    done: asyncio.Future[None]
    late: bool = False
    row: tuple[Table, dict[str, Any]] | None = None
    end: dict[str, Any] | None = None  # the parameters of _END

    def run(self, s: Session) -> None:
        if self.row is not None:
            table, values = self.row
            s.execute(insert(table), [values])
        elif self.end is not None:
            s.execute(_END, [self.end])
        elif self.work is not None:
            self.work(s)


def _logged(rec: CallLog, kind: str) -> Callable[[asyncio.Future[None]], None]:
    """A done-callback for a write nobody awaits: its failure goes to the log."""

    def logged(fut: asyncio.Future[None]) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        if isinstance(exc, IntegrityError):
            log.info("call %s event %s already recorded", rec.call_id, kind)
        elif exc is not None:
            log.error("call %s: recording %s failed: %s", rec.call_id, kind, exc)

    return logged


class CdrWriter:
    """Persists :class:`CallLog` records; owns the writer task that batches the writes.

    The task starts with the first write (or :meth:`start`); :meth:`stop` commits what is
    queued and ends it.
    """

    def __init__(self, db: Database, bus: EventBus, directory: Directory) -> None:
        self.db = db
        self.bus = bus
        self.directory = directory
        self._queue: deque[_Write] = deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # ---- the writer task -------------------------------------------------------------
    def start(self) -> None:
        """Start the writer task on the running loop (writes also start it when needed)."""
        task = self._task
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            return
        self._stopping = False
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="cdr-writer")
        if self._queue:
            self._wake.set()

    async def stop(self) -> None:
        """Commit everything queued, then end the writer task."""
        task = self._task
        if task is None or task.done():
            return
        self._stopping = True
        assert self._wake is not None
        self._wake.set()
        try:
            await task
        finally:
            self._task = None

    def _submit(
        self,
        work: Callable[[Session], None] | None,
        announce: Callable[[], None] | None = None,
        *,
        late: bool = False,
        row: tuple[Table, dict[str, Any]] | None = None,
        end: dict[str, Any] | None = None,
    ) -> asyncio.Future[None]:
        # Synchronous up to the enqueue, so writes are queued in the order they were made.
        self.start()
        assert self._wake is not None
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(_Write(work, announce, done, late, row, end))
        self._wake.set()
        return done

    async def _run(self) -> None:
        assert self._wake is not None
        wake = self._wake
        batch: list[_Write] = []
        loop = asyncio.get_running_loop()
        last = float("-inf")  # the first batch goes at once
        try:
            while True:
                if not self._queue:
                    if self._stopping:
                        return
                    await wake.wait()
                    wake.clear()
                    continue
                wait_s = last + COMMIT_INTERVAL_S - loop.time()
                if wait_s > 0 and len(self._queue) < BATCH_MAX and not self._stopping:
                    await asyncio.sleep(wait_s)
                last = loop.time()
                batch = [self._queue.popleft() for _ in range(min(BATCH_MAX, len(self._queue)))]
                outcomes = await asyncio.to_thread(self._commit, batch)
                for item, error in zip(batch, outcomes, strict=True):
                    if error is None and item.announce is not None:
                        # The database is the record, the bus is the news: commit first.
                        try:
                            item.announce()
                        except Exception as exc:  # the caller sees it, as it would unbatched
                            error = exc
                    if not item.done.done():
                        if error is None:
                            item.done.set_result(None)
                        else:
                            item.done.set_exception(error)
                batch = []
        finally:
            # Cancelled (loop shutting down): nobody may wait forever on a write.
            for item in [*batch, *self._queue]:
                item.done.cancel()
            self._queue.clear()

    def _commit(self, batch: list[_Write]) -> list[BaseException | None]:
        """In a worker thread: the batch in one transaction, each table's rows in one INSERT;
        if that fails, again with each write in a SAVEPOINT so only the failing write fails.
        Savepoints for every write cost three statements each, which under load was most of
        the writer's time, so they are only the fallback."""
        rows: dict[Table, list[dict[str, Any]]] = {t: [] for t in _ROW_TABLES}
        for item in batch:
            if item.row is not None:
                rows[item.row[0]].append(item.row[1])
        try:
            with self.db.session() as s:
                self._begin(s)
                for table, values in rows.items():
                    if values:
                        s.execute(insert(table), values)
                for item in batch:
                    if item.work is not None and not item.late:
                        item.work(s)
                late = [item for item in batch if item.late]
                if late:
                    s.flush()
                    ends = [item.end for item in late if item.end is not None]
                    if ends:
                        s.execute(_END, ends)
                    for item in late:
                        if item.end is None:
                            item.run(s)
        except Exception:
            return self._commit_one_by_one(batch)
        return [None] * len(batch)

    def _begin(self, s: Session) -> None:
        if self.db.backend == "sqlite":
            # pysqlite begins its transaction lazily, before the first INSERT but not before a
            # SAVEPOINT: without this BEGIN each RELEASE would commit on its own. IMMEDIATE
            # takes the write lock now, so a write after a read cannot fail.
            s.connection().exec_driver_sql("BEGIN IMMEDIATE")

    def _commit_one_by_one(self, batch: list[_Write]) -> list[BaseException | None]:
        outcomes: list[BaseException | None] = []
        try:
            with self.db.session() as s:
                self._begin(s)
                for item in batch:
                    try:
                        with s.begin_nested():
                            item.run(s)
                    except Exception as exc:
                        outcomes.append(exc)
                    else:
                        outcomes.append(None)
        except Exception as exc:  # the commit failed: nothing of the batch is recorded
            return [exc] * len(batch)
        return outcomes

    async def write(self, work: Callable[[Session], None]) -> None:
        """Another row of the record (an agent's state change) in the next batch."""
        await self._submit(work)

    # ---- the record ------------------------------------------------------------------
    def _announce(self, rec: CallLog, kind: Kind, detail: dict[str, Any] | None = None) -> None:
        self.bus.publish_event(
            CallUpdate(
                call_id=rec.call_id,
                kind=kind,
                direction=rec.direction,
                voice_layer=rec.voice_layer,
                caller=rec.caller,
                dialed=rec.dialed,
                queue=rec.queue,
                agent_id=rec.agent,
                detail=detail or {},
            )
        )

    async def started(self, rec: CallLog) -> None:
        """The call's row, committed when this returns."""
        await self._start(rec)

    def note_started(self, rec: CallLog) -> None:
        """:meth:`started` without waiting for the commit (a caller waiting for an answer);
        the call's later writes queue behind it, and a failure is logged."""
        self._start(rec).add_done_callback(_logged(rec, "started"))

    def _start(self, rec: CallLog) -> asyncio.Future[None]:
        row = {
            "id": rec.call_id,
            "direction": rec.direction,
            "voice_layer": rec.voice_layer,
            "caller": rec.caller,
            "dialed": rec.dialed,
            "flow": rec.flow,
            "external_id": rec.external_id,
            "started_at": rec.started_at,
            "tenant": self.bus.tenant,
        }
        return self._submit(
            None, lambda: self._announce(rec, "started"), row=(_ROW_TABLES[0], row)
        )

    async def event(
        self,
        rec: CallLog,
        kind: str,
        data: dict[str, Any] | None = None,
        announce: Kind | None = None,
    ) -> None:
        """Append one event (IVR step, queue enter, offer, ...) to the call's history."""
        try:
            await self._event(rec, kind, data, announce)
        except IntegrityError:
            log.info("call %s event %s already recorded", rec.call_id, kind)

    def note(
        self,
        rec: CallLog,
        kind: str,
        data: dict[str, Any] | None = None,
        announce: Kind | None = None,
    ) -> None:
        """:meth:`event` without waiting for the commit (for steps on the caller's clock);
        it keeps its place in the call's history and a failure is logged."""
        self._event(rec, kind, data, announce).add_done_callback(_logged(rec, kind))

    def _event(
        self, rec: CallLog, kind: str, data: dict[str, Any] | None, announce: Kind | None
    ) -> asyncio.Future[None]:
        seq, at = rec.next_seq(), utcnow()  # the time it happened, not of the batch's commit

        row = {"call_id": rec.call_id, "seq": seq, "at": at, "kind": kind, "data": data or {}}

        def publish(kind_: Kind) -> Callable[[], None]:
            return lambda: self._announce(rec, kind_, {"event": kind, **(data or {})})

        return self._submit(
            None, publish(announce) if announce is not None else None, row=(_ROW_TABLES[2], row)
        )

    async def leg(
        self,
        rec: CallLog,
        role: str,
        remote: str,
        *,
        agent: str | None = None,
        external_id: str | None = None,
        answered_at: datetime | None = None,
        ended_at: datetime | None = None,
        cause: str | None = None,
    ) -> None:
        row = {
            "call_id": rec.call_id,
            "role": role,
            "remote": remote,
            "agent_id": self.directory.agent_id(agent),
            "external_id": external_id,
            "started_at": utcnow(),
            "answered_at": answered_at,
            "ended_at": ended_at,
            "hangup_cause": cause,
        }
        await self._submit(None, row=(_ROW_TABLES[1], row))

    async def ended(self, rec: CallLog) -> None:
        ended_at = rec.ended_at = rec.ended_at or utcnow()
        queue_wait = talk = None
        if rec.queued_at is not None:
            queue_wait = ((rec.connected_at or ended_at) - rec.queued_at).total_seconds()
        if rec.connected_at is not None:
            talk = (ended_at - rec.connected_at).total_seconds()
        end = {
            "b_id": rec.call_id,
            "b_answered_at": rec.answered_at,
            "b_ended_at": ended_at,
            "b_queue_id": self.directory.queue_id(rec.queue),
            "b_agent_id": self.directory.agent_id(rec.agent),
            "b_hangup_cause": rec.hangup_cause,
            "b_hangup_by": rec.hangup_by,
            "b_queue_wait_s": queue_wait,
            "b_talk_s": talk,
            "b_disposition": rec.disposition or None,
        }
        await self._submit(
            None,
            lambda: self._announce(rec, "ended", {"cause": rec.hangup_cause, "by": rec.hangup_by}),
            late=True,
            end=end,
        )
