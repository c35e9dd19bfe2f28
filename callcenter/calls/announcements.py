"""What a caller waiting in a queue is told: position and estimated wait, in words.

One text for both voice layers (SIP speaks it with espeak-ng, Twilio with ``<Say>``).
"""

from __future__ import annotations

from callcenter import ivr


def queue_announcement(q: ivr.Enqueue, position: int, estimated_wait_s: float | None) -> str:
    """The sentence for an ACD ``AnnouncePosition``; empty when the queue node wants neither."""
    parts = []
    if q.announce_position:
        parts.append(f"You are number {position} in the queue.")
    if q.announce_wait_time and estimated_wait_s is not None:
        minutes = max(1, round(estimated_wait_s / 60))
        parts.append(f"Your estimated wait is about {minutes} minute{'s' if minutes > 1 else ''}.")
    return " ".join(parts)
