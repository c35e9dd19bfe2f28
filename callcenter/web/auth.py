"""Authentication of HTTP requests and the role check, as one FastAPI dependency.

:class:`WebAuth` is built by the engine at start (``http.auth``; docs/security.md): it refuses
to start when credentials are required and no user can log in, and holds the session
cookie's secret (``http.session_secret``, else ``var_dir/session.key``, made on first start)
and the failed-login throttle. :func:`authorize` is applied by ``create_app`` to every router
but the Twilio webhooks; it finds the route's rule in :mod:`callcenter.web.roles` and
answers 401 (no or bad credentials, saying how to authenticate) or 403 (saying which role is
needed). Credentials are ``Authorization: Bearer <token>`` or the session cookie of
``POST /api/login``; a cookie-authenticated unsafe request (or WebSocket) must come from this
server's own pages (``Origin``, else ``Referer``): the CSRF rule, with SameSite=Strict.

:func:`audit` records a change in the audit log with who made it and from where.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException, WebSocketException, status
from sqlalchemy import select
from starlette.requests import HTTPConnection

from callcenter.errors import ConfigError
from callcenter.store import audit as audit_log
from callcenter.store.models import Agent, Call
from callcenter.store.users import Principal, UserRepository
from callcenter.web.roles import Rule, allowed, rule_for
from callcenter.web.sessions import (
    COOKIE,
    LoginThrottle,
    SessionCookie,
    auth_enabled,
    is_loopback,
    same_origin,
)

if TYPE_CHECKING:
    from callcenter.config import Settings
    from callcenter.store import Database

log = logging.getLogger(__name__)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HOW_TO = ("log in on the page (/desktop, /console: POST /api/login with username and "
          "password), or send Authorization: Bearer <token> (`callcenter user token NAME` "
          "makes one)")


@dataclass
class WebAuth:
    mode: str
    enabled: bool
    db: Database
    cookies: SessionCookie
    throttle: LoginThrottle = field(default_factory=LoginThrottle)

    @classmethod
    async def build(cls, settings: Settings, db: Database) -> WebAuth:
        http = settings.http
        enabled = auth_enabled(http.auth, http.host)
        if http.auth == "off" and not is_loopback(http.host):
            log.warning("http.auth is off while HTTP listens on %s: anyone who reaches the "
                        "port can run campaigns and read leads", http.host)
        if enabled and not await db.run(lambda s: UserRepository(s).anyone_can_log_in()):
            why = "required" if http.auth == "required" else f"auto and {http.host} is not loopback"
            raise ConfigError(
                f"HTTP needs credentials (http.auth is {why}) but no user can log in: add one "
                "with `callcenter user add NAME --role admin` (it asks for the password), or "
                "set CALLCENTER_HTTP__AUTH=off to serve without authentication")
        if http.session_secret is not None:
            secret = http.session_secret.get_secret_value().encode()
        else:
            secret = session_key(settings.var_dir / "session.key")
        return cls(http.auth, enabled, db,
                   SessionCookie(secret, timedelta(hours=http.session_hours)))

    async def identify(self, conn: HTTPConnection, now: datetime) -> Principal:
        """The user the request's credentials name; 401 when there are none or they fail."""
        header = conn.headers.get("authorization")
        if header:
            scheme, _, token = header.partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                raise _refuse(conn, 401, "send Authorization: Bearer <token>")
            who = await self.db.run(lambda s: UserRepository(s).by_token(token))
            if who is None:
                raise _refuse(conn, 401, "this API token is unknown or revoked: "
                                         "`callcenter user token NAME` makes a new one")
            return who
        cookie = conn.cookies.get(COOKIE)
        session = self.cookies.read(cookie, now) if cookie else None
        if session is None:
            raise _refuse(conn, 401, f"authentication required: {HOW_TO}"
                          if not cookie else "your session has ended: log in again")
        found = await self.db.run(
            lambda s: UserRepository(s).by_session(session.user_id, session.issued))
        if found is None:
            raise _refuse(conn, 401, "your session has ended: log in again")
        unsafe = conn.scope["type"] == "websocket" or conn.scope["method"] not in SAFE_METHODS
        if unsafe and not same_origin(conn.headers.get("origin"), conn.headers.get("referer"),
                                      conn.headers.get("host")):
            raise _refuse(conn, 403, "a request with the session cookie must come from this "
                                     "server's own pages (Origin): cross-site request refused")
        return found

    async def on_the_call(self, conn: HTTPConnection, agent: str, call_id: str) -> bool:
        """Whether ``agent`` is on the call or was on it: their desk shows it (current, or
        last awaiting a disposition), or the call record names them."""
        desks = getattr(conn.app.state.engine, "desks", None)
        if desks is not None:
            desk = desks.desks.get(agent)
            if any(c is not None and c.call_id == call_id for c in (desk.current, desk.last)):
                return True
        found = await self.db.run(lambda s: s.scalar(
            select(Call.id).join(Agent, Call.agent_id == Agent.id)
            .where(Call.id == call_id, Agent.code == agent)))
        return found is not None


