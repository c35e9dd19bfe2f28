"""Handing a caller over to the ACD leader: what travels with the call, signed.

With several engine nodes one of them leads the ACD (:mod:`callcenter.cluster.leadership`):
every queue's callers wait in its router, so callers on every node keep one order and reach
agents logged in anywhere. A caller's IVR runs on the node that answered; at its ``Enqueue``
that node (the *origin*) places a call to the leader's handover number carrying an
``X-CC-Handover`` header, bridges it to the caller and waits; the leader queues the caller
with the original enqueue time (its place in line), connects the agent, and when its part is
over ends its leg with a BYE that carries ``X-CC-Result`` (served by whom, overflow, call-back,
or *moved*: queue again at the leader of now). The origin's flow then goes on.

The header is ``<payload>.<signature>``: the payload is the :class:`Handover` as JSON in
base64url, the signature its HMAC-SHA256 under the cluster's shared secret
(``cluster.secret``), so nobody else can queue calls with a forged place in line. A header
older than ``max_age_s`` is refused (a replayed INVITE). Pure: no sockets, no clock reads.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from callcenter import ivr
from callcenter.ivr.events import QueueOutcome

HEADER = "X-CC-Handover"
RESULT_HEADER = "X-CC-Result"
#: The leader gave up the lead while the caller waited: queue again at the new leader.
MOVED = "moved"
#: Enough for a queue's settings, a caller and a screen pop; a SIP INVITE over UDP must stay
#: well under the path MTU with its SDP (pjsip switches to TCP above ~1300 bytes anyway).
MAX_HEADER = 4096
MAX_AGE_S = 30.0


class HandoverError(ValueError):
    """A handover header that cannot be trusted or read; the message says why."""


@dataclass(frozen=True)
class Handover:
    """A caller handed to the leader: its queue request and its place in line.

    ``enqueued_at``: when the caller first started waiting (epoch seconds, the nodes' shared
    wall time), kept through every later handover. ``issued_at``: when this header was made.
    """

    call_id: str
    origin: str
    enqueue: ivr.Enqueue
    enqueued_at: float
    issued_at: float
    caller: str = ""
    screen_pop: dict[str, str] = field(default_factory=dict)
    dialed: str = ""  # the number the caller phoned (what a call-back shows)


def sign(handover: Handover, secret: bytes) -> str:
    """The header value for ``handover``; :class:`HandoverError` when it is too large."""
    doc = asdict(handover)
    doc["enqueue"]["announcements"] = [_prompt_doc(p) for p in handover.enqueue.announcements]
    payload = base64.urlsafe_b64encode(
        json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    ).rstrip(b"=")
    value = f"{payload.decode()}.{_mac(payload, secret)}"
    if len(value) > MAX_HEADER:
        raise HandoverError(
            f"the handover of call {handover.call_id} is {len(value)} bytes, over {MAX_HEADER}: "
            "shorten the queue's announcements or the screen-pop data"
        )
    return value


def verify(value: str, secret: bytes, now: float, max_age_s: float = MAX_AGE_S) -> Handover:
    """The :class:`Handover` in a header value, once its signature and age are checked."""
    if len(value) > MAX_HEADER:
        raise HandoverError(f"handover header of {len(value)} bytes, over {MAX_HEADER}")
    payload, dot, mac = value.strip().partition(".")
    if not dot or not payload:
        raise HandoverError("handover header is not <payload>.<signature>")
    if not hmac.compare_digest(mac, _mac(payload.encode(), secret)):
        raise HandoverError(
            "handover signature does not match: the nodes' cluster.secret differ, or the "
            "header was forged"
        )
    try:
        doc = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        handover = _from_doc(doc)
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise HandoverError(f"handover payload unreadable: {exc}") from None
    age = now - handover.issued_at
    if age > max_age_s or age < -max_age_s:
        raise HandoverError(
            f"handover issued {age:.0f} s from now, beyond {max_age_s:g} s: a replay, or the "
            "nodes' clocks differ (keep them in NTP sync)"
        )
    return handover


class Result(NamedTuple):
    """What an ``X-CC-Result`` value says: the queue's outcome (``None``: queue again), the
    agent who served, and when the caller was connected (epoch seconds, the leader's clock)."""

    outcome: QueueOutcome | None
    agent: str | None = None
    connected_at: float | None = None


def result_header(result: ivr.QueueResult | None, connected_at: float | None = None) -> str:
    """The ``X-CC-Result`` value the leader ends its leg with; ``None``: :data:`MOVED`.
    ``connected_at`` (epoch s): when an agent took the caller, for the origin's record (its
    queue wait ends there, the talk starts there)."""
    if result is None:
        return MOVED
    agent = f";agent={result.agent_id}" if result.agent_id else ""
    connected = f";connected={connected_at:.3f}" if connected_at is not None else ""
    return f"{result.outcome.value}{agent}{connected}"


def parse_result(value: str) -> Result:
    """The :class:`Result` in an ``X-CC-Result`` value; outcome ``None`` for :data:`MOVED`
    (queue again) and for anything unreadable (the same: nothing is lost). An unreadable
    ``connected`` is left out (the record then counts the wait to the end)."""
    outcome, *params = (p.strip() for p in value.split(";"))
    named = dict(p.partition("=")[::2] for p in params)
    try:
        connected: float | None = float(named["connected"])
    except (KeyError, ValueError):
        connected = None
    if connected is not None and not math.isfinite(connected):
        connected = None
    try:
        return Result(QueueOutcome(outcome), named.get("agent") or None, connected)
    except ValueError:
        return Result(None)


def _mac(payload: bytes, secret: bytes) -> str:
    return hmac.new(secret, payload, hashlib.sha256).hexdigest()


def _prompt_doc(prompt: ivr.Say | ivr.Play) -> dict[str, Any]:
    kind = "say" if isinstance(prompt, ivr.Say) else "play"
    return {"kind": kind, **asdict(prompt)}


def _prompt(doc: dict[str, Any]) -> ivr.Say | ivr.Play:
    kind = doc.pop("kind")
    if kind == "say":
        return ivr.Say(**doc)
    if kind == "play":
        return ivr.Play(**doc)
    raise ValueError(f"unknown prompt kind {kind!r}")


def _from_doc(doc: dict[str, Any]) -> Handover:
    q = dict(doc["enqueue"])
    q["skills"] = tuple(str(s) for s in q.get("skills", ()))
    q["announcements"] = tuple(_prompt(dict(p)) for p in q.get("announcements", ()))
    return Handover(
        call_id=str(doc["call_id"]),
        origin=str(doc["origin"]),
        enqueue=ivr.Enqueue(**q),
        enqueued_at=float(doc["enqueued_at"]),
        issued_at=float(doc["issued_at"]),
        caller=str(doc.get("caller", "")),
        screen_pop={str(k): str(v) for k, v in dict(doc.get("screen_pop", {})).items()},
        dialed=str(doc.get("dialed", "")),
    )
