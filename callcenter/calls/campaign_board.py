"""The outbound campaigns as the bus last told them: every node's running campaigns for the
supervisors' console and wallboards, whichever node runs each.

Pure, as :mod:`callcenter.calls.desks` is: :meth:`CampaignBoard.apply` takes one bus message
(``campaign.stats`` on ``cc/<tenant>/campaigns/<name>/stats``, retained, published by the node
that holds the campaign's lease) and returns the campaign's name when its figures changed. A
message older than the one kept (a node that lost the campaign and spoke late) is ignored, as
is one that is not JSON, not of a known schema or not valid: a console must not fall over on
another node's newer or broken event. :meth:`CampaignBoard.view` gives the campaigns running
or paused, each with the node that runs it, the age of its figures, and ``stale`` when a
running campaign's node has not spoken for three heartbeats (it died: another node takes the
campaign over when its lease expires).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from callcenter.bus.events import CampaignStats, Envelope, Message

#: States a console shows (a completed or stopped campaign leaves the board).
SHOWN = ("running", "paused")
STALE_HEARTBEATS = 3


@dataclass(frozen=True)
class _Told:
    stats: CampaignStats
    at: datetime


class CampaignBoard:
    def __init__(self) -> None:
        self._told: dict[str, _Told] = {}

    def apply(self, message: Message) -> str | None:
        """Take one bus message; the campaign whose figures changed, if any."""
        try:
            envelope = Envelope.model_validate_json(message.body)
            if envelope.schema_name != CampaignStats.schema_name:
                return None
            stats = CampaignStats.model_validate(envelope.data)
        except (ValidationError, ValueError):
            return None
        kept = self._told.get(stats.campaign)
        if kept is not None and (envelope.ts < kept.at or kept.stats == stats):
            return None
        self._told[stats.campaign] = _Told(stats, envelope.ts)
        return stats.campaign

    def view(self, now: datetime) -> list[dict[str, Any]]:
        """The running and paused campaigns by name, as JSON-ready dicts: the figures, the
        node, ``as_of_s`` (their age at ``now``) and ``stale``."""
        out = []
        for name in sorted(self._told):
            told = self._told[name]
            if told.stats.state not in SHOWN:
                continue
            age = max(0.0, (now - told.at).total_seconds())
            out.append({
                **told.stats.model_dump(mode="json", exclude={"heartbeat_s"}),
                "as_of_s": round(age, 1),
                "stale": told.stats.state == "running"
                and age > STALE_HEARTBEATS * told.stats.heartbeat_s,
            })
        return out
