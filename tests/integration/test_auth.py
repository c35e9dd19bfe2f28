"""Authentication and roles on a whole engine (HTTP on loopback, Twilio over a stand-in, no
SIP), on SQLite and PostgreSQL: no credentials is 401, a wrong password 401 and an audit row,
an agent's token on another agent 403, a supervisor starts a campaign (audited), a revoked
token 401, the session cookie and its CSRF rule, the login throttle, the Twilio webhooks still
open but signed, and ``http.auth=auto``: open on loopback, refused to start elsewhere without
users."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import select

from callcenter.bus.events import CallUpdate
from callcenter.engine import Engine
from callcenter.errors import ConfigError
from callcenter.store import AgentRepository, open_database
from callcenter.store.models import AuditEntry, Call
from callcenter.store.users import UserRepository
from callcenter.tickets import Priority
from tests.support.twilio_standin import TwilioStandIn, whole_engine_settings

FLOW = Path(__file__).parent / "flows" / "sip_queue.yaml"
NUMBER = "+15550200"
PASSWORDS = {"root": "admin-pass-1", "sue": "supervisor-pass", "ann": "agent-pass-1",
             "bob": "agent-pass-2", "tia": "backoffice-pass"}


def settings(tmp_path: Path, db_url: str, standin: TwilioStandIn, auth: str = "required",
             host: str = "127.0.0.1") -> Any:
    s = whole_engine_settings(tmp_path, db_url, standin, numbers={NUMBER: str(FLOW)})
    s.http.auth, s.http.host = auth, host
    return s


def add_people(db_url: str) -> dict[str, str]:
    """Agents 1001 (ann) and 1002 (bob), a supervisor, an admin and a back-office user; the
    API tokens of sue, ann and the admin."""
    db = open_database(db_url)
    with db.session() as s:
        AgentRepository(s).add("1001", "Ann", "client:ann")
        AgentRepository(s).add("1002", "Bob", "client:bob")
        users = UserRepository(s)
        users.add("root", ["admin"], PASSWORDS["root"])
        users.add("sue", ["supervisor"], PASSWORDS["sue"])
        users.add("ann", ["agent"], PASSWORDS["ann"], agent="1001")
        users.add("bob", ["agent"], PASSWORDS["bob"], agent="1002")
        users.add("tia", ["backoffice"], PASSWORDS["tia"])
        tokens = {name: users.add_token(name, "tests")[1] for name in ("root", "sue", "ann")}
    db.dispose()
    return tokens


@pytest.fixture
async def engine(tmp_path: Path, db_url: str, standin: TwilioStandIn
                 ) -> AsyncIterator[tuple[Engine, dict[str, str]]]:
    eng = Engine(settings(tmp_path, db_url, standin))  # the settings migrate the database
    tokens = add_people(db_url)
    await eng.start()
    yield eng, tokens
    await eng.stop()


@pytest.fixture
async def http(engine: tuple[Engine, dict[str, str]]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine[0].http_port}",
                                 timeout=10) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def audit_rows(eng: Engine, action: str) -> list[AuditEntry]:
    return await eng.db.run(lambda s: list(s.scalars(
        select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))))


async def test_no_credentials_is_401_saying_how_and_the_open_routes_stay_open(
        engine: tuple[Engine, dict[str, str]], http: httpx.AsyncClient) -> None:
    for method, path in (("GET", "/api/campaigns"), ("GET", "/api/agents"),
                         ("POST", "/api/agents/1001/login"), ("GET", "/api/console/stream"),
                         ("GET", "/api/dnc"), ("GET", "/api/tickets"), ("GET", "/api/me")):
        r = await http.request(method, path)
        assert r.status_code == 401, (path, r.text)
        assert "Bearer" in r.json()["detail"] and "/api/login" in r.json()["detail"]
        assert r.headers["www-authenticate"].startswith("Bearer")
    for path in ("/healthz", "/metrics", "/console", "/desktop"):
        assert (await http.get(path)).status_code == 200, path
    bad = await http.get("/api/campaigns", headers=bearer("cct_not-a-token"))
    assert bad.status_code == 401 and "unknown or revoked" in bad.json()["detail"]


async def test_a_wrong_password_is_401_and_audited_without_the_password(
        engine: tuple[Engine, dict[str, str]], http: httpx.AsyncClient) -> None:
    eng, _ = engine
    r = await http.post("/api/login", json={"username": "sue", "password": "guess-guess"})
    assert r.status_code == 401 and r.json()["detail"] == "wrong user name or password"
    assert "set-cookie" not in r.headers
    nobody = await http.post("/api/login", json={"username": "nobody", "password": "x"})
    assert nobody.status_code == 401 and nobody.json() == r.json()  # no hint who exists
    (row, other) = await audit_rows(eng, "login.failed")
    assert (row.actor, row.target, row.source) == (None, "sue", "127.0.0.1")
    assert other.target == "nobody"
    assert "guess-guess" not in json.dumps(row.details)


async def test_roles_agents_act_only_for_themselves(
        engine: tuple[Engine, dict[str, str]], http: httpx.AsyncClient) -> None:
    eng, tokens = engine
    ann = bearer(tokens["ann"])
    other = await http.post("/api/agents/1002/login", headers=ann)
    assert other.status_code == 403
    assert other.json()["detail"] == ("this needs the admin or supervisor role, or to be the "
                                      "agent in the path; ann has agent and is agent 1001")
    assert (await http.post("/api/agents/1001/login", headers=ann)).status_code == 200
    assert (await http.get("/api/agents/1001/desk", headers=ann)).status_code == 200
    assert (await http.get("/api/agents/1002/desk", headers=ann)).status_code == 403
    assert (await http.get("/api/callbacks?agent=1001", headers=ann)).status_code == 200
    mine = await http.get("/api/callbacks", headers=ann)
    assert mine.status_code == 403 and "add ?agent=1001" in mine.json()["detail"]
    for path in ("/api/console", "/api/campaigns", "/api/dnc", "/api/agents", "/api/tickets",
                 "/api/audit"):
        assert (await http.get(path, headers=ann)).status_code == 403, path
    assert (await http.get("/api/dispositions", headers=ann)).status_code == 200
    me = (await http.get("/api/me", headers=ann)).json()
    assert me == {"auth": "required", "user": "ann", "display_name": "ann",
                  "roles": ["agent"], "agent": "1001"}
    # Nobody else's state change of their own is audited.
    assert await audit_rows(eng, "agent.state") == []

    # A call record naming agent 1001: ann may set its disposition, bob may not.
    def call(s: Any) -> None:
        s.add(Call(id="call-ann", direction="inbound", voice_layer="twilio",
                   agent_id=AgentRepository(s).get("1001").id))

    await eng.db.run(call)
    body = {"code": "resolved"}
    refused = await http.post("/api/calls/call-ann/disposition", json=body,
                              headers=bearer(await token_for(eng, "bob")))
    assert refused.status_code == 403 and "agent on the call" in refused.json()["detail"]
    taken = await http.post("/api/calls/call-ann/disposition", json=body, headers=ann)
    assert taken.status_code not in (401, 403), taken.text


async def token_for(eng: Engine, username: str) -> str:
    return await eng.db.run(lambda s: UserRepository(s).add_token(username, "more")[1])


async def test_a_supervisor_starts_a_campaign_and_forces_a_state_both_audited(
        engine: tuple[Engine, dict[str, str]], http: httpx.AsyncClient) -> None:
    eng, tokens = engine
    sue = bearer(tokens["sue"])
    body = {"name": "spring", "kind": "telemarketing", "caller_id": "+12125550999",
            "queue": "support"}
    assert (await http.post("/api/campaigns", json=body, headers=sue)).status_code == 201
    csv = b"phone,first_name\n+12125550101,Al\n+12125550102,Bea\n"
    imported = await http.post("/api/campaigns/spring/leads", content=csv,
                               headers={**sue, "Content-Type": "text/csv"})
    assert imported.json()["added"] == 2
    started = await http.post("/api/campaigns/spring/start", headers=sue)
    assert started.status_code == 200 and started.json()["state"] == "running"
    assert (await http.post("/api/campaigns/spring/pause", headers=sue)).status_code == 200
    (row,) = await audit_rows(eng, "campaign.start")
    assert (row.actor, row.target, row.source) == ("sue", "spring", "127.0.0.1")
    assert [r.actor for r in await audit_rows(eng, "campaign.create")] == ["sue"]
    assert (await http.put("/api/dnc/+12125550123", headers=sue,
                           json={"reason": "asked"})).status_code == 201
    (dnc,) = await audit_rows(eng, "dnc.add")
    assert dnc.target == "+12125550123" and dnc.details == {"list": "internal", "reason": "asked"}

    state = (await http.post("/api/agents/1002/login", headers=sue)).json()["state"]
    (forced,) = await audit_rows(eng, "agent.state")
    assert (forced.actor, forced.target) == ("sue", "1002")
    assert forced.details == {"event": "AgentLoggedIn", "state": state}
    (leads,) = await audit_rows(eng, "campaign.leads.import")
    assert leads.details == {"rows": 2, "added": 2, "merged": 0, "bad_rows": 0}
    assert (await http.get("/api/tickets", headers=sue)).status_code == 403  # back office's

    assert (await http.get("/api/audit", headers=sue)).status_code == 403
    log = (await http.get("/api/audit?user=sue", headers=bearer(tokens["root"]))).json()
    assert {e["action"] for e in log} == {"campaign.create", "campaign.leads.import",
                                          "campaign.start", "campaign.pause", "dnc.add",
                                          "agent.state"}


async def test_a_revoked_token_is_401_at_once(
        engine: tuple[Engine, dict[str, str]], http: httpx.AsyncClient) -> None:
    eng, tokens = engine
    sue = bearer(tokens["sue"])
    assert (await http.get("/api/campaigns", headers=sue)).status_code == 200

    def revoke(s: Any) -> None:
        for row in UserRepository(s).tokens("sue"):
            UserRepository(s).revoke(row.id, datetime.now(UTC))

    await eng.db.run(revoke)
    assert (await http.get("/api/campaigns", headers=sue)).status_code == 401
    await eng.db.run(lambda s: UserRepository(s).disable("ann", datetime.now(UTC)))
    assert (await http.get("/api/me", headers=bearer(tokens["ann"]))).status_code == 401


async def test_the_session_cookie_and_its_csrf_rule(
        engine: tuple[Engine, dict[str, str]], http: httpx.AsyncClient) -> None:
    eng, _ = engine
    origin = f"http://127.0.0.1:{eng.http_port}"
    r = await http.post("/api/login", json={"username": "sue", "password": PASSWORDS["sue"]})
    assert r.status_code == 200 and r.json()["roles"] == ["supervisor"]
    cookie = r.headers["set-cookie"]
    assert "cc_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert PASSWORDS["sue"] not in cookie
    assert (await http.get("/api/me")).json()["user"] == "sue"  # the client keeps the cookie
    assert (await http.get("/api/console")).status_code == 200

    # An unsafe request with the cookie must come from this server's pages.
    no_origin = await http.post("/api/agents/1001/login")
    assert no_origin.status_code == 403 and "cross-site" in no_origin.json()["detail"]
    evil = await http.post("/api/agents/1001/login", headers={"Origin": "http://evil.example"})
    assert evil.status_code == 403
    ours = await http.post("/api/agents/1001/login", headers={"Origin": origin})
    assert ours.status_code == 200
    assert (await http.post("/api/agents/1001/logout",
                            headers={"Referer": f"{origin}/console"})).status_code == 200

    forged = http.cookies["cc_session"][:-2] + "xx"
    async with httpx.AsyncClient(base_url=origin, cookies={"cc_session": forged}) as other:
        assert (await other.get("/api/me")).status_code == 401
    kept = http.cookies["cc_session"]
    assert (await http.post("/api/logout", headers={"Origin": origin})).status_code == 200
    assert "cc_session" not in http.cookies
    async with httpx.AsyncClient(base_url=origin, cookies={"cc_session": kept}) as copy:
        again = await copy.get("/api/me")  # a copy of the cookie is void too
    assert again.status_code == 401 and "log in again" in again.json()["detail"]
    cross = await http.post("/api/login", headers={"Origin": "http://evil.example"},
                            json={"username": "sue", "password": PASSWORDS["sue"]})
    assert cross.status_code == 403


async def test_failed_logins_are_throttled_per_user(
        engine: tuple[Engine, dict[str, str]], http: httpx.AsyncClient) -> None:
    for _ in range(5):
        r = await http.post("/api/login", json={"username": "bob", "password": "wrong-wrong"})
        assert r.status_code == 401
    right = await http.post("/api/login", json={"username": "bob", "password": PASSWORDS["bob"]})
    assert right.status_code == 429 and int(right.headers["retry-after"]) > 800
    assert "too many failed logins" in right.json()["detail"]
    other = await http.post("/api/login", json={"username": "ann", "password": PASSWORDS["ann"]})
    assert other.status_code == 200  # another user from the same address may still log in


async def test_twilio_webhooks_need_no_credentials_but_a_signature(
        engine: tuple[Engine, dict[str, str]], standin: TwilioStandIn) -> None:
    eng, _ = engine
    url = f"http://127.0.0.1:{eng.http_port}/twilio/voice"
    params = {"CallSid": "CA" + "e" * 32, "AccountSid": standin.account_sid,
              "From": "+15550100", "To": NUMBER, "CallStatus": "ringing",
              "Direction": "inbound"}
    assert (await standin.webhook(url, params, signed=False)).status_code == 403
    ok = await standin.webhook(url, params)
    assert ok.status_code == 200 and "<Response>" in ok.text


async def test_auto_is_open_on_loopback(tmp_path: Path, sqlite_url: str,
                                        standin: TwilioStandIn) -> None:
    eng = Engine(settings(tmp_path, sqlite_url, standin, auth="auto"))
    await eng.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{eng.http_port}") as http:
            assert (await http.get("/api/campaigns")).status_code == 200
            assert (await http.get("/api/me")).json()["auth"] == "off"
            assert (await http.post("/api/login", json={"username": "a", "password": "b"})
                    ).status_code == 409
    finally:
        await eng.stop()


async def test_auto_off_loopback_refuses_to_start_without_users_then_asks_for_them(
        tmp_path: Path, db_url: str, standin: TwilioStandIn) -> None:
    eng = Engine(settings(tmp_path, db_url, standin, auth="auto", host="0.0.0.0"))
    with pytest.raises(ConfigError, match=r"callcenter user add NAME --role admin"):
        await eng.start()
    await eng.stop()
    assert eng.http_port is None  # it never listened
    add_people(db_url)
    eng = Engine(settings(tmp_path, db_url, standin, auth="auto", host="0.0.0.0"))
    await eng.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{eng.http_port}") as http:
            assert (await http.get("/api/campaigns")).status_code == 401
    finally:
        await eng.stop()


async def test_off_on_a_public_address_warns(tmp_path: Path, sqlite_url: str,
                                             standin: TwilioStandIn,
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "callcenter.web.auth")
    eng = Engine(settings(tmp_path, sqlite_url, standin, auth="off", host="0.0.0.0"))
    await eng.start()
    try:
        assert any("http.auth is off" in r.getMessage() for r in caplog.records)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{eng.http_port}") as http:
            assert (await http.get("/api/campaigns")).status_code == 200
    finally:
        await eng.stop()


async def test_the_agents_chat_socket_is_their_own_and_the_customers_is_open(
        engine: tuple[Engine, dict[str, str]]) -> None:
    eng, tokens = engine
    base = f"ws://127.0.0.1:{eng.http_port}/api/chat"
    for headers in ({}, bearer(await token_for(eng, "bob"))):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(f"{base}/agent/1001", additional_headers=headers):
                pass
        assert refused.value.response.status_code == 403
    async with websockets.connect(f"{base}/agent/1001",
                                  additional_headers=bearer(tokens["ann"])) as mine:
        assert mine.state.name == "OPEN"
    async with websockets.connect(f"{base}/customer") as customer:
        assert customer.state.name == "OPEN"


async def test_an_agent_controls_the_call_their_desk_shows(
        engine: tuple[Engine, dict[str, str]], http: httpx.AsyncClient) -> None:
    eng, tokens = engine
    assert eng.desks is not None
    eng.bus.publish_event(CallUpdate(call_id="live-1", kind="connected", agent_id="1002",
                                     caller="+15550100"))
    for _ in range(100):  # the desk follows the bus
        if eng.desks.desks.get("1002").current is not None:
            break
        await asyncio.sleep(0.05)
    bob = bearer(await token_for(eng, "bob"))
    held = await http.post("/api/calls/live-1/hold", headers=bob)
    assert held.status_code == 409 and "SIP" in held.json()["detail"]  # past the role check
    assert (await http.post("/api/calls/live-1/hold", headers=bearer(tokens["ann"]))
            ).status_code == 403


async def test_a_ticket_change_is_recorded_as_the_logged_in_user(
        engine: tuple[Engine, dict[str, str]], http: httpx.AsyncClient) -> None:
    eng, _ = engine
    service = eng.backoffice.service
    number = await service.transact(lambda s, b: service.open_ticket(
        s, b, None, subject="Late parcel", category="general", priority=Priority.NORMAL,
        channel="web", source="test", waiting_since=b.now, route=False).id)
    tia = bearer(await token_for(eng, "tia"))
    changed = await http.patch(f"/api/tickets/{number}", headers=tia,
                               json={"actor": "someone else", "priority": "high"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["audit"][-1]["actor"] == "tia"
