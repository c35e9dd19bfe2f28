"""Twilio's recording status callback: the media into ``recordings/``, metadata into the CDR.

Recordings of agent conversations usually arrive after the call ended, so the call is found
among the recently ended ones, or, after an engine restart, rebuilt from the database by its
CallSid. Each RecordingSid is stored once however often Twilio repeats the callback; a failed
download answers 500 so Twilio tries again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.calls import CallLog
from callcenter.store.models import Call, CallEvent
from callcenter.voice.twilio.rest import TwilioRestError

if TYPE_CHECKING:
    from callcenter.voice.twilio.layer import TwilioVoiceLayer

log = logging.getLogger(__name__)


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
    call = layer.find(call_sid)
    seen = call.recordings if call is not None else set()
    rec = call.rec if call is not None else await _stored_log(layer, call_sid)
    if rec is None:
        log.warning("recording %s for unknown call %s ignored", sid, call_sid)
        return
    if sid in seen or (call is None and await _already_stored(layer, rec.call_id, sid)):
        return
    seen.add(sid)
    path = layer.recording_target(file) or layer.recording_file(rec.call_id, kind)
    url = params.get("RecordingUrl", "")
    try:
        size = await layer.rest.download(url + ".wav", path)
    except TwilioRestError as exc:
        seen.discard(sid)
        raise RecordingNotStored(str(exc)) from exc
    await layer.cdr.event(
        rec,
        "recording",
        {
            "path": str(path),
            "voicemail": kind == "voicemail",
            "duration_s": float(params.get("RecordingDuration") or 0),
            "recording_sid": sid,
            "media_url": url,
            "bytes": size,
        },
    )


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


async def _already_stored(layer: TwilioVoiceLayer, call_id: str, sid: str) -> bool:
    def read(s: Session) -> bool:
        rows = s.scalars(
            select(CallEvent).where(CallEvent.call_id == call_id, CallEvent.kind == "recording")
        )
        return any(e.data.get("recording_sid") == sid for e in rows)

    return await layer.cdr.db.run(read)
