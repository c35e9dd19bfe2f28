"""Who leads the ACD: one engine node per tenant at a time, chosen by a lease in the database.

Several engine nodes share one database; the ACD (queues, agents) runs on one of them, the
*leader*, and the others hand their callers over to it (:mod:`callcenter.cluster.handover`).
The leader holds the ``acd`` row of ``node_leases`` (:mod:`callcenter.store.leases`: term
fenced, one holder at a time) with the addresses the others reach it at (``sip_uri``,
``http_url``).

:class:`AcdLeadership` is the service each node runs: every ``poll_s`` it renews the lease
while it holds it, takes it when nobody holds an unexpired one (so when the leader dies, a
node takes over ``lease_s`` later; when it stops, at once), and otherwise reads who holds it.
It tells ``on_change(old, new)`` when the leader (node or term) changes. A leader whose lease
could not be renewed stops claiming the lead by itself ``min(5 s, lease_s / 3)`` before the
lease it last renewed expires (the *fence*, as the dialer's runners do), so no two nodes lead
at once, even when the database went away or this node's loop stalled.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy.orm import Session

from callcenter.store import Database
from callcenter.store import leases as term_leases
from callcenter.store.leases import NodeLease
from callcenter.store.models import as_utc, utcnow

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The ``node_leases`` row of the ACD's leader.
ACD = "acd"


@dataclass(frozen=True)
class Leader:
    """The node leading the ACD in ``term`` (1 for the first leader, one more at each
    take-over) until ``expires_at`` unless renewed, and where other nodes reach it."""

    node: str
    term: int
    sip_uri: str | None
    http_url: str | None
    expires_at: datetime


#: Told ``(old, new)`` when the leader changes; ``None``: no leader (or not known).
OnChange = Callable[[Leader | None, Leader | None], Awaitable[None]]


def _leader(row: NodeLease) -> Leader:
    return Leader(row.node, row.term, row.sip_uri, row.http_url, as_utc(row.expires_at))


def last_lease(session: Session, name: str = ACD) -> Leader | None:
    """The lease ``name`` as last written, expired or not (``None``: never taken)."""
    row = session.get(NodeLease, name)
    return None if row is None else _leader(row)


def read_leader(session: Session, now: datetime, name: str = ACD) -> Leader | None:
    """Who holds the lease ``name`` at ``now`` (an unexpired lease), if anyone."""
    row = term_leases.unexpired(session, NodeLease, {"name": name}, now)
    return None if row is None else _leader(row)


def take_or_read(session: Session, node: str, now: datetime, ttl_s: float,
                 sip_uri: str | None, http_url: str | None, name: str = ACD) -> Leader | None:
    """The leader at ``now``: the node holding an unexpired lease, else ``node`` once it took
    the lease (``None`` only when another node took it at that very moment)."""
    held = read_leader(session, now, name)
    if held is not None and held.node != node:
        return held
    term = term_leases.take(session, NodeLease, {"name": name}, node, now, ttl_s,
                            sip_uri=sip_uri, http_url=http_url)
    if term is None:
        return read_leader(session, now, name)
    return Leader(node, term, sip_uri, http_url, now + timedelta(seconds=ttl_s))


def renew(session: Session, lease: Leader, now: datetime, ttl_s: float,
          name: str = ACD, *, http_url: str | None = None) -> Leader | None:
    """The lease pushed on to ``now + ttl_s``, or ``None`` when it was lost (another node
    took it over after it expired). ``http_url``: the holder's HTTP address written too (known
    only once its server listens, after the lease was taken)."""
    expires = now + timedelta(seconds=ttl_s)
    details = {} if http_url is None else {"http_url": http_url}
    if not term_leases.expire_held(session, NodeLease, {"name": name}, lease.node, lease.term,
                                   expires, **details):
        return None
    return Leader(lease.node, lease.term, lease.sip_uri, http_url or lease.http_url, expires)


def release(session: Session, lease: Leader, now: datetime, name: str = ACD) -> bool:
    """Give the lease back (it expires now, any node may take it at once); ``False`` when it
    was no longer held."""
    return term_leases.expire_held(session, NodeLease, {"name": name}, lease.node, lease.term,
                                   now)


def _same(a: Leader | None, b: Leader | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a.node, a.term) == (b.node, b.term)


class AcdLeadership:
    """This node's part in choosing the ACD's leader; the engine starts and stops it.

    ``leader`` is the last leader known (this node or another); ``is_leader`` is true only
    while this node holds the lease in its term, up to the fence. ``on_change`` must not
    await :meth:`refresh` (it would wait for itself; it gets the leader known then).
    """

    def __init__(self, db: Database, node: str, *, sip_uri: str | None = None,
                 http_url: str | None = None, lease_s: float = 15.0, poll_s: float = 2.0,
                 on_change: OnChange | None = None, clock: Callable[[], datetime] = utcnow,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if not node or len(node) > 128:
            raise ValueError(f"the node name {node!r} must have 1 to 128 characters (set "
                             "CALLCENTER_NODE)")
        if poll_s <= 0:
            raise ValueError(f"the leadership poll ({poll_s:g} s) must be longer than 0 s")
        if lease_s < 3 * poll_s:
            raise ValueError(f"the ACD leader's lease ({lease_s:g} s) must last at least three "
                             f"polls ({3 * poll_s:g} s) to be renewed in time")
        self.db = db
        self.sip_uri = sip_uri
        self.http_url = http_url
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.on_change = on_change
        self.clock = clock
        self.monotonic = monotonic
        self._node = node
        self._held: Leader | None = None  # this node's lease, while it holds it
        self._fence_at: float | None = None  # monotonic; stop leading then unless renewed
        self._leader: Leader | None = None
        self._lock = asyncio.Lock()
        self._telling: asyncio.Task[object] | None = None  # the task awaiting on_change
        self._failing = False  # the database failed on the last poll (logged once)
        self._task: asyncio.Task[None] | None = None

    @property
    def node(self) -> str:
        return self._node

    @property
    def fence_margin_s(self) -> float:
        """How long before its unrenewed lease expires a leader stops leading: room for
        clock skew between nodes and for work already on its way."""
        return min(5.0, self.lease_s / 3)

    @property
    def is_leader(self) -> bool:
        return (self._held is not None and self._fence_at is not None
                and self.monotonic() < self._fence_at)

    @property
    def leader(self) -> Leader | None:
        return self._leader

    async def start(self) -> None:
        """Take or read the lease once (so :attr:`leader` is known), then keep it every
        ``poll_s`` until :meth:`stop`."""
        await self.refresh()
        self._task = asyncio.create_task(self._run(), name="acd-leadership")

    async def stop(self) -> None:
        """Stop polling and give the lease back if held, so another node leads at once."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        async with self._lock:
            held, self._held, self._fence_at = self._held, None, None
            if held is None:
                return
            try:
                await self.db.run(lambda s: release(s, held, self._now()))
                log.info("ACD leadership: this node (%s) gave the lead back (term %d)",
                         self._node, held.term)
            except Exception as exc:
                log.error("ACD leadership: giving the lead back failed (%s); another node "
                          "takes it over when this node's lease expires at %s",
                          _reason(exc), held.expires_at.isoformat())
            await self._set_leader(None)

    async def advertise_http(self, http_url: str) -> None:
        """Where the other nodes reach this node's HTTP API, once its server listens (with
        ``http.port`` 0 the port is known only then): written to the lease now if this node
        holds it, else whenever it takes it."""
        if http_url != self.http_url:
            self.http_url = http_url
            await self.refresh()

    async def refresh(self) -> Leader | None:
        """Renew, take or read the lease now (a handover refused "not the leader": the
        leader may have changed); the leader known afterwards."""
        if self._telling is not None and self._telling is asyncio.current_task():
            return self._leader  # called from on_change: the poll that calls it holds the lock
        async with self._lock:
            await self._poll()
        return self._leader

    def _now(self) -> datetime:
        return self.clock().astimezone(UTC)  # stored and compared in UTC (SQLite has no zones)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._pause())
            async with self._lock:
                await self._poll()

    def _pause(self) -> float:
        """Until the next poll, or the fence if it comes first (to tell on_change then)."""
        if self._fence_at is None:
            return self.poll_s
        return max(0.0, min(self.poll_s, self._fence_at - self.monotonic()))

    async def _poll(self) -> None:
        if self._held is not None and not self.is_leader:
            await self._fenced("its last renewal is too old: was this node's loop stalled?")
        started = self.monotonic()
        now = self._now()
        try:
            if self._held is not None:
                held = self._held
                moved = self.http_url if self.http_url != held.http_url else None
                renewed = await self._db_step(
                    lambda s: renew(s, held, now, self.lease_s, http_url=moved))
                if renewed is not None:
                    self._keep(renewed, started)
                    await self._set_leader(renewed)
                    return
                log.error("ACD leadership: this node (%s) lost the lead: another node took "
                          "it over after its lease (term %d) expired unrenewed", self._node,
                          held.term)
                self._held = self._fence_at = None
            found = await self._db_step(lambda s: take_or_read(
                s, self._node, now, self.lease_s, self.sip_uri, self.http_url))
        except Exception as exc:
            await self._failed(exc)
            return
        if self._failing:
            log.warning("ACD leadership: the database answers again")
            self._failing = False
        if found is not None and found.node == self._node:
            self._keep(found, started)
            log.info("ACD leadership: this node (%s) leads the ACD, term %d", self._node,
                     found.term)
        await self._set_leader(found)

    async def _db_step(self, work: Callable[[Session], T]) -> T:
        """``work`` in one transaction; given up when it would outlast this node's lead (the
        thread runs on, a renewal it makes later only lengthens a lease still held)."""
        budget = self.lease_s
        if self._fence_at is not None:
            budget = max(0.0, self._fence_at - self.monotonic())
        return await asyncio.wait_for(self.db.run(work), timeout=budget)

    def _keep(self, lease: Leader, renewal_started: float) -> None:
        self._held = lease
        self._fence_at = renewal_started + self.lease_s - self.fence_margin_s

    async def _failed(self, exc: BaseException) -> None:
        what = "renewing the ACD lead" if self._held is not None else "reading the ACD leader"
        reason = _reason(exc)
        if self._held is not None and self._fence_at is not None:
            left = self._fence_at - self.monotonic()
            if left > 0:
                self._log_failure(f"ACD leadership: {what} failed ({reason}); retrying every "
                                  f"{self.poll_s:g} s: this node ({self._node}) stops leading "
                                  f"in {left:.1f} s unless the database answers: check "
                                  "CALLCENTER_DATABASE__URL and that the database server is "
                                  "running", exc)
                return
            await self._fenced(reason)
            return
        self._log_failure(f"ACD leadership: {what} failed ({reason}); retrying every "
                          f"{self.poll_s:g} s: check CALLCENTER_DATABASE__URL and that the "
                          "database server is running", exc)

    async def _fenced(self, reason: str) -> None:
        """This node's lease went unrenewed until the fence: stop leading now."""
        assert self._held is not None
        log.error("ACD leadership: this node (%s) stops leading the ACD: its lease (term %d) "
                  "could not be renewed in time (%s); it takes the lead again, or follows "
                  "another node, once the database answers", self._node, self._held.term,
                  reason)
        self._held = self._fence_at = None
        await self._set_leader(None)

    def _log_failure(self, message: str, exc: BaseException) -> None:
        if self._failing:
            log.warning("%s", message)
        else:  # the first failure of an outage with its traceback, the others in one line
            log.error("%s", message, exc_info=exc)
            self._failing = True

    async def _set_leader(self, new: Leader | None) -> None:
        old, self._leader = self._leader, new
        if _same(old, new) or self.on_change is None:
            return
        self._telling = asyncio.current_task()
        try:
            await self.on_change(old, new)
        except Exception:
            log.exception("ACD leadership: on_change (%s -> %s) failed",
                          old.node if old else "no leader", new.node if new else "no leader")
        finally:
            self._telling = None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    text = str(getattr(exc, "orig", None) or exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0]
