"""Twilio recordings in the ``recordings`` table: one row (and its audit) per RecordingSid,
however often Twilio repeats the signed callback, before and after an engine restart."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from pathlib import Path

from sqlalchemy import select

from callcenter.store.models import Call
from callcenter.store.recordings import Recording, RecordingAudit
from tests.support.twilio_standin import TwilioEngine, TwilioStandIn

NUMBER = "+15550200"
CALL_SID = "CA" + "e" * 32
RECORDING_SID = "RE" + "5" * 32


def caller(**more: str) -> dict[str, str]:
    return {
        "CallSid": CALL_SID,
        "AccountSid": "AC" + "0" * 32,
        "From": "+15550100",
        "To": NUMBER,
        "CallStatus": "ringing",
        "Direction": "inbound",
        **more,
    }


async def rows(engine: TwilioEngine) -> list[tuple[Recording, list[tuple[str, str, str]]]]:
    def read(s):  # type: ignore[no-untyped-def]
        return [
            (
                rec,
                [
                    (a.action, a.by, a.reason)
                    for a in s.scalars(
                        select(RecordingAudit)
                        .where(RecordingAudit.recording_id == rec.id)
                        .order_by(RecordingAudit.id)
                    )
                ],
            )
            for rec in s.scalars(select(Recording))
        ]

    return await engine.db.run(read)


async def test_a_voicemail_is_one_row_after_repeated_callbacks_and_a_restart(
    tmp_path: Path, sqlite_url: str
) -> None:
    flow = tmp_path / "vm.yaml"
    flow.write_text(
        "name: vm\nlanguage: en-US\nnodes:\n"
        "  rec:\n    type: voicemail\n    max_s: 30\n    next: bye\n"
        "  bye:\n    type: hangup\n    reason: done\n"
    )
    standin = TwilioStandIn()
    await standin.start()
    first = TwilioEngine(tmp_path, sqlite_url, standin, {NUMBER: flow})
    await first.start()
    try:
        base = first.public + "/twilio"
        [record] = ET.fromstring((await standin.webhook(base + "/voice", caller())).text)
        status_url = record.get("recordingStatusCallback") or ""
        await standin.webhook(
            base + "/record?step=1",
            caller(RecordingUrl=standin.recording_url(RECORDING_SID), RecordingDuration="7"),
        )
        await standin.webhook(base + "/status", caller(CallStatus="completed"))
        params = caller(
            CallStatus="completed",
            RecordingSid=RECORDING_SID,
            RecordingStatus="completed",
            RecordingDuration="7",
            RecordingChannels="1",
            RecordingStartTime="Tue, 03 Nov 2026 10:00:00 +0000",
            RecordingUrl=standin.recording_url(RECORDING_SID),
        )
        for _ in range(2):  # Twilio repeats a callback it got no timely answer to
            assert (await standin.webhook(status_url, params)).status_code == 204
        [(rec, audit)] = await rows(first)
    finally:
        await first.stop()

    [call] = await first.db.run(lambda s: list(s.scalars(select(Call))))
    assert rec.call_id == call.id and rec.kind == "voicemail" and rec.channels == 1
    assert rec.status == "done" and rec.duration_s == 7.0 and rec.paused_s == 0.0
    assert Path(rec.path).name == f"{call.id}-voicemail.wav"
    assert Path(rec.path).read_bytes() == standin.recording_audio
    assert rec.sha256 == hashlib.sha256(standin.recording_audio).hexdigest()
    assert rec.size_bytes == len(standin.recording_audio)
    assert rec.started_at.replace(tzinfo=None).isoformat() == "2026-11-03T10:00:00"
    assert rec.ended_at is not None
    assert (rec.ended_at - rec.started_at).total_seconds() == 7.0
    assert audit == [
        ("started", "engine", f"Twilio recording {RECORDING_SID}"),
        ("stopped", "engine", ""),
    ]

    # The engine restarts; Twilio repeats the callback once more: still one row, one download.
    second = TwilioEngine(tmp_path, sqlite_url, standin, {NUMBER: flow})
    await second.start()
    try:
        again = second.public + status_url.removeprefix(first.public)
        assert (await standin.webhook(again, params)).status_code == 204
        assert [r.id for r, _ in await rows(second)] == [rec.id]
    finally:
        await second.stop()
        await standin.stop()
    assert len(standin.of("GET", ".wav")) == 1
