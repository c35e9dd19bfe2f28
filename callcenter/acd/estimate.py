"""Estimated wait time announced to a waiting caller.

The estimate is ``position * handle_time / agents``: while every agent of the caller's
skill group is busy, the caller at ``position`` (1 = next) is answered after ``position``
agents have freed. With ``agents`` agents each freeing after one handle time on average,
agents free at a rate of ``agents / handle_time``, so the expected wait for ``position``
departures is ``position * handle_time / agents``. For exponential handle times (the
Erlang C model) this is exact in expectation; the spread around it is that of a sum of
``position`` exponentials, so relative error shrinks as ``1 / sqrt(position)``.

``handle_time`` is the queue's moving average of talk + wrap-up time (see ``stats``);
``agents`` counts the group's agents logged in and not paused. Callers ahead who abandon
make the real wait shorter: the estimate errs on the long side. The error measured
against a simulated truth is in ``docs/acd.md`` and checked by
``tests/unit/acd/test_estimate.py``.
"""

from __future__ import annotations


def estimate_wait(position: int, handle_time_s: float, agents: int) -> float | None:
    """Seconds the caller at ``position`` can expect to wait; None if no agent is staffed."""
    if agents <= 0:
        return None
    if position <= 0:
        return 0.0
    return position * handle_time_s / agents
