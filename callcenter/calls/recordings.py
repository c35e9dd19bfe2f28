"""The record of a recording: started, paused and resumed (audited: who and why), stopped.

Used by the voice layers around their recorders; each step is one small transaction (a few per
call, off the hot path of call set-up).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

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

    async def stopped(self, recording_id: int) -> None:
        since = self._paused_since.pop(recording_id, None)
        extra = (datetime.now(UTC) - since).total_seconds() if since else 0.0
        await self._audit(
            recording_id, "stopped", "engine", "", status="done", paused_s=extra, end=True
        )

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
    ) -> None:
        def write(s: Session) -> None:
            rec = s.get(Recording, recording_id)
            if rec is None:
                return
            rec.status = status
            rec.paused_s += paused_s
            if end:
                rec.ended_at = datetime.now(UTC)
                rec.duration_s = (rec.ended_at - _aware(rec.started_at)).total_seconds()
            s.add(
                RecordingAudit(recording_id=recording_id, action=action, by=by, reason=reason[:255])
            )

        await self.db.run(write)
