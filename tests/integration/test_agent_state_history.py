"""Agent state changes are kept in the database, in order, with their reasons (they ride the
call records' batches, so each keeps the time it happened, not the time of its commit)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from callcenter import acd
from callcenter.engine import Engine
from callcenter.store.models import Agent, AgentStateChange
from tests.support.sip_engine import add_agent


async def test_state_changes_are_recorded_in_order_with_reasons(
    engine: Engine, tmp_path: Path
) -> None:
    await add_agent(engine, "1001", 5999)
    await engine.start()
    assert engine.acd is not None
    await engine.acd.handle(acd.AgentLoggedIn("1001"))
    await engine.acd.handle(acd.AgentPaused("1001", "coffee"))
    await engine.acd.handle(acd.AgentReady("1001"))
    await engine.acd.handle(acd.AgentLoggedOut("1001"))

    def history(s):  # type: ignore[no-untyped-def]
        agent = s.scalars(select(Agent).where(Agent.code == "1001")).one()
        rows = s.scalars(
            select(AgentStateChange)
            .where(AgentStateChange.agent_id == agent.id)
            .order_by(AgentStateChange.id)
        ).all()
        return [(r.state, r.reason, r.at) for r in rows]

    for _ in range(50):
        rows = await engine.db.run(history)
        if len(rows) >= 4:
            break
        await asyncio.sleep(0.1)
    assert [state for state, _, _ in rows] == ["available", "paused", "available", "logged_out"]
    assert "coffee" in rows[1][1]
    times = [at for _, _, at in rows]
    assert times == sorted(times)
