"""Requests about the live ACD, sent on to the node that leads it (docs/cluster.md).

With ``cluster.enabled`` one node leads the ACD (queues, agents, the callers waiting, the
agents' conversations); agents' desktops and supervisors' consoles may reach any node behind a
load balancer. On a node that does not lead, :class:`LeaderForwarding` (ASGI middleware)
passes the requests whose answer belongs to the leader on to its ``http_url`` and returns the
leader's answer as it is: status, headers, body; Server-Sent Events as they come. Which
requests: :data:`TO_LEADER`, read by the pure :func:`forwarded`. Everything else (pages,
login, campaigns, do-not-call lists, recordings, tickets, dispositions, ``/healthz``,
``/metrics``, ``/api/cluster``) reads and writes the shared database and is answered here.
Twilio's webhooks go to the leader too: its calls live there, in the leader's ACD.

The request goes on with its ``Cookie``, ``Authorization`` and ``Host`` headers unchanged: the
leader authenticates it (the same ``http.session_secret`` on every node) and its CSRF rule
compares ``Origin`` with the host the browser called. ``X-CC-Forwarded-By`` names this node;
a request that carries it is answered where it arrives, never sent on again (no loops between
nodes that disagree on who leads). No leader known, or one that cannot be reached or does not
answer in time: 503 saying which and what to check.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from callcenter.cluster.leadership import AcdLeadership, Leader

log = logging.getLogger(__name__)

HOP = "x-cc-forwarded-by"  # the node that forwarded the request
SERVED_BY = "x-cc-served-by"  # on a forwarded answer: the leader that made it
REQUEST_TIMEOUT_S = 10.0  # a whole plain request, answer included
CONNECT_TIMEOUT_S = 10.0  # a stream: to connect and get the answer's head; then no limit
RETRY_AFTER_S = 2  # a new leader is known within one poll of the lease
LEADER_CHECK_S = 1.0  # how often an open stream looks whether another node leads now


class Forward(enum.Enum):
    """How a request goes to the leader."""

    REQUEST = "request"  # answered in one piece, within REQUEST_TIMEOUT_S
    STREAM = "stream"  # Server-Sent Events, passed on as they come, as long as they last


_AGENT_ACTIONS = ("login", "ready", "pause", "logout", "wrapup-end", "wrapup-extend")
_CALL_CONTROL = ("hold", "resume", "transfer", "transfer/complete", "transfer/cancel",
                 "recording/pause", "recording/resume", "monitor")
#: Twilio's webhooks (callcenter/voice/twilio/webhooks.py): a Twilio call lives in the memory
#: of the node that answered its first webhook, and waits in that node's ACD; behind a load
#: balancer every one of its webhooks must reach the same node, the leader. Twilio signs
#: them over ``twilio.public_base_url``: the same on every node, the leader checks them.
_TWILIO_WEBHOOKS = ("voice", "status", "gather", "transfer", "transfer/out", "record",
                    "continue", "queue/wait", "queue/key", "queue/done", "agent/answer",
                    "agent/status", "callback/answer", "callback/agent", "callback/customer",
                    "callback/dialed", "recording", "outbound/answer", "outbound/status",
                    "outbound/amd")

#: (method, path template as in callcenter/web/roles.py) -> how. The ACD's live state (the
#: router's agents and queues), what changes it, the conversations (bridged on the leader)
#: and preview dialing (the agent's state is checked and paused at the ACD; the answer is
#: connected to the leader's agent). An agent's desk stream is also their desktop presence,
#: which pauses them at the ACD when it goes. Callbacks' lists mark owners not logged in.
#: Twilio's webhooks and the prompt files its calls play (registered by the leader's calls).
TO_LEADER: dict[tuple[str, str], Forward] = {
    ("GET", "/api/agents"): Forward.REQUEST,
    **{("POST", f"/api/agents/{{code}}/{action}"): Forward.REQUEST for action in _AGENT_ACTIONS},
    ("GET", "/api/agents/{code}/desk"): Forward.REQUEST,
    ("GET", "/api/agents/{code}/desk/stream"): Forward.STREAM,
    ("GET", "/api/queues"): Forward.REQUEST,
    ("GET", "/api/console"): Forward.REQUEST,
    ("GET", "/api/console/stream"): Forward.STREAM,
    **{("POST", f"/api/calls/{{call_id}}/{what}"): Forward.REQUEST for what in _CALL_CONTROL},
    ("POST", "/api/campaigns/{name}/preview"): Forward.REQUEST,
    ("POST", "/api/campaigns/{name}/callbacks/{callback_id}/preview"): Forward.REQUEST,
    ("POST", "/api/campaigns/{name}/preview/{lead_id}/dial"): Forward.REQUEST,
    ("POST", "/api/campaigns/{name}/preview/{lead_id}/skip"): Forward.REQUEST,
    ("GET", "/api/callbacks"): Forward.REQUEST,
    ("GET", "/api/campaigns/{name}/callbacks"): Forward.REQUEST,
    **{("POST", f"/twilio/{hook}"): Forward.REQUEST for hook in _TWILIO_WEBHOOKS},
    ("GET", "/twilio/media/{key}"): Forward.REQUEST,
}


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


_MATCHERS = [(method, _pattern(template), how) for (method, template), how in TO_LEADER.items()]


def forwarded(method: str, path: str) -> Forward | None:
    """Whether a request goes to the ACD's leader (when this node does not lead), and how;
    ``None``: answered here. ``HEAD`` goes as ``GET`` does."""
    method = "GET" if method == "HEAD" else method
    for m, pattern, how in _MATCHERS:
        if m == method and pattern.fullmatch(path):
            return how
    return None


# Hop-by-hop headers (RFC 9110 7.6.1) are the connection's, not the message's.
_HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-authenticate",
                         b"proxy-authorization", b"proxy-connection", b"te", b"trailer",
                         b"transfer-encoding", b"upgrade"})
_NOT_SENT_ON = _HOP_BY_HOP | {b"content-length", HOP.encode()}  # length: of the body sent
_NOT_RETURNED = _HOP_BY_HOP | {b"content-length", b"date", b"server"}  # this server's own


def request_headers(headers: list[tuple[bytes, bytes]], client: str | None,
                    node: str) -> list[tuple[bytes, bytes]]:
    """The headers a forwarded request carries: the client's (``Host``, ``Cookie``,
    ``Authorization`` unchanged), the client's address appended to ``X-Forwarded-For`` and
    this node in ``X-CC-Forwarded-By``."""
    out = [(k, v) for k, v in headers if k.lower() not in _NOT_SENT_ON]
    if client:
        before = [v for k, v in out if k.lower() == b"x-forwarded-for"]
        out = [(k, v) for k, v in out if k.lower() != b"x-forwarded-for"]
        chain = b", ".join([*before, client.encode()])
        out.append((b"x-forwarded-for", chain))
    out.append((HOP.encode(), node.encode()))
    return out


def response_headers(headers: list[tuple[bytes, bytes]], leader: str) -> list[tuple[bytes, bytes]]:
    """The leader's answer's headers as the client gets them (``Set-Cookie`` too), with
    ``X-CC-Served-By``."""
    return [*((k, v) for k, v in headers if k.lower() not in _NOT_RETURNED),
            (SERVED_BY.encode(), leader.encode())]


class LeaderUnavailable(Exception):
    """The request belongs to the ACD's leader and cannot reach it: answered 503."""

    def __init__(self, leader: Leader | None, problem: str) -> None:
        self.leader = leader
        self.problem = problem
        if leader is None:
            what = f"no node leads the ACD now ({problem})"
        elif leader.http_url is None:
            what = (f"the ACD's leader node {leader.node} has no HTTP address in its lease "
                    f"({problem}): set cluster.http_url on that node")
        else:
            what = (f"the ACD's leader node {leader.node} at {leader.http_url} is unreachable: "
                    f"{problem}")
        super().__init__(f"{what}; check that node, or GET /api/cluster (retry in "
                         f"{RETRY_AFTER_S} s: a new leader is known within one poll)")


