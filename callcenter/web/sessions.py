"""Browser sessions and the guards around logging in; pure (time comes in as ``now``).

- :func:`auth_enabled`: whether ``http.auth`` asks for credentials on a given listen address
  (``auto``: everywhere but loopback).
- :class:`SessionCookie`: a signed session cookie, ``v1.<user id>.<issued>.<expires>.<mac>``
  (times in Unix milliseconds; HMAC-SHA256 over the rest with the node's secret). It carries
  no role: roles are read from the database on each request, so a change or a disabled user
  counts at once; a session issued before the user's ``sessions_after`` (log-out, new
  password) is void.
- :class:`LoginThrottle`: failed logins counted per user name and per client address in a
  sliding window, in memory (per node): over the limit, logins are refused for a while
  without checking the password.
- :func:`same_origin`: the CSRF rule for cookie-authenticated unsafe requests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

COOKIE = "cc_session"
_VERSION = "v1"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def auth_enabled(mode: str, host: str) -> bool:
    """Whether requests need credentials: ``required``, or ``auto`` off loopback."""
    return mode == "required" or (mode == "auto" and not is_loopback(host))


@dataclass(frozen=True)
class Session:
    user_id: int
    issued: datetime
    expires: datetime


@dataclass(frozen=True)
class SessionCookie:
    secret: bytes
    lifetime: timedelta

    def issue(self, user_id: int, now: datetime) -> str:
        body = f"{_VERSION}.{user_id}.{_ms(now)}.{_ms(now + self.lifetime)}"
        return f"{body}.{self._mac(body)}"

    def read(self, value: str, now: datetime) -> Session | None:
        """The session a cookie holds, or None when it is forged, malformed or expired."""
        if not value.isascii():  # a cookie header is latin-1: anything else is made up
            return None
        body, _, mac = value.rpartition(".")
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            version, user_id, issued, expires = body.split(".")
            session = Session(int(user_id), datetime.fromtimestamp(int(issued) / 1000, UTC),
                              datetime.fromtimestamp(int(expires) / 1000, UTC))
        except ValueError:
            return None
        if version != _VERSION or now >= session.expires:
            return None
        return session

    def _mac(self, body: str) -> str:
        digest = hmac.new(self.secret, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@dataclass
class LoginThrottle:
    """At most ``per_user`` failed logins for a user name and ``per_source`` from a client
    address within ``window``; beyond, logins are refused until the oldest failure ages out."""

    per_user: int = 5
    per_source: int = 20
    window: timedelta = timedelta(minutes=15)
    _failures: dict[str, deque[datetime]] = field(default_factory=dict)

    def wait(self, username: str, source: str, now: datetime) -> float:
        """Seconds until this user name may try again from ``source`` (0: now)."""
        return max(self._wait(f"user:{username.lower()}", self.per_user, now),
                   self._wait(f"source:{source}", self.per_source, now))

    def failed(self, username: str, source: str, now: datetime) -> None:
        for key in (f"user:{username.lower()}", f"source:{source}"):
            self._failures.setdefault(key, deque()).append(now)
        if len(self._failures) > 10_000:  # a spray of names: forget the quiet ones
            for key in [k for k, times in self._failures.items() if times[-1] < now - self.window]:
                del self._failures[key]

    def succeeded(self, username: str) -> None:
        self._failures.pop(f"user:{username.lower()}", None)

    def _wait(self, key: str, limit: int, now: datetime) -> float:
        times = self._failures.get(key)
        if not times:
            return 0.0
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) < limit:
            return 0.0
        return (times[-limit] + self.window - now).total_seconds()


def same_origin(origin: str | None, referer: str | None, host: str | None) -> bool:
    """Whether a browser request comes from this server's own pages: its ``Origin`` (else its
    ``Referer``) names the host the request was sent to. Only the host and port are compared,
    so a TLS-terminating proxy that keeps the ``Host`` header does not break it."""
    claimed = origin if origin and origin != "null" else referer
    if not claimed or not host:
        return False
    return urlsplit(claimed).netloc.lower() == host.lower()
