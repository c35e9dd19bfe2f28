"""A revision counter that live views wait on instead of polling.

Whoever owns some live state (the ACD, the agents' desks) bumps the revision after each change
with :meth:`Changes.announce`; a watcher (an open Server-Sent Events stream) waits for the
next one with :meth:`Changes.next_change`. When the engine stops, :meth:`Changes.close` wakes
every watcher for good, so an open stream cannot hold up the HTTP server's shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib


class Changes:
    def __init__(self) -> None:
        self.revision = 0
        self.closed = False
        self._changed = asyncio.Event()

    def announce(self) -> None:
        self.revision += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def next_change(self, seen: int, timeout_s: float) -> int:
        """Wait until a change after revision ``seen``, at most ``timeout_s``, or until
        :meth:`close`; return the revision now."""
        if self.revision == seen and not self.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout_s)
        return self.revision

    def close(self) -> None:
        """Wake every :meth:`next_change` for good: the engine is stopping."""
        self.closed = True
        self._changed.set()
