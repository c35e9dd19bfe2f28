"""Which engine nodes share this database, and whether each is up, stopped or lost.

Every node with ``cluster.enabled`` keeps a row in ``cluster_nodes``
(:mod:`callcenter.store.nodes`): written at start, a heartbeat every ``lease_s / 3`` seconds
with the calls it has up, and ``stopped_at`` when it stops cleanly. :func:`condition` reads a
row against the clock (pure): a node not heard from for ``lease_s`` (the time a leader's
lease would expire) is **lost**: it died, hangs, or cannot reach the database.
``GET /api/cluster`` and ``callcenter cluster status`` list the nodes (docs/cluster.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import callcenter
from callcenter.store import Database
from callcenter.store.models import as_utc
from callcenter.store.nodes import ClusterNode, all_nodes, seen, started, stopped

log = logging.getLogger(__name__)

Condition = Literal["up", "stopped", "lost"]


@dataclass(frozen=True)
class Member:
    """A node as its row says, and its condition at the time of reading."""

    node: str
    condition: Condition
    sip_uri: str | None
    http_url: str | None
    version: str
    started_at: datetime
    seen_at: datetime
    stopped_at: datetime | None
    calls: int  # up at its last heartbeat (0 once stopped)


def condition(seen_at: datetime, stopped_at: datetime | None, now: datetime,
              lost_after_s: float) -> Condition:
    if stopped_at is not None:
        return "stopped"
    return "lost" if (now - seen_at).total_seconds() > lost_after_s else "up"


def members(rows: list[ClusterNode], now: datetime, lost_after_s: float) -> list[Member]:
    out = []
    for r in rows:
        stopped_at = as_utc(r.stopped_at) if r.stopped_at is not None else None
        seen_at = as_utc(r.seen_at)
        out.append(Member(r.node, condition(seen_at, stopped_at, now, lost_after_s), r.sip_uri,
                          r.http_url, r.version, as_utc(r.started_at), seen_at, stopped_at,
                          r.calls))
    return out


async def read_members(db: Database, lost_after_s: float,
                       now: datetime | None = None) -> list[Member]:
    rows = await db.run(all_nodes)
    return members(rows, now or datetime.now(UTC), lost_after_s)


class Heartbeat:
    """This node's row: written at :meth:`start`, renewed every ``interval_s`` with
    ``calls()``, marked stopped at :meth:`stop`. A database that does not answer is logged
    (once per outage) and tried again at the next beat; nothing else waits on it."""

    def __init__(self, db: Database, node: str, interval_s: float, calls: Callable[[], int],
                 *, sip_uri: str | None = None, http_url: str | None = None) -> None:
        self.db, self.node, self.interval_s, self.calls = db, node, interval_s, calls
        self.sip_uri, self.http_url = sip_uri, http_url
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self._written = False  # the start row is in

    async def start(self) -> None:
        self._written = False  # a (re)start: its start time and figures written anew
        await self._beat()
        self._task = asyncio.create_task(self._run(), name=f"heartbeat-{self.node}")

    async def advertise_http(self, http_url: str) -> None:
        """The node's HTTP address, known once it listens (``http.port`` 0): written now,
        not at the next beat."""
        self.http_url = http_url
        await self._beat()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await asyncio.wait_for(self.db.run(
                lambda s: stopped(s, self.node, datetime.now(UTC))), self.interval_s)
        except Exception as exc:  # noqa: BLE001 - the others see it lost instead
            log.warning("cluster: could not mark node %s stopped (%s): the other nodes will "
                        "list it as lost", self.node, exc)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self._beat()

    async def _beat(self) -> None:
        now, calls = datetime.now(UTC), self.calls()
        try:
            if self._written:
                self._written = await self.db.run(lambda s: seen(
                    s, self.node, now, calls, sip_uri=self.sip_uri, http_url=self.http_url))
            if not self._written:  # first, or its row was removed meanwhile
                await self.db.run(lambda s: started(
                    s, self.node, now, version=callcenter.__version__, sip_uri=self.sip_uri,
                    http_url=self.http_url, calls=calls))
                self._written = True
        except Exception as exc:  # noqa: BLE001 - logged, tried again at the next beat
            if not self._failing:
                log.error("cluster: node %s's heartbeat failed (%s); trying again every "
                          "%g s (the other nodes list it as lost meanwhile): check "
                          "CALLCENTER_DATABASE__URL and that the database is running",
                          self.node, exc, self.interval_s)
                self._failing = True
            return
        if self._failing:
            log.warning("cluster: node %s's heartbeat reaches the database again", self.node)
            self._failing = False
