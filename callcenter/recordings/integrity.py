"""Proof that a recording was not altered: its SHA-256 and size, taken when it was finished
and checked again by ``callcenter recordings verify``.

The hashing functions block (they read the whole file): the engine calls them in worker
threads, never on the event loop.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.calls.recording_wav import RecordingFileError, wait_complete
from callcenter.store.recordings import Recording

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Digest:
    sha256: str  # hex
    size_bytes: int


def file_digest(path: Path) -> Digest | None:
    """The file's SHA-256 and size; None when there is no such file. Blocking."""
    sha = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                sha.update(chunk)
                size += len(chunk)
    except FileNotFoundError:
        return None
    return Digest(sha.hexdigest(), size)


def settled_digest(path: Path, timeout_s: float = 2.0) -> Digest | None:
    """:func:`file_digest` of a WAV file a recorder has just let go of: pjsua writes the final
    header a tick or more after it stops, so wait (at most ``timeout_s``) for it first. Blocking."""
    # Not a finished WAV by then (or no file): what is there is what was kept.
    with contextlib.suppress(RecordingFileError):
        wait_complete(path, timeout_s=timeout_s)
    return file_digest(path)


@dataclass(frozen=True)
class IntegrityProblem:
    """One recording whose file is not what was finished: ``missing`` or ``changed``."""

    recording_id: int
    call_id: str
    path: str
    problem: str  # missing, changed
    detail: str

    def line(self) -> str:
        todo = (
            "restore it from a backup, or find out who removed it (recording_audit, the "
            "system's logs)"
            if self.problem == "missing"
            else "restore the original from a backup and find out who wrote to it; do not use "
            "this copy as evidence"
        )
        return (
            f"recording {self.recording_id} of call {self.call_id}: {self.path} is "
            f"{self.problem} ({self.detail}): {todo}"
        )


@dataclass
class VerifyReport:
    checked: int = 0
    unsealed: int = 0  # finished before checksums were taken (or their file was missing then)
    problems: list[IntegrityProblem] = field(default_factory=list)


def check(rec: Recording) -> IntegrityProblem | None:
    """Whether ``rec``'s file is still the one finished: None when it is. Blocking."""
    now = file_digest(Path(rec.path))
    if now is None:
        return IntegrityProblem(rec.id, rec.call_id, rec.path, "missing", "no such file")
    if rec.sha256 is None:
        return None
    if now.sha256 != rec.sha256 or now.size_bytes != rec.size_bytes:
        detail = (
            f"sha256 {now.sha256[:12]}... and {now.size_bytes} bytes, finished as "
            f"{rec.sha256[:12]}... and {rec.size_bytes} bytes"
        )
        return IntegrityProblem(rec.id, rec.call_id, rec.path, "changed", detail)
    return None


def finished(session: Session, since: datetime | None = None) -> Iterator[Recording]:
    """The recordings finished whole (``done``, not ``failed`` nor ``deleted``): their files
    must be there, unchanged. Oldest first, started at or after ``since``."""
    query = select(Recording).where(Recording.status == "done").order_by(Recording.id)
    if since is not None:
        query = query.where(Recording.started_at >= since)
    yield from session.scalars(query)


def verify(session: Session, since: datetime | None = None) -> VerifyReport:
    """Hash every finished recording's file again and compare. Blocking (reads every file)."""
    report = VerifyReport()
    for rec in finished(session, since):
        report.checked += 1
        if rec.sha256 is None:
            report.unsealed += 1
        problem = check(rec)
        if problem is not None:
            report.problems.append(problem)
    return report