def session_key(path: Path) -> bytes:
    """The node's cookie secret, made (readable by its owner only) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return path.read_text(encoding="ascii").strip().encode()


def _refuse(conn: HTTPConnection, code: int, message: str) -> Exception:
    if conn.scope["type"] == "websocket":
        return WebSocketException(status.WS_1008_POLICY_VIOLATION, message[:120])
    headers = {"WWW-Authenticate": 'Bearer realm="callcenter"'} if code == 401 else None
    return HTTPException(code, message, headers=headers)


def web_auth(conn: HTTPConnection) -> WebAuth | None:
    """The app's authentication; None on apps put together without an engine's (tests of
    single routers), which then run open."""
    return getattr(conn.app.state, "auth", None)


async def authorize(conn: HTTPConnection) -> None:
    """The dependency on every protected router: who asks, and may they."""
    conn.state.principal = None
    auth = web_auth(conn)
    if auth is None or not auth.enabled:
        return
    method = "WS" if conn.scope["type"] == "websocket" else conn.scope["method"]
    rule = rule_for(method, conn.scope["route"].path_format)
    if rule.public:
        return
    who = await auth.identify(conn, datetime.now(UTC))
    conn.state.principal = who
    named = _named_agent(conn, rule)
    if allowed(rule, who, named_agent=named):
        return
    if rule.agent == "call" and who.agent is not None and allowed(
            rule, who, on_the_call=await auth.on_the_call(conn, who.agent,
                                                          conn.path_params["call_id"])):
        return
    raise _refuse(conn, 403, _forbidden(rule, who, named))


def _named_agent(conn: HTTPConnection, rule: Rule) -> str | None:
    if rule.agent == "path":
        return conn.path_params.get("code")
    if rule.agent == "query":
        return conn.query_params.get("agent")
    return None


def _forbidden(rule: Rule, who: Principal, named: str | None) -> str:
    mine = ", ".join(sorted(who.roles)) or "no role"
    message = f"this needs {rule.needs()}; {who.username} has {mine}"
    if rule.agent is not None and who.agent is not None:
        message += f" and is agent {who.agent}"
        if rule.agent == "query" and named is None:
            message += f" (add ?agent={who.agent})"
    return message


def principal(conn: HTTPConnection) -> Principal | None:
    """Who the request was authenticated as (None when authentication is off)."""
    return getattr(conn.state, "principal", None)


def acting_as(conn: HTTPConnection, claimed: str) -> str:
    """Who does it, for the records (a recording's pause, a ticket's history): the logged-in
    user's name, else the name the request gives (authentication off)."""
    who = principal(conn)
    return who.username if who is not None else claimed


def source(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client is not None else ""


async def audit(conn: HTTPConnection, action: str, target: str = "",
                details: Mapping[str, Any] | None = None) -> None:
    """Record a change in the audit log: who (None when authentication is off), from where."""
    auth = web_auth(conn)
    if auth is None:
        return
    who = principal(conn)
    await auth.db.run(lambda s: audit_log.record(
        s, action, actor=who.username if who else None, target=target, source=source(conn),
        details=details))


def import_figures(result: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    """An import's figures for the audit log: lists (bad rows) as their length, never rows."""
    return {k: len(v) if isinstance(v, list) else v for k, v in result.items() if k in keys}
