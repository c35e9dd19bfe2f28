"""The record of a recording: started, paused and resumed (audited: who and why), stopped.

Used by the voice layers around their recorders; each step is one small transaction (a few per
call, off the hot path of call set-up). A recording made elsewhere (Twilio's) is entered whole
by :meth:`RecordingLog.stored`, once per file however often it is reported.

A recording finished whole (``done``) gets its file's SHA-256 and size, read in a worker thread
(:mod:`callcenter.recordings.integrity`), so that ``callcenter recordings verify`` can prove
later that nobody altered it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.recordings.integrity import Digest, file_digest, settled_digest
from callcenter.store import Database
from callcenter.store.recordings import Recording, RecordingAudit


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


class RecordingLog:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._paused_since: dict[int, datetime] = {}

    async def started(
        self, call_id: str, path: str, kind: str = "call", channels: int = 1, by: str = "engine"
    ) -> int:
        def write(s: Session) -> int:
            rec = Recording(call_id=call_id, path=path, kind=kind, channels=channels)
            s.add(rec)
            s.flush()
            s.add(RecordingAudit(recording_id=rec.id, action="started", by=by))
            return rec.id

        return await self.db.run(write)

    async def paused(self, recording_id: int, by: str, reason: str) -> None:
        self._paused_since[recording_id] = datetime.now(UTC)
        await self._audit(recording_id, "paused", by, reason, status="paused")

    async def resumed(self, recording_id: int, by: str) -> None:
        since = self._paused_since.pop(recording_id, None)
        extra = (datetime.now(UTC) - since).total_seconds() if since else 0.0
        await self._audit(recording_id, "resumed", by, "", status="recording", paused_s=extra)

    async def stopped(
        self, recording_id: int, *, audio_s: float | None = None, problem: str = ""
    ) -> None:
        """The recorder stopped. ``audio_s``: the length of the finished file, when known (then
        ``duration_s`` is exactly that plus the paused time). ``problem``: the file could not be
        finished; the row is marked ``failed`` and the audit row says why."""
        since = self._paused_since.pop(recording_id, None)
        extra = (datetime.now(UTC) - since).total_seconds() if since else 0.0
        await self._audit(
            recording_id,
            "stopped",
            "engine",
            problem,
            status="failed" if problem else "done",
            paused_s=extra,
            end=True,
            audio_s=audio_s,
        )

    async def stored(
        self,
        call_id: str,
        path: str,
        *,
        kind: str,
        channels: int,
        duration_s: float,
        started_at: datetime | None = None,
        by: str = "engine",
        note: str = "",
        settle: bool = False,
    ) -> tuple[int, bool]:
        """Enter a finished recording made elsewhere: the row (status ``done``, the file's
        checksum) and its ``started`` and ``stopped`` audit rows, ``note`` as the reason of
        ``started``. One row per (call, file): entering the same file again returns the first
        row's id and False. ``settle``: a WAV file a local recorder has just stopped, whose
        header may come a tick later: wait for it before taking the checksum."""
        digest = await asyncio.to_thread(settled_digest if settle else file_digest, Path(path))

        def write(s: Session) -> tuple[int, bool]:
            known = _find(s, call_id, path)
            if known is not None:
                return known, False
            start = (
                _aware(started_at)
                if started_at
                else datetime.now(UTC) - timedelta(seconds=duration_s)
            )
            end = start + timedelta(seconds=duration_s)
            rec = Recording(
                call_id=call_id,
                path=path,
                kind=kind,
                channels=channels,
                started_at=start,
                ended_at=end,
                duration_s=duration_s,
                status="done",
            )
            _seal(rec, digest)
            s.add(rec)
            s.flush()
            s.add_all(
                [
                    RecordingAudit(
                        recording_id=rec.id, at=start, action="started", by=by, reason=note[:255]
                    ),
                    RecordingAudit(recording_id=rec.id, at=end, action="stopped", by=by),
                ]
            )
            return rec.id, True

        return await self.db.run(write)

    async def known(self, call_id: str, path: str) -> bool:
        """Whether the call has a recording row for this file."""
        return await self.db.run(lambda s: _find(s, call_id, path) is not None)

    async def _audit(
        self,
        recording_id: int,
        action: str,
        by: str,
        reason: str,
        *,
        status: str,
        paused_s: float = 0.0,
        end: bool = False,
        audio_s: float | None = None,
    ) -> None:
        def write(s: Session) -> None:
            rec = s.get(Recording, recording_id)
            if rec is None:
                return
            if end and status == "done":
                # db.run's worker thread: hashing here keeps it off the event loop, and the
                # file's path is known only from the row.
                _seal(rec, file_digest(Path(rec.path)))
            rec.status = status
            rec.paused_s += paused_s
            if end:
                rec.ended_at = datetime.now(UTC)
                rec.duration_s = (
                    audio_s + rec.paused_s
                    if audio_s is not None
                    else (rec.ended_at - _aware(rec.started_at)).total_seconds()
                )
            s.add(
                RecordingAudit(recording_id=recording_id, action=action, by=by, reason=reason[:255])
            )

        await self.db.run(write)


def _seal(rec: Recording, digest: Digest | None) -> None:
    """Record the finished file's checksum; a file missing at the end keeps none (``verify``
    reports it missing)."""
    if digest is not None:
        rec.sha256, rec.size_bytes = digest.sha256, digest.size_bytes


def _find(s: Session, call_id: str, path: str) -> int | None:
    return s.scalars(
        select(Recording.id).where(Recording.call_id == call_id, Recording.path == path)
    ).first()
