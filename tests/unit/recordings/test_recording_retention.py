"""The retention policy's choice of what is due: pure, so checked here for every case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.recordings.retention import FINISHED, RecordingFacts, RetentionPolicy, due, is_due

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
POLICY = RetentionPolicy(30)
OLD = NOW - timedelta(days=31)


def test_finished_old_unheld_recordings_are_due_and_nothing_else() -> None:
    recs = [RecordingFacts(1, "done", OLD, False), RecordingFacts(2, "failed", OLD, False),
            RecordingFacts(3, "done", OLD, True), RecordingFacts(4, "recording", None, False),
            RecordingFacts(5, "paused", OLD, False), RecordingFacts(6, "deleted", OLD, False),
            RecordingFacts(7, "done", NOW - timedelta(days=29), False),
            RecordingFacts(8, "done", OLD.replace(tzinfo=None), False)]  # SQLite: naive UTC
    assert due(recs, POLICY, NOW) == [1, 2, 8]


def test_the_boundary_is_exclusive_and_the_policy_says_itself() -> None:
    assert not is_due(RecordingFacts(1, "done", POLICY.cutoff(NOW), False), POLICY, NOW)
    assert is_due(RecordingFacts(1, "done", POLICY.cutoff(NOW) - timedelta(microseconds=1),
                                 False), POLICY, NOW)
    assert POLICY.describe() == "retention policy: recordings are kept 30 days"
    with pytest.raises(ValueError, match="1 day or more"):
        RetentionPolicy(0)


facts = st.builds(
    RecordingFacts,
    id=st.integers(1, 10_000),
    status=st.sampled_from(["recording", "paused", "done", "failed", "deleted"]),
    ended_at=st.none() | st.datetimes(min_value=datetime(2020, 1, 1),
                                      max_value=datetime(2027, 1, 1), timezones=st.just(UTC)),
    held=st.booleans(),
)


@given(st.lists(facts, max_size=30, unique_by=lambda r: r.id), st.integers(1, 3650))
def test_a_held_running_or_recent_recording_is_never_due(recs: list[RecordingFacts],
                                                         days: int) -> None:
    policy = RetentionPolicy(days)
    chosen = set(due(recs, policy, NOW))
    for rec in recs:
        finished_long_ago = (rec.status in FINISHED and rec.ended_at is not None
                             and rec.ended_at < policy.cutoff(NOW))
        assert (rec.id in chosen) == (finished_long_ago and not rec.held)
    # A longer policy never makes more due.
    assert set(due(recs, RetentionPolicy(days + 1), NOW)) <= chosen
