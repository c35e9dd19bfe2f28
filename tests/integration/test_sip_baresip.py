"""baresip, a real softphone, takes a queued call as an on-demand agent."""

from __future__ import annotations

import asyncio
from pathlib import Path

from callcenter.engine import Engine
from callcenter.store import AgentRepository, Database, QueueRepository
from tests.support.baresip import Baresip
from tests.support.sip_engine import finished_call, make_caller, ready


async def test_baresip_agent_answers_and_hears_the_caller(engine: Engine, tmp_path: Path) -> None:
    phone = Baresip(tmp_path)
    db = Database(engine.settings.database.url)
    with db.session() as s:
        AgentRepository(s).add("2001", "Bea", phone.uri, {"en-US": 5})
        QueueRepository(s).add_member("support", "2001")
    db.dispose()
    await phone.start()
    try:
        await engine.start()
        await ready(engine, "2001")
        caller = make_caller(tmp_path, engine, "caller_key_then_bye.xml")
        await caller.start()
        result = await caller.wait(60)
        assert result.ok, result.stderr + result.errors
        call = await finished_call(engine)
        await asyncio.sleep(0.5)
    finally:
        await phone.stop()
    kinds = [e.kind for e in call.events]
    assert "connected" in kinds and "abandoned" not in kinds
    assert call.agent_id == engine.directory.agents["2001"].id
    assert call.hangup_by == "caller"
    assert phone.heard_rms() > 300, list(phone.snd.iterdir())  # the caller's tone reached it
