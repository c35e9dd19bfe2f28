"""The engine's periodic purge (``[recordings] retention_days``, every ``purge_interval_s``).

One task, created by :meth:`RetentionService.start` and cancelled by :meth:`stop`; each run
happens in a worker thread (it deletes files and writes rows). A run that fails is logged and
the next one tries again. Several nodes may run it on one database (see
:mod:`~callcenter.recordings.purge`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from callcenter.recordings.purge import Purged, purge
from callcenter.recordings.retention import RetentionPolicy
from callcenter.store import Database

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RetentionService:
    def __init__(self, db: Database, policy: RetentionPolicy, interval_s: float,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self.db, self.policy, self.interval_s, self.clock = db, policy, interval_s, clock
        self.runs = 0
        self.deleted: list[Purged] = []  # by this node since start
        self._task: asyncio.Task[None] | None = None
        self._purging: asyncio.Future[list[Purged]] | None = None

    async def start(self) -> None:
        log.info("recordings: %s, purged every %.0f s", self.policy.describe(), self.interval_s)
        self._task = asyncio.create_task(self._run(), name="recording-retention")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self._purging is not None:  # a thread cannot be cancelled: let it finish before
            with contextlib.suppress(Exception):  # the engine closes the database under it
                await self._purging

    async def _run(self) -> None:
        while True:
            self._purging = asyncio.ensure_future(
                asyncio.to_thread(purge, self.db, self.policy, self.clock()))
            try:
                self.deleted += await asyncio.shield(self._purging)
            except Exception:  # a database away for a while: the next run tries again
                log.exception("recordings: the retention purge failed; retrying in %.0f s",
                              self.interval_s)
            self._purging = None
            self.runs += 1
            await asyncio.sleep(self.interval_s)
