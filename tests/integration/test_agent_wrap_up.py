"""The agent's wrap-up over HTTP on a whole engine: ``POST /api/agents/{code}/wrapup-extend``
moves the end of the wrap-up under way later by ``extra_s`` (1 to 600, else 422), is 409 for
an agent not in wrap-up and 404 for an unknown one; ``wrapup-end`` ends it at once."""

from __future__ import annotations

import httpx
from sqlalchemy import update

from callcenter import acd
from callcenter.engine import Engine
from callcenter.store import Database
from callcenter.store.models import Queue
from tests.support.sip_engine import add_agent

WRAP_UP_S = 20


async def started(engine: Engine) -> httpx.AsyncClient:
    """The engine without SIP, agents 1001 and 1002 in queue support (20 s of wrap-up)."""
    engine.settings.sip.enabled = False
    await add_agent(engine, "1001", 5070)
    await add_agent(engine, "1002", 5071)
    db = Database(engine.settings.database.url)
    with db.session() as s:
        s.execute(update(Queue).where(Queue.name == "support").values(wrapup_s=WRAP_UP_S))
    db.dispose()
    await engine.start()
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.http_port}", timeout=10)


async def test_the_agent_extends_and_ends_their_wrap_up(engine: Engine) -> None:
    async with await started(engine) as http:
        service = engine.acd
        assert service is not None
        for code in ("1001", "1002"):
            await http.post(f"/api/agents/{code}/login")
        # A call the agent took and finished: wrap-up starts.
        await service.handle(acd.TaskAssigned("call-1", "support", "1001"))
        await service.handle(acd.TaskCompleted("call-1"))
        assert service.router.agent_state("1001") == "wrap_up"
        ends = service.router.wrap_up_until("1001")
        assert ends is not None

        more = await http.post("/api/agents/1001/wrapup-extend", json={"extra_s": 30})
        assert more.status_code == 200, more.text
        body = more.json()
        assert (body["agent_id"], body["state"]) == ("1001", "wrap_up")
        assert WRAP_UP_S + 30 - 5 < body["wrap_up_left_s"] <= WRAP_UP_S + 30
        assert service.router.wrap_up_until("1001") == ends + 30
        again = await http.post("/api/agents/1001/wrapup-extend", json={"extra_s": 600})
        assert again.json()["wrap_up_left_s"] > WRAP_UP_S + 600

        for wrong in ({"extra_s": 0}, {"extra_s": 601}, {"extra_s": "soon"}, {}):
            refused = await http.post("/api/agents/1001/wrapup-extend", json=wrong)
            assert refused.status_code == 422, (wrong, refused.text)
            assert refused.json()["detail"][0]["loc"][-1] == "extra_s"
        assert service.router.wrap_up_until("1001") == ends + 630  # none of them counted

        idle = await http.post("/api/agents/1002/wrapup-extend", json={"extra_s": 30})
        assert idle.status_code == 409
        assert idle.json()["detail"] == ("agent '1002' is not in wrap-up (state: available): "
                                         "there is no wrap-up to extend")
        unknown = await http.post("/api/agents/9999/wrapup-extend", json={"extra_s": 30})
        assert unknown.status_code == 404

        done = await http.post("/api/agents/1001/wrapup-end")
        assert done.json()["state"] == "available"
        late = await http.post("/api/agents/1001/wrapup-extend", json={"extra_s": 30})
        assert late.status_code == 409 and "not in wrap-up" in late.json()["detail"]
