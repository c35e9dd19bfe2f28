"""The campaign board on the event loop: :class:`~callcenter.calls.campaign_board.
CampaignBoard` fed from ``cc/<tenant>/campaigns/+/stats`` (retained), so the console of any
node shows the campaigns every node runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from callcenter.bus import CampaignStats, EventBus, Message
from callcenter.calls.bus_follower import BusFollower
from callcenter.calls.campaign_board import CampaignBoard
from dialer.runner import HEARTBEAT_S, CampaignLive


def publisher(bus: EventBus) -> Callable[[CampaignLive], None]:
    """What a node's campaign runners tell their figures to (``DialerService.on_live``): a
    retained ``campaign.stats`` on ``bus`` that every node's board follows."""

    def publish(live: CampaignLive) -> None:
        bus.publish_event(stats_of(live))

    return publish


def stats_of(live: CampaignLive) -> CampaignStats:
    """A runner's figures as the bus carries them."""
    return CampaignStats(**dataclasses.asdict(live), heartbeat_s=HEARTBEAT_S)


class CampaignBoardService(BusFollower):
    topics = ("campaigns/+/stats",)

    def __init__(self, bus: EventBus) -> None:
        super().__init__(bus)
        self.board = CampaignBoard()

    def apply(self, message: Message) -> bool:
        return self.board.apply(message) is not None

    def live(self) -> list[dict[str, Any]]:
        """The running and paused campaigns now (see :meth:`CampaignBoard.view`)."""
        return self.board.view(datetime.now(UTC))
