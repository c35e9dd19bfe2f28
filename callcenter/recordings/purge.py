"""Carrying out the retention policy and legal holds on the database and the disk.

:func:`purge` deletes the files :mod:`~callcenter.recordings.retention` says are due, marks
their rows ``deleted`` (``deleted_at``) and writes a ``deleted`` audit row (by ``retention``,
the policy as the reason). Several engine nodes may purge one database at once: each row is
claimed by a conditional update (still finished, not held) before its file is touched, so a
file is deleted once and a recording put on hold meanwhile is left alone. A file that is
already gone is recorded as such; it does not stop the purge.

:func:`set_hold` puts a recording on legal hold or takes it off (audited: who, why).
Everything here blocks: the engine calls it in worker threads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from callcenter.calls.recording_paths import side_paths
from callcenter.errors import CallCenterError, NotFound
from callcenter.recordings.retention import FINISHED, RecordingFacts, RetentionPolicy, due
from callcenter.store import Database
from callcenter.store.recordings import Recording, RecordingAudit

log = logging.getLogger(__name__)


class RecordingStateError(CallCenterError):
    """The recording cannot do that in its state (a deleted recording cannot be held)."""

    exit_code = 7


@dataclass(frozen=True)
class Purged:
    """One recording deleted (or, in a dry run, that would be)."""

    recording_id: int
    call_id: str
    path: str
    ended_at: datetime
    file_missing: bool = False

    def line(self, dry_run: bool = False) -> str:
        verb = "would delete" if dry_run else "deleted"
        note = " (the file was already missing)" if self.file_missing else ""
        return (
            f"{verb} recording {self.recording_id} of call {self.call_id}, ended "
            f"{_aware(self.ended_at):%Y-%m-%d %H:%M} UTC: {self.path}{note}"
        )


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def due_recordings(session: Session, policy: RetentionPolicy, now: datetime) -> list[Purged]:
    """What the policy makes due now, oldest first (the query narrows, :func:`due` decides)."""
    rows = session.execute(
        select(Recording.id, Recording.call_id, Recording.path, Recording.status,
               Recording.ended_at, Recording.held)
        .where(Recording.status.in_(FINISHED), Recording.held.is_(False),
               Recording.ended_at < policy.cutoff(now))
        .order_by(Recording.ended_at, Recording.id)
    ).all()
    chosen = set(due((RecordingFacts(r.id, r.status, r.ended_at, r.held) for r in rows),
                     policy, now))
    return [Purged(r.id, r.call_id, r.path, r.ended_at) for r in rows if r.id in chosen]


def purge(
    db: Database, policy: RetentionPolicy, now: datetime, *, dry_run: bool = False
) -> list[Purged]:
    """Delete what is due; the recordings deleted (by this call: another node's are not)."""
    with db.session() as s:
        candidates = due_recordings(s, policy, now)
    if dry_run:
        return candidates
    done: list[Purged] = []
    for item in candidates:
        try:
            result = _delete_one(db, item, policy, now)
        except OSError as exc:  # the row stays as it was: the next purge tries again
            log.error("retention: recording %d of call %s: cannot delete %s (%s): check the "
                      "permissions of recordings_dir", item.recording_id, item.call_id,
                      item.path, exc.strerror or exc)
            continue
        if result is not None:
            done.append(result)
    if done:
        log.info("retention: %d recording(s) deleted (%s)", len(done), policy.describe())
    return done


def _delete_one(db: Database, item: Purged, policy: RetentionPolicy,
                now: datetime) -> Purged | None:
    with db.session() as s:
        # The claim: the row (locked until commit) is still finished and not held. Another
        # node that got there first, or a hold placed since, leaves nothing to claim.
        claimed: CursorResult[Any] = s.execute(  # type: ignore[assignment]
            update(Recording)
            .where(Recording.id == item.recording_id, Recording.status.in_(FINISHED),
                   Recording.held.is_(False))
            .values(status="deleted", deleted_at=now)
            .execution_options(synchronize_session=False))
        if claimed.rowcount != 1:
            return None
        missing = not _remove(Path(item.path))
        reason = f"{policy.describe()}; ended {_aware(item.ended_at):%Y-%m-%d}"
        if missing:
            reason += "; the file was already missing"
        s.add(RecordingAudit(recording_id=item.recording_id, at=now, action="deleted",
                             by="retention", reason=reason[:255]))
    return Purged(item.recording_id, item.call_id, item.path, item.ended_at, missing)


def _remove(path: Path) -> bool:
    """Delete a recording's file and, of a stereo recording that could not be finished, the
    parts kept for a manual join (they hold the same voices): whether anything was there."""
    found = False
    for part in (path, *side_paths(path)):
        try:
            part.unlink()
            found = True
        except FileNotFoundError:
            pass
    return found


def set_hold(session: Session, recording_id: int, held: bool, by: str, reason: str) -> bool:
    """Put a recording on legal hold (``held``) or release it; audited. Whether it changed
    (holding a held recording again changes nothing and writes nothing)."""
    if not reason.strip():
        raise ValueError("give a reason (--reason): the audit trail must say why")
    rec = session.get(Recording, recording_id, with_for_update=True)
    if rec is None:
        raise NotFound(f"recording {recording_id} does not exist: `callcenter recordings list` "
                       "shows the recordings")
    if rec.status == "deleted":
        raise RecordingStateError(
            f"recording {recording_id} of call {rec.call_id} was deleted on "
            f"{_aware(rec.deleted_at or rec.started_at):%Y-%m-%d} (retention): there is no "
            "file left to hold")
    if rec.held == held:
        return False
    rec.held = held
    session.add(RecordingAudit(recording_id=recording_id, action="held" if held else "released",
                               by=by[:64], reason=reason[:255]))
    return True


def recordings(session: Session, *, call_id: str | None = None, held: bool = False,
               limit: int = 100) -> list[Recording]:
    """Recordings, newest first: of one call, or only those on hold."""
    query = select(Recording).order_by(Recording.started_at.desc(), Recording.id.desc())
    if call_id is not None:
        query = query.where(Recording.call_id == call_id)
    if held:
        query = query.where(Recording.held.is_(True))
    return list(session.scalars(query.limit(limit)))


def as_dict(rec: Recording) -> dict[str, Any]:
    def iso(at: datetime | None) -> str | None:
        return _aware(at).isoformat() if at is not None else None

    return {
        "id": rec.id, "call_id": rec.call_id, "kind": rec.kind, "path": rec.path,
        "channels": rec.channels, "started_at": iso(rec.started_at),
        "ended_at": iso(rec.ended_at), "duration_s": rec.duration_s, "paused_s": rec.paused_s,
        "status": rec.status, "held": rec.held, "size_bytes": rec.size_bytes,
        "sha256": rec.sha256, "deleted_at": iso(rec.deleted_at),
    }
