"""Two engine nodes on one database behind a load balancer that Twilio calls: every webhook
of a Twilio call reaches the ACD's leader, whichever node it hits (callcenter/web/
forwarding.py), so the caller waits in the one ACD where the agents are.

Node ``a`` runs in this process and leads (it starts first); node ``b`` is a ``callcenter
serve`` process. Both have the same ``[twilio]`` settings: the account (its REST API is the
stand-in) and the public address Twilio calls, the load balancer's, which Twilio signs its
webhooks over. Here the "load balancer" sends everything to ``b``. No SIP.
"""

from __future__ import annotations

import asyncio
import logging
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from callcenter import acd
from callcenter.config import Settings
from callcenter.engine import Engine
from callcenter.store import AgentRepository, Database, QueueRepository, upgrade
from callcenter.voice.twilio.twiml import LOST_CALL
from tests.support.cluster import NodeProcess, cluster_settings
from tests.support.twilio_standin import TwilioStandIn

FLOW = Path(__file__).parent / "flows" / "sip_queue.yaml"  # menu, then queue support
NUMBER = "+15550200"
CALL_SID = "CA" + "7" * 32
PUBLIC = "https://cc.example.com"  # the load balancer, as Twilio calls it
BASE = PUBLIC + "/twilio"


def settings(tmp_path: Path, url: str, node: str, standin: TwilioStandIn) -> Settings:
    s = cluster_settings(tmp_path, url, node, {}, twilio={
        "enabled": True, "account_sid": standin.account_sid, "auth_token": standin.auth_token,
        "public_base_url": PUBLIC, "api_base_url": standin.api_base_url,
        "numbers": {NUMBER: str(FLOW)}})
    s.sip.enabled = False
    return s


@pytest.fixture
async def leader(tmp_path: Path, sqlite_url: str, standin: TwilioStandIn
                 ) -> AsyncIterator[Engine]:
    db = Database(sqlite_url)
    upgrade(db)
    with db.session() as s:
        AgentRepository(s).add("1001", "Ann", "client:ann")
        QueueRepository(s).add_member("support", "1001")
    db.dispose()
    eng = Engine(settings(tmp_path, sqlite_url, "a", standin))
    await eng.start()
    assert eng.leadership is not None and eng.leadership.is_leader and eng.twilio is not None
    yield eng
    await eng.stop()


@pytest.fixture
async def follower(tmp_path: Path, sqlite_url: str, leader: Engine,
                   standin: TwilioStandIn) -> AsyncIterator[NodeProcess]:
    node = NodeProcess(tmp_path, settings(tmp_path, sqlite_url, "b", standin))
    await node.start()
    yield node
    await node.stop()


def caller(**more: str) -> dict[str, str]:
    return {"CallSid": CALL_SID, "AccountSid": "AC" + "0" * 32, "From": "+15550100",
            "To": NUMBER, "CallStatus": "ringing", "Direction": "inbound", **more}


def verbs(body: str) -> list[ET.Element]:
    return list(ET.fromstring(body))


async def test_a_twilio_caller_reaching_the_follower_is_served_by_the_leaders_acd(
    leader: Engine, follower: NodeProcess, standin: TwilioStandIn
) -> None:
    assert leader.acd is not None and leader.twilio is not None
    await leader.acd.handle(acd.AgentLoggedIn("1001"))  # ann works at the leader
    await leader.acd.handle(acd.AgentReady("1001"))
    to_b = f"http://127.0.0.1:{follower.http_port}"  # where the load balancer sends Twilio

    async def webhook(url: str, params: dict[str, str]) -> httpx.Response:
        reply = await standin.webhook(url, params, via=to_b)
        assert reply.status_code == 200, reply.text
        assert reply.headers["x-cc-served-by"] == "a"  # the leader's answer
        assert reply.headers["content-type"].startswith("text/xml")
        return reply

    # The incoming call: the leader's Twilio layer runs the flow (its signature checked
    # there, over the public URL Twilio signed).
    [gather] = verbs((await webhook(f"{BASE}/voice", caller())).text)
    assert gather.tag == "Gather" and gather.get("action") == f"{BASE}/gather?step=1"
    assert CALL_SID in leader.twilio.calls

    # The caller presses 2: queued in the leader's ACD, which rings ann at once.
    reply = await webhook(gather.get("action") or "", caller(CallStatus="in-progress",
                                                             Digits="2"))
    [enqueue] = verbs(reply.text)
    assert enqueue.tag == "Enqueue" and enqueue.get("waitUrl") == (
        f"{BASE}/queue/wait?call={CALL_SID}")
    call = leader.twilio.calls[CALL_SID]
    assert call.rec.queue == "support"
    ring = await asyncio.wait_for(standin.created.get(), 5)  # the leader's REST request
    assert ring.one("To") == "client:ann"
    assert ring.one("Url") == f"{BASE}/agent/answer?call={CALL_SID}"

    wait = await webhook(enqueue.get("waitUrl") or "", caller(
        CallStatus="in-progress", QueueSid="QU" + "1" * 32, QueuePosition="1"))
    assert "Play" in [v.tag for v in verbs(wait.text)]

    # Ann answers (her leg's webhook hits the follower too): bridged to the caller.
    ann = {"CallSid": ring.form["_sid"][0], "AccountSid": standin.account_sid,
           "From": "+15550100", "To": "client:ann", "CallStatus": "in-progress",
           "Direction": "outbound-api"}
    [dial] = verbs((await webhook(ring.one("Url"), ann)).text)
    assert dial.tag == "Dial" and [(q.tag, q.text) for q in dial] == [("Queue", CALL_SID)]
    assert call.agent is not None and call.agent.agent_id == "1001"
    assert leader.acd.router.agent_state("1001") == "busy"


