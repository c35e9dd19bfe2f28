"""baresip, a real softphone, takes a queued call as an on-demand agent."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from callcenter.engine import Engine
from callcenter.store import AgentRepository, Database, QueueRepository
from tests.support.baresip import Baresip
from tests.support.sip import free_tcp_port
from tests.support.sip_engine import finished_call, make_caller, ready
from tests.support.tls import self_signed


@pytest.mark.parametrize("transport", ["udp", "tls"])
async def test_baresip_agent_answers_and_hears_the_caller(
        engine: Engine, tmp_path: Path, transport: str) -> None:
    """Over UDP, and over TLS: the engine listens on TLS too and calls the phone, whose URI
    says ;transport=tls, over TLS (the phone's TLS port takes nothing else)."""
    tls = self_signed(tmp_path / "tls") if transport == "tls" else None
    if tls is not None:
        engine.settings.sip.transports = ["udp", "tls"]
        engine.settings.sip.tls_port = free_tcp_port()
        engine.settings.sip.tls_cert_file, engine.settings.sip.tls_key_file = tls.cert, tls.key
    phone = Baresip(tmp_path, tls_pem=tls.both if tls else None)
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
