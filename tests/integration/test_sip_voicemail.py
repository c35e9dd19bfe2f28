"""A voicemail left over SIP is a recording like any other: its file and its row in the
recordings table (kind, length, audit), not only a CDR event."""

from __future__ import annotations

import hashlib
import wave
from pathlib import Path

from sqlalchemy import select

from callcenter.engine import Engine
from callcenter.store.recordings import Recording, RecordingAudit
from tests.support.sip_engine import finished_call, make_caller

FLOW = Path(__file__).parent / "flows" / "sip_voicemail.yaml"


async def test_a_voicemail_gets_a_recording_row(engine: Engine, tmp_path: Path) -> None:
    engine.settings.sip.numbers["202"] = str(FLOW)
    await engine.start()
    # The caller streams a tone, presses 2 after 1 s (not the finish key), hangs up 3 s later.
    caller = make_caller(tmp_path, engine, "caller_key_then_bye.xml", number="202")
    await caller.start()
    result = await caller.wait(30)
    assert result.ok, result.stderr + result.errors
    call = await finished_call(engine)

    def rows(s):  # type: ignore[no-untyped-def]
        recs = s.scalars(select(Recording).where(Recording.call_id == call.id)).all()
        audit = s.scalars(select(RecordingAudit)).all()
        return [(r.kind, r.path, r.duration_s, r.status, r.channels, r.sha256)
                for r in recs], [(a.action, a.by) for a in audit]

    recs, audit = await engine.db.run(rows)
    assert len(recs) == 1, recs
    kind, path, duration, status, channels, sha256 = recs[0]
    # Taken once pjsua had written the file's header: the checksum of the finished file.
    assert sha256 == hashlib.sha256(Path(path).read_bytes()).hexdigest()
    assert (kind, status, channels) == ("voicemail", "done", 1)
    assert duration is not None and 2.0 < duration < 6.0, duration
    assert audit == [("started", "flow"), ("stopped", "flow")]
    with wave.open(path) as w:
        assert w.getnframes() / w.getframerate() > 1.5  # the caller's audio is in the file
