"""Logging in and out of the pages, who am I, and the audit log over HTTP.

- ``POST /api/login`` ``{"username", "password"}``: a session cookie (``cc_session``: signed,
  HttpOnly, SameSite=Strict, Secure over HTTPS) and who logged in. A wrong name or password
  is 401 and an audit row (``login.failed``: the name tried and the address, never the
  password); too many failures for a name or from an address are 429 with ``Retry-After``,
  without checking the password.
- ``POST /api/logout``: ends every browser session of the user (not their API tokens) and
  clears the cookie.
- ``GET /api/me``: ``auth`` (``required`` or ``off``), the user, their roles and agent code.
- ``GET /api/audit?since=&user=&action=&limit=``: the newest audit entries (admins).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from callcenter.store import audit as audit_log
from callcenter.store.users import UserRepository
from callcenter.web.auth import WebAuth, audit, principal, source, web_auth
from callcenter.web.sessions import COOKIE, same_origin

router = APIRouter(prefix="/api", tags=["authentication"])


class Credentials(BaseModel):
    username: str = Field(..., min_length=1, max_length=64)
    password: str = Field(..., min_length=1, max_length=1024)


def _enabled(request: Request) -> WebAuth:
    auth = web_auth(request)
    if auth is None or not auth.enabled:
        raise HTTPException(409, "authentication is off on this server (http.auth off, or auto "
                                 "on a loopback address): use the API without logging in")
    return auth


@router.post("/login", summary="Log in: a session cookie for the pages")
async def login(request: Request, response: Response, body: Credentials) -> dict[str, Any]:
    auth = _enabled(request)
    if request.headers.get("origin") and not same_origin(
            request.headers.get("origin"), None, request.headers.get("host")):
        raise HTTPException(403, "log in from this server's own pages (cross-site login refused)")
    now, where = datetime.now(UTC), source(request)
    wait = auth.throttle.wait(body.username, where, now)
    if wait > 0:
        raise HTTPException(
            429, f"too many failed logins for this user or from this address: retry in "
                 f"{math.ceil(wait)} s", headers={"Retry-After": str(math.ceil(wait))})
    who = await auth.db.run(lambda s: UserRepository(s).check_login(body.username,
                                                                    body.password))
    if who is None:
        auth.throttle.failed(body.username, where, now)
        await audit(request, "login.failed", body.username)
        raise HTTPException(401, "wrong user name or password",
                            headers={"WWW-Authenticate": 'Bearer realm="callcenter"'})
    auth.throttle.succeeded(body.username)
    response.set_cookie(
        COOKIE, auth.cookies.issue(who.user_id, now),
        max_age=int(auth.cookies.lifetime.total_seconds()), path="/", httponly=True,
        samesite="strict", secure=request.url.scheme == "https")
    return {"auth": auth.mode, **who.as_dict()}


@router.post("/logout", summary="Log out: end this user's browser sessions")
async def logout(request: Request, response: Response) -> dict[str, Any]:
    auth, who = _enabled(request), principal(request)
    if who is not None:
        await auth.db.run(lambda s: UserRepository(s).end_sessions(who.user_id,
                                                                   datetime.now(UTC)))
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return {"logged_out": True}


@router.get("/me", summary="Who is logged in: user, roles, agent code")
async def me(request: Request) -> dict[str, Any]:
    auth, who = web_auth(request), principal(request)
    mode = "required" if auth is not None and auth.enabled else "off"
    if who is None:
        return {"auth": mode, "user": None, "display_name": None, "roles": [], "agent": None}
    return {"auth": mode, **who.as_dict()}


@router.get("/audit", summary="The audit log, newest first (admins)")
async def read_audit(
    request: Request,
    since: datetime | None = Query(None, description="ISO 8601; from this instant on."),
    user: str | None = Query(None, max_length=64, description="Only this user's actions."),
    action: str | None = Query(None, max_length=64,
                               description="Actions starting with this (campaign., dnc.)."),
    limit: int = Query(100, ge=1, le=10_000),
) -> list[dict[str, Any]]:
    auth = web_auth(request)
    if auth is None:
        raise HTTPException(503, "no audit log on this app")
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    rows = await auth.db.run(lambda s: [audit_log.as_dict(e) for e in audit_log.entries(
        s, since=since, actor=user, action=action, limit=limit)])
    return rows