async def test_a_forged_twilio_webhook_sent_to_the_follower_is_refused_by_the_leader(
    leader: Engine, follower: NodeProcess, standin: TwilioStandIn,
    caplog: pytest.LogCaptureFixture
) -> None:
    assert leader.twilio is not None
    caplog.set_level(logging.WARNING, "callcenter.voice.twilio")
    to_b = f"http://127.0.0.1:{follower.http_port}"
    url = f"{BASE}/voice"
    forged = await standin.webhook(url, caller(), via=to_b,
                                   signature=standin.sign(url, caller(), "a-guess"))
    unsigned = await standin.webhook(url, caller(), via=to_b, signed=False)
    # Signed by Twilio for another address than the one every node is configured with.
    elsewhere = await standin.webhook(url, caller(), via=to_b, signature=standin.sign(
        f"http://127.0.0.1:{follower.http_port}/twilio/voice", caller()))
    for reply in (forged, unsigned, elsewhere):
        assert reply.status_code == 403 and reply.headers["x-cc-served-by"] == "a"
        assert reply.json() == {"detail": "invalid Twilio signature"}
    assert leader.twilio.calls == {}  # nothing started
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 3
    assert all("sent on by node b" in m and "same twilio.public_base_url" in m
               for m in refusals)


async def test_a_twilio_caller_waiting_at_a_leader_that_stops_is_told_to_call_again(
    tmp_path: Path, sqlite_url: str, standin: TwilioStandIn
) -> None:
    """The limit of docs/cluster.md: a Twilio call lives in the memory of the leader that took
    it; after a change of leader its next webhook reaches a node that never had it."""
    old = Engine(settings(tmp_path, sqlite_url, "a", standin))
    new = NodeProcess(tmp_path, settings(tmp_path, sqlite_url, "b", standin))
    try:
        await old.start()
        await new.start()
        to_b = f"http://127.0.0.1:{new.http_port}"
        await standin.webhook(f"{BASE}/voice", caller(), via=to_b)
        queued = await standin.webhook(f"{BASE}/gather?step=1",
                                       caller(CallStatus="in-progress", Digits="2"), via=to_b)
        assert queued.headers["x-cc-served-by"] == "a" and "Enqueue" in queued.text
        assert old.twilio is not None and CALL_SID in old.twilio.calls

        await old.stop()  # gives the lease back: b leads within one poll
        async with httpx.AsyncClient(base_url=to_b) as http:
            deadline = asyncio.get_running_loop().time() + 15
            while not (await http.get("/api/cluster")).json()["is_leader"]:
                assert asyncio.get_running_loop().time() < deadline, new.text()[-2000:]
                await asyncio.sleep(0.2)

        # The round of hold music ends: Twilio asks the wait URL again, of b, the leader now.
        wait = await standin.webhook(f"{BASE}/queue/wait?call={CALL_SID}",
                                     caller(CallStatus="in-progress"), via=to_b)
        assert wait.status_code == 200 and "x-cc-served-by" not in wait.headers
        say, hangup = verbs(wait.text)
        assert (say.tag, say.text, hangup.tag) == ("Say", LOST_CALL, "Hangup")
        assert f"/twilio/queue/wait about call {CALL_SID}, which this node (b) does not " \
            "know" in new.text()
    finally:
        await new.stop()
        await old.stop()


async def test_a_call_the_leader_does_not_know_hears_why_it_ends(
    leader: Engine, follower: NodeProcess, standin: TwilioStandIn
) -> None:
    # A caller who waited at a node that led the ACD before (it stopped or died): its next
    # webhook reaches the new leader, which never had the call.
    to_b = f"http://127.0.0.1:{follower.http_port}"
    stranger = caller(CallSid="CA" + "8" * 32, CallStatus="in-progress")
    for url in (f"{BASE}/queue/wait?call={stranger['CallSid']}", f"{BASE}/gather?step=3"):
        reply = await standin.webhook(url, stranger, via=to_b)
        assert reply.status_code == 200 and reply.headers["x-cc-served-by"] == "a"
        say, hangup = verbs(reply.text)
        assert (say.tag, say.text, hangup.tag) == ("Say", LOST_CALL, "Hangup")
    # A call already over: nothing to say.
    gone = await standin.webhook(f"{BASE}/gather?step=3", {**stranger, "CallStatus":
                                                           "completed"}, via=to_b)
    assert [v.tag for v in verbs(gone.text)] == ["Hangup"]
