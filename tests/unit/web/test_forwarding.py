"""Which requests a node that does not lead the ACD sends to the leader, with which headers,
and what it answers itself (callcenter/web/forwarding.py). Forwarding over real HTTP between
two engine processes: tests/integration/test_cluster_web.py."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import httpx
import pytest

from callcenter.cluster.leadership import Leader
from callcenter.voice.twilio.webhooks import build_router
from callcenter.web import create_app
from callcenter.web.forwarding import (
    TO_LEADER,
    Forward,
    LeaderForwarding,
    forwarded,
    request_headers,
    response_headers,
)

REQUEST, STREAM = Forward.REQUEST, Forward.STREAM


@pytest.mark.parametrize(("method", "path", "how"), [
    # the ACD's live state
    ("GET", "/api/agents", REQUEST),
    ("HEAD", "/api/agents", REQUEST),
    ("GET", "/api/queues", REQUEST),
    ("GET", "/api/console", REQUEST),
    ("GET", "/api/console/stream", STREAM),
    ("GET", "/api/agents/1001/desk", REQUEST),
    ("GET", "/api/agents/1001/desk/stream", STREAM),  # the desktop's presence too
    # what changes it
    *(("POST", f"/api/agents/1001/{a}", REQUEST) for a in (
        "login", "ready", "pause", "logout", "wrapup-end", "wrapup-extend")),
    ("POST", "/api/campaigns/spring/preview", REQUEST),
    ("POST", "/api/campaigns/spring/preview/12/dial", REQUEST),
    ("POST", "/api/campaigns/spring/preview/12/skip", REQUEST),
    ("POST", "/api/campaigns/spring/callbacks/3/preview", REQUEST),
    ("GET", "/api/callbacks", REQUEST),  # owners not logged in are marked
    ("GET", "/api/campaigns/spring/callbacks", REQUEST),
    # the conversations
    *(("POST", f"/api/calls/c-1/{c}", REQUEST) for c in (
        "hold", "resume", "transfer", "transfer/complete", "transfer/cancel",
        "recording/pause", "recording/resume", "monitor")),
    # the shared database's, and this node's own: answered here
    ("GET", "/console", None),
    ("GET", "/desktop", None),
    ("POST", "/api/login", None),
    ("POST", "/api/logout", None),
    ("GET", "/api/me", None),
    ("GET", "/api/cluster", None),
    ("GET", "/healthz", None),
    ("GET", "/metrics", None),
    ("GET", "/api/dispositions", None),
    ("POST", "/api/calls/c-1/disposition", None),
    ("GET", "/api/campaigns", None),
    ("POST", "/api/campaigns/spring/start", None),
    ("GET", "/api/campaigns/spring/status", None),
    ("PATCH", "/api/campaigns/spring/callbacks/3", None),
    ("DELETE", "/api/campaigns/spring/callbacks/3", None),
    ("PUT", "/api/dnc/+15550100", None),
    ("GET", "/api/recordings", None),
    ("POST", "/api/tickets/T-1/assign", None),
    # not these routes
    ("GET", "/api/agents/1001/login", None),
    ("POST", "/api/agents", None),
    ("POST", "/api/agents/1001/login/again", None),
    ("POST", "/api/agents/10/01/login", None),
    ("GET", "/api/console/streams", None),
    ("GET", "/api/queuesx", None),
    # Twilio's webhooks: its calls live on the leader, in its ACD
    *(("POST", f"/twilio/{hook}", REQUEST) for hook in (
        "voice", "status", "gather", "transfer", "transfer/out", "record", "continue",
        "queue/wait", "queue/key", "queue/done", "agent/answer", "agent/status",
        "callback/answer", "callback/agent", "callback/customer", "callback/dialed",
        "recording", "outbound/answer", "outbound/status", "outbound/amd")),
    ("GET", "/twilio/media/0a1b2c.wav", REQUEST),  # a prompt the leader's call registered
    ("HEAD", "/twilio/media/0a1b2c.wav", REQUEST),
    ("GET", "/twilio/voice", None),
    ("POST", "/twilio/voicemail", None),
    ("POST", "/twilio/queue/wait/again", None),
    ("POST", "/twilio/media/x.wav", None),
])
def test_which_requests_go_to_the_leader(method: str, path: str, how: Forward | None) -> None:
    assert forwarded(method, path) is how


def test_every_forwarded_route_is_a_route_of_the_app() -> None:
    twilio = SimpleNamespace(router=build_router(SimpleNamespace()))  # type: ignore[arg-type]
    app = create_app(SimpleNamespace(auth=None, twilio=twilio, bus=None))  # type: ignore[arg-type]
    routes = {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops}
    assert set(TO_LEADER) - routes == set()
    # every webhook of a Twilio call reaches the node whose ACD it waits in
    assert {r for r in routes if r[1].startswith("/twilio/")} - set(TO_LEADER) == set()
    streams = {path for (_, path), how in TO_LEADER.items() if how is STREAM}
    assert streams == {"/api/console/stream", "/api/agents/{code}/desk/stream"}


def test_the_request_goes_on_with_its_credentials_and_this_node_named() -> None:
    sent = request_headers([
        (b"host", b"cc.example:8080"), (b"cookie", b"cc_session=abc"),
        (b"authorization", b"Bearer t"), (b"content-length", b"12"),
        (b"connection", b"keep-alive"), (b"X-Forwarded-For", b"203.0.113.9"),
        (b"x-cc-forwarded-by", b"forged"), (b"origin", b"http://cc.example:8080"),
    ], "10.0.0.7", "node-b")
    assert sent == [
        (b"host", b"cc.example:8080"), (b"cookie", b"cc_session=abc"),
        (b"authorization", b"Bearer t"), (b"origin", b"http://cc.example:8080"),
        (b"x-forwarded-for", b"203.0.113.9, 10.0.0.7"), (b"x-cc-forwarded-by", b"node-b"),
    ]
    assert request_headers([], None, "node-b") == [(b"x-cc-forwarded-by", b"node-b")]


def test_the_answer_comes_back_with_its_headers_and_the_leader_named() -> None:
    got = response_headers([
        (b"content-type", b"application/json"), (b"set-cookie", b"a=1"),
        (b"set-cookie", b"b=2"), (b"date", b"x"), (b"server", b"uvicorn"),
        (b"transfer-encoding", b"chunked"), (b"content-length", b"2"),
        (b"cache-control", b"no-cache"),
    ], "node-a")
    assert got == [(b"content-type", b"application/json"), (b"set-cookie", b"a=1"),
                   (b"set-cookie", b"b=2"), (b"cache-control", b"no-cache"),
                   (b"x-cc-served-by", b"node-a")]


class Leadership:
    def __init__(self, leader: Leader | None, is_leader: bool = False) -> None:
        self.node, self.leader, self.is_leader = "node-b", leader, is_leader


def leader(http_url: str | None, node: str = "node-a") -> Leader:
    return Leader(node, 3, "sip:10.0.0.5", http_url, datetime(2026, 12, 6, tzinfo=UTC))


async def answer(leadership: Leadership | None, path: str,
                 headers: dict[str, str] | None = None) -> httpx.Response:
    """``GET path`` on an app (no routes but one) behind the middleware."""

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"local"})

    engine = SimpleNamespace(leadership=leadership, acd=None)
    transport = httpx.ASGITransport(app=LeaderForwarding(app, engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://cc") as client:
        return await client.get(path, headers=headers)


async def test_what_is_answered_here() -> None:
    away = Leadership(leader("http://10.0.0.5:8080"))
    assert (await answer(None, "/api/queues")).text == "local"  # no cluster
    assert (await answer(Leadership(leader(None), True), "/api/queues")).text == "local"
    assert (await answer(away, "/api/campaigns")).text == "local"
    assert (await answer(away, "/api/queues", {"X-CC-Forwarded-By": "node-c"})).text == "local"
    ourselves = Leadership(leader("http://10.0.0.6:8080", node="node-b"))  # between polls
    assert (await answer(ourselves, "/api/queues")).text == "local"


async def test_without_a_leader_to_reach_the_answer_says_what_to_do() -> None:
    nobody = await answer(Leadership(None), "/api/console/stream")
    assert nobody.status_code == 503 and nobody.headers["retry-after"] == "2"
    assert nobody.json()["detail"] == (
        "no node leads the ACD now (not known: its lease expired, or this node cannot read "
        "the database); check that node, or GET /api/cluster (retry in 2 s: a new leader is "
        "known within one poll)")
    unaddressed = await answer(Leadership(leader(None)), "/api/queues")
    assert unaddressed.status_code == 503
    assert unaddressed.json()["detail"].startswith(
        "the ACD's leader node node-a has no HTTP address in its lease (it started with "
        "http.port 0 and has not written where it listens yet): set cluster.http_url on that "
        "node;")
