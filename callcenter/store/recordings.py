"""Recordings' metadata and their audit trail (who paused a recording, when, why).

The audio is a file under ``recordings_dir``; the row says which call it belongs to, how many
channels it has (2: the caller on the left, the agent on the right), how long it ran
(``duration_s``, paused time included) and how much of that was paused (card numbers are not
recorded: the file holds ``duration_s - paused_s`` seconds), and the audit rows say who did
what, for compliance reviews.

A finished file's ``sha256`` and ``size_bytes`` (0015) prove it was not altered
(``callcenter recordings verify``); ``held`` (legal hold) keeps it past the retention period;
a recording removed by retention keeps its row, status ``deleted`` and ``deleted_at``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.models import Base, utcnow


class Recording(Base):
    __tablename__ = "recordings"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="call")  # call, voicemail, rec
    path: Mapped[str] = mapped_column(String(512))
    channels: Mapped[int] = mapped_column(Integer, default=1)  # 2: caller left, agent right
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    duration_s: Mapped[float | None] = mapped_column(Float)
    paused_s: Mapped[float] = mapped_column(Float, default=0.0)
    # recording, paused, done; failed: the file could not be finished (the audit row says why);
    # deleted: the file was removed by the retention policy (deleted_at: when)
    status: Mapped[str] = mapped_column(String(16), default="recording")
    # The finished file's SHA-256 (hex) and size, taken when it was finished (0015).
    sha256: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    held: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    deleted_at: Mapped[datetime | None]
    # A retried callback or a replayed stop cannot file the same recording twice (0005).
    __table_args__ = (UniqueConstraint("call_id", "path", name="uq_recordings_call_id_path"),)


class RecordingAudit(Base):
    __tablename__ = "recording_audit"
    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # started, paused, resumed, stopped; held, released (legal hold); deleted (retention)
    action: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(64), default="engine")
    reason: Mapped[str] = mapped_column(String(255), default="")
