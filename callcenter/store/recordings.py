"""Recordings' metadata and their audit trail (who paused a recording, when, why).

The audio is a file under ``recordings_dir``; the row says which call it belongs to, how long
it is, how much of it was paused (card numbers are not recorded), and the audit rows say who
did what, for compliance reviews.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.models import Base, utcnow


class Recording(Base):
    __tablename__ = "recordings"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="call")  # call, voicemail, rec
    path: Mapped[str] = mapped_column(String(512))
    channels: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    duration_s: Mapped[float | None] = mapped_column(Float)
    paused_s: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(16), default="recording")  # recording, paused, done


class RecordingAudit(Base):
    __tablename__ = "recording_audit"
    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(16))  # started, paused, resumed, stopped
    by: Mapped[str] = mapped_column(String(64), default="engine")
    reason: Mapped[str] = mapped_column(String(255), default="")
