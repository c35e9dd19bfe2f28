"""Twilio's recording status callback: the media into ``recordings/``, a row in the
``recordings`` table (with its ``started``/``stopped`` audit rows, as a SIP recording has) and
a ``recording`` event in the CDR.

Recordings of agent conversations usually arrive after the call ended, so the call is found
among the recently ended ones, or, after an engine restart, rebuilt from the database by its
CallSid. Each RecordingSid is stored once however often Twilio repeats the callback (one file,
one row); a failed download answers 503 so Twilio tries again. Agent conversations are
recorded dual-channel (``record-from-answer-dual``): Twilio puts the call that ran the
``<Dial>`` (the agent's) on the first channel and the caller on the second.
"""

from __future__ import annotations

import logging
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.calls import CallLog
from callcenter.calls.recording_paths import recording_dir
from callcenter.calls.recordings import RecordingLog
from callcenter.store.models import Call, CallEvent
from callcenter.voice.twilio.rest import TwilioRestError

if TYPE_CHECKING:
    from callcenter.voice.twilio.layer import TwilioVoiceLayer

log = logging.getLogger(__name__)

T = TypeVar("T", int, float)


class RecordedCall(Protocol):
    """What a recording callback needs of the call it names (a caller's TwilioCall, or a
    call-back's agent leg)."""

    call_sid: str
    rec: CallLog
    recordings: set[str]  # RecordingSids stored
    recording_files: set[Path]  # files promised to Twilio's callbacks


class RecordingNotStored(RuntimeError):
    """The media could not be fetched; Twilio should repeat the callback."""


async def recording_ready(
    layer: TwilioVoiceLayer, call_sid: str, kind: str, file: str, params: dict[str, str]
) -> None:
    sid = params.get("RecordingSid", "")
    status = params.get("RecordingStatus", "completed")
    if not sid or status != "completed":
        log.warning("recording %s of call %s: status %s, nothing to store", sid, call_sid, status)
        return
    call = layer.recorded_call(call_sid)
    seen = call.recordings if call is not None else set()
    rec = call.rec if call is not None else await _stored_log(layer, call_sid)
    if rec is None:
        log.warning("recording %s for unknown call %s ignored", sid, call_sid)
        return
    path = layer.recording_target(file) or _file_for(layer, rec.call_id, kind, sid)
    recordings = RecordingLog(layer.cdr.db)
    if sid in seen or (call is None and await recordings.known(rec.call_id, str(path))):
        return
    seen.add(sid)
    url = params.get("RecordingUrl", "")
    duration_s = _number(params.get("RecordingDuration"), float, 0.0)
    channels = _number(params.get("RecordingChannels"), int, 2 if kind == "call" else 1)
    try:
        try:
            size = await layer.rest.download(url + ".wav", path)
        except TwilioRestError as exc:
            raise RecordingNotStored(str(exc)) from exc
        await recordings.stored(
            rec.call_id,
            str(path),
            kind=kind,
            channels=channels,
            duration_s=duration_s,
            started_at=_start_time(params.get("RecordingStartTime")),
            note=f"Twilio recording {sid}",
        )
    except BaseException:
        seen.discard(sid)  # not stored: Twilio's next try must not be taken for a repeat
        raise
    await layer.cdr.event(
        rec,
        "recording",
        {
            "path": str(path),
            "voicemail": kind == "voicemail",
            "duration_s": duration_s,
            "channels": channels,
            "recording_sid": sid,
            "media_url": url,
            "bytes": size,
        },
    )


def _file_for(layer: TwilioVoiceLayer, call_id: str, kind: str, sid: str) -> Path:
    """Where a recording goes whose callback names no usable file: named by its RecordingSid,
    so a repeated callback finds the same file (and row)."""
    return (
        recording_dir(layer.settings.recordings_dir, datetime.now()) / f"{call_id}-{kind}-{sid}.wav"
    )


def _number(value: str | None, kind: type[T], default: T) -> T:
    try:
        return kind(value) if value else default
    except ValueError:
        return default


def _start_time(value: str | None) -> datetime | None:
    """``RecordingStartTime``: an RFC 2822 date (``Mon, 22 Aug 2011 20:58:45 +0000``)."""
    try:
        return parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None


async def _stored_log(layer: TwilioVoiceLayer, call_sid: str) -> CallLog | None:
    """A CallLog for a call the engine no longer holds, positioned after its last event."""

    def read(s: Session) -> CallLog | None:
        call = s.scalars(select(Call).where(Call.external_id == call_sid)).one_or_none()
        if call is None:
            return None
        last = s.scalar(select(func.max(CallEvent.seq)).where(CallEvent.call_id == call.id))
        return CallLog(
            call_id=call.id,
            direction=call.direction,  # type: ignore[arg-type]
            voice_layer="twilio",
            caller=call.caller,
            dialed=call.dialed,
            external_id=call_sid,
            seq=last or 0,
        )

    return await layer.cdr.db.run(read)