class LeaderForwarding:
    """ASGI middleware: on a node that does not lead the ACD, :func:`forwarded` requests go
    to the leader (one shared HTTP client, closed at the app's shutdown)."""

    def __init__(self, app: ASGIApp, engine: Any) -> None:
        self.app = app
        self.engine = engine
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._closing_on_shutdown(receive), send)
            return
        how = forwarded(scope["method"], scope["path"]) if scope["type"] == "http" else None
        leadership = getattr(self.engine, "leadership", None)
        if (how is None or leadership is None or leadership.is_leader
                or any(k.lower() == HOP.encode() for k, _ in scope["headers"])):
            await self.app(scope, receive, send)  # this node's own answer
            return
        leader = leadership.leader
        if leader is not None and leader.node == leadership.node:
            await self.app(scope, receive, send)  # this node, between two polls
            return
        await self._forward(scope, receive, send, how, leadership)

    async def _forward(self, scope: Scope, receive: Receive, send: Send, how: Forward,
                       leadership: AcdLeadership) -> None:
        leader, node = leadership.leader, leadership.node
        body = await _body(receive)
        try:
            if leader is None:
                raise LeaderUnavailable(None, "not known: its lease expired, or this node "
                                              "cannot read the database")
            response, content = await self._send_on(scope, body, how, leader, node)
        except LeaderUnavailable as exc:
            log.warning("forwarding %s %s: %s", scope["method"], scope["path"], exc)
            await _unavailable(send, str(exc))
            return
        try:
            headers = response_headers(response.headers.raw, leader.node)
            if content is not None:
                headers.append((b"content-length", str(len(content)).encode()))
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": headers})
            if content is not None:
                await send({"type": "http.response.body", "body": content})
            else:
                await self._stream(response, receive, send, leadership, leader)
        finally:
            await response.aclose()

    async def _send_on(self, scope: Scope, body: bytes, how: Forward, leader: Leader,
                       node: str) -> tuple[httpx.Response, bytes | None]:
        """The leader's answer: a plain one read whole (its body as sent, still encoded), a
        stream's head only (``None``); or :class:`LeaderUnavailable`."""
        if leader.http_url is None:
            raise LeaderUnavailable(leader, "it started with http.port 0 and has not written "
                                            "where it listens yet")
        path = scope.get("raw_path") or scope["path"].encode()
        url = leader.http_url.rstrip("/") + path.decode("latin-1")
        if scope["query_string"]:
            url += "?" + scope["query_string"].decode("latin-1")
        client = scope.get("client")
        plain = how is Forward.REQUEST
        limit = REQUEST_TIMEOUT_S if plain else CONNECT_TIMEOUT_S
        request = self._http().build_request(
            scope["method"], url, content=body,
            headers=request_headers(scope["headers"], client[0] if client else None, node),
            timeout=httpx.Timeout(limit) if plain else httpx.Timeout(None, connect=limit))
        response: httpx.Response | None = None
        try:
            async with asyncio.timeout(limit):
                response = await self._http().send(request, stream=True)
                content = b"".join([c async for c in response.aiter_raw()]) if plain else None
        except (TimeoutError, httpx.HTTPError) as exc:
            if response is not None:
                await response.aclose()
            problem = (f"no answer within {limit:g} s" if isinstance(exc, TimeoutError)
                       else _reason(exc))
            raise LeaderUnavailable(leader, problem) from None
        return response, content

    async def _stream(self, response: httpx.Response, receive: Receive, send: Send,
                      leadership: AcdLeadership, leader: Leader) -> None:
        """The leader's events as they come, until the leader ends them, the client goes,
        another node leads (the browser reconnects, to it: a leader that died sends no end)
        or this node stops (its own streams end then too: the HTTP server waits for them)."""

        async def relay() -> None:
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})

        async def client_gone() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        async def leader_changed() -> None:
            while _same(leadership.leader, leader):
                await asyncio.sleep(LEADER_CHECK_S)

        waits = [asyncio.ensure_future(relay()), asyncio.ensure_future(client_gone()),
                 asyncio.ensure_future(leader_changed()),
                 asyncio.ensure_future(self._node_stopping())]
        done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if (exc := task.exception()) is not None:
                if not isinstance(exc, httpx.HTTPError):
                    raise exc
                log.info("forwarded stream: the leader's side ended (%s)", _reason(exc))
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _node_stopping(self) -> None:
        """Returns when the engine closes its live views' watchers (it is stopping)."""
        service = getattr(self.engine, "acd", None)
        if service is None:
            await asyncio.Event().wait()
            return
        while not service.watchers_closed:
            await service.next_change(service.revision, 3600.0)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # Every open stream holds a connection: no pool limit, a few kept idle.
            self._client = httpx.AsyncClient(
                trust_env=False, follow_redirects=False,
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=20))
        return self._client

    def _closing_on_shutdown(self, receive: Receive) -> Callable[[], Awaitable[Message]]:
        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown" and self._client is not None:
                client, self._client = self._client, None
                await client.aclose()
            return message

        return receiving


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _unavailable(send: Send, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(RETRY_AFTER_S).encode())]})
    await send({"type": "http.response.body", "body": body})


def _same(now: Leader | None, then: Leader) -> bool:
    return now is not None and (now.node, now.term) == (then.node, then.term)


def _reason(exc: httpx.HTTPError) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({text})"
    return text
