"""The retention policy and which recordings it makes due for deletion; pure (time comes in
as ``now``).

A recording is due when it is finished (``done``, or ``failed``: a part-file holds personal
data too), ended before ``now - days``, is not on legal hold and is not deleted already. A
recording still being made (``recording``, ``paused``) is never due, however old.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

#: Statuses of a recording whose file is complete (or given up on): retention applies.
FINISHED = ("done", "failed")


@dataclass(frozen=True)
class RetentionPolicy:
    """Keep recordings ``days`` days after they end (``[recordings] retention_days``)."""

    days: int

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError(f"retention of {self.days} days: give 1 day or more")

    def cutoff(self, now: datetime) -> datetime:
        """Recordings that ended before this are due."""
        return now - timedelta(days=self.days)

    def describe(self) -> str:
        """The reason written in each deletion's audit row."""
        return f"retention policy: recordings are kept {self.days} days"


@dataclass(frozen=True)
class RecordingFacts:
    """What the choice needs to know of a recording."""

    id: int
    status: str
    ended_at: datetime | None
    held: bool


def is_due(rec: RecordingFacts, policy: RetentionPolicy, now: datetime) -> bool:
    if rec.status not in FINISHED or rec.held or rec.ended_at is None:
        return False
    ended = rec.ended_at if rec.ended_at.tzinfo else rec.ended_at.replace(tzinfo=UTC)
    return ended < policy.cutoff(now)


def due(recs: Iterable[RecordingFacts], policy: RetentionPolicy, now: datetime) -> list[int]:
    """The ids of the recordings to delete, in the order given."""
    return [rec.id for rec in recs if is_due(rec, policy, now)]
