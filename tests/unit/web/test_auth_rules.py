"""The pure parts of authentication: password and token hashing, the session cookie, the login
throttle, the CSRF origin rule, when ``http.auth`` asks for credentials, and the route-to-role
table (every route of the app is named in it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.store.secrets import (
    hash_password,
    hash_secret,
    new_token,
    token_digest,
    verify,
)
from callcenter.store.users import Principal
from callcenter.web import create_app
from callcenter.web.roles import (
    ADMINS,
    AGENT_QUERY,
    ANYONE,
    BACKOFFICE,
    ON_THE_CALL,
    OWN_AGENT,
    POLICY,
    PUBLIC,
    SUPERVISORS,
    allowed,
    rule_for,
)
from callcenter.web.sessions import (
    LoginThrottle,
    SessionCookie,
    auth_enabled,
    is_loopback,
    same_origin,
)

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def who(*roles: str, agent: str | None = None) -> Principal:
    return Principal(7, "pat", "Pat", frozenset(roles), agent)


def test_passwords_are_salted_scrypt_and_verified_in_constant_form() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first.startswith("scrypt$16384$8$1$") and first != second  # a salt each
    assert "correct horse" not in first
    assert verify("correct horse", first, password=True)
    assert not verify("correct hors", first, password=True)
    assert not verify("anything", None, password=True)  # no user: the same work, and no
    assert verify("1234", hash_secret("1234"))  # agents' PINs keep their PBKDF2 hashes
    assert not verify("1235", hash_secret("1234"))


def test_tokens_are_random_and_only_their_digest_is_kept() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100 and all(t.startswith("cct_") and len(t) == 47 for t in tokens)
    token = tokens.pop()
    assert token_digest(token) == token_digest(token) and len(token_digest(token)) == 64
    assert token not in token_digest(token)


def test_the_session_cookie_is_signed_and_expires() -> None:
    cookies = SessionCookie(b"s" * 32, timedelta(hours=12))
    value = cookies.issue(42, NOW)
    session = cookies.read(value, NOW + timedelta(hours=1))
    assert session is not None and session.user_id == 42 and session.issued == NOW
    assert cookies.read(value, NOW + timedelta(hours=12)) is None  # expired
    assert SessionCookie(b"t" * 32, timedelta(hours=12)).read(value, NOW) is None
    body, _, mac = value.rpartition(".")
    assert cookies.read(body.replace("v1.42.", "v1.1."), NOW) is None
    assert cookies.read(body.replace("v1.42.", "v1.1.") + "." + mac, NOW) is None
    assert cookies.read("garbage", NOW) is None and cookies.read("", NOW) is None


@settings(max_examples=200)
@given(st.text(max_size=80))
def test_no_made_up_cookie_is_accepted(value: str) -> None:
    assert SessionCookie(b"k" * 32, timedelta(hours=1)).read(value, NOW) is None


def test_the_throttle_counts_failures_per_user_and_per_address() -> None:
    throttle = LoginThrottle(per_user=3, per_source=5, window=timedelta(minutes=15))
    for i in range(3):
        assert throttle.wait("Sue", "10.0.0.1", NOW) == 0
        throttle.failed("sue", "10.0.0.1", NOW + timedelta(seconds=i))
    assert throttle.wait("sue", "10.0.0.9", NOW + timedelta(minutes=1)) == 14 * 60
    assert throttle.wait("ann", "10.0.0.1", NOW) == 0  # the address is not over its limit
    assert throttle.wait("sue", "10.0.0.1", NOW + timedelta(minutes=15)) == 0  # aged out
    for name in ("a", "b", "c", "d", "e"):
        throttle.failed(name, "10.0.0.2", NOW)
    assert throttle.wait("f", "10.0.0.2", NOW) > 0  # a spray of names from one address
    throttle.failed("bob", "10.0.0.3", NOW)
    throttle.succeeded("bob")
    assert throttle._failures.get("user:bob") is None


def test_csrf_same_origin() -> None:
    assert same_origin("http://cc.example:8080", None, "cc.example:8080")
    assert same_origin("https://cc.example", None, "cc.example")  # TLS ended at a proxy
    assert same_origin(None, "http://cc.example/console", "cc.example")
    assert not same_origin("http://evil.example", "http://cc.example/x", "cc.example")
    assert not same_origin(None, None, "cc.example")
    assert not same_origin("null", None, "cc.example")


@pytest.mark.parametrize(("mode", "host", "on"), [
    ("auto", "127.0.0.1", False), ("auto", "::1", False), ("auto", "localhost", False),
    ("auto", "127.0.0.53", False), ("auto", "0.0.0.0", True), ("auto", "::", True),
    ("auto", "10.1.2.3", True), ("auto", "cc.example", True),
    ("required", "127.0.0.1", True), ("off", "0.0.0.0", False),
])
def test_when_credentials_are_needed(mode: str, host: str, on: bool) -> None:
    assert auth_enabled(mode, host) is on
    assert is_loopback(host) is (host in ("127.0.0.1", "::1", "localhost", "127.0.0.53"))


def test_the_route_table() -> None:
    assert rule_for("POST", "/api/campaigns/{name}/start") is SUPERVISORS  # under /api/campaigns
    assert rule_for("POST", "/api/campaigns/{name}/preview") is AGENT_QUERY  # its own entry
    assert rule_for("GET", "/api/dnc/{number}") is SUPERVISORS
    assert rule_for("PATCH", "/api/tickets/{ticket_id}") is BACKOFFICE
    assert rule_for("POST", "/api/agents/{code}/ready") is OWN_AGENT
    assert rule_for("POST", "/api/calls/{call_id}/hold") is ON_THE_CALL
    assert rule_for("POST", "/api/calls/{call_id}/monitor") is SUPERVISORS
    assert rule_for("DELETE", "/api/something/new") is ADMINS  # unnamed: admins only
    assert rule_for("POST", "/api/login") is PUBLIC and rule_for("GET", "/api/me") is ANYONE


def test_who_may() -> None:
    assert allowed(SUPERVISORS, who("admin"))  # admins may everything
    assert allowed(SUPERVISORS, who("supervisor"))
    assert not allowed(SUPERVISORS, who("agent", agent="1001"))
    assert not allowed(SUPERVISORS, who("backoffice"))
    assert allowed(OWN_AGENT, who("agent", agent="1001"), named_agent="1001")
    assert not allowed(OWN_AGENT, who("agent", agent="1001"), named_agent="1002")
    assert not allowed(OWN_AGENT, who("agent"), named_agent=None)  # an agent user, no agent
    assert allowed(OWN_AGENT, who("supervisor"), named_agent="1002")
    assert not allowed(AGENT_QUERY, who("agent", agent="1001"), named_agent=None)
    assert allowed(ON_THE_CALL, who("agent", agent="1001"), on_the_call=True)
    assert not allowed(ON_THE_CALL, who("agent", agent="1001"))
    assert allowed(BACKOFFICE, who("backoffice")) and not allowed(BACKOFFICE, who("supervisor"))
    assert allowed(ANYONE, who()) and not allowed(ADMINS, who("supervisor", "backoffice"))
    assert ON_THE_CALL.needs() == ("the admin or supervisor role, or to be the agent on the "
                                   "call")


def test_every_route_of_the_app_is_named_in_the_table() -> None:
    """Read from the app's OpenAPI document (FastAPI's public account of every route it
    serves; its route objects are private and changed shape in FastAPI 0.165)."""
    engine = SimpleNamespace(auth=None, twilio=None, bus=None)
    app = create_app(engine)  # type: ignore[arg-type]
    open_routes = {"/healthz", "/metrics"}
    operations = [(method.upper(), path) for path, item in app.openapi()["paths"].items()
                  for method in item]
    assert len(operations) >= 60, operations  # the test reads the routes (it once read none)
    assert ("POST", "/api/agents/{code}/login") in operations
    unnamed = []
    for method, path in operations:
        named = any(key in POLICY for key in ((method, path), ("*", path))) or any(
            pattern.endswith("/*") and m in ("*", method) and path.startswith(pattern[:-1])
            for m, pattern in POLICY)
        if not named and path not in open_routes:
            unnamed.append((method, path))
    assert unnamed == []


def test_the_records_name_the_logged_in_user_not_the_body() -> None:
    from callcenter.web.auth import acting_as

    logged_in = SimpleNamespace(state=SimpleNamespace(principal=who("agent", agent="1001")))
    assert acting_as(logged_in, "someone else") == "pat"  # type: ignore[arg-type]
    open_api = SimpleNamespace(state=SimpleNamespace(principal=None))
    assert acting_as(open_api, "1001") == "1001"  # type: ignore[arg-type]
