"""The agents' desks on the event loop: :class:`~callcenter.calls.desks.Desks` fed from the bus.

It follows the tenant's call updates (``cc/<tenant>/calls/+``) and agent states
(``cc/<tenant>/agents/+/state``, retained: a desk knows every agent's state at once), so on
several nodes sharing an MQTT broker each node's desks see the calls of all of them; the agent
desktop's streams wait on :attr:`changes` (:class:`~callcenter.calls.bus_follower.BusFollower`).
"""

from __future__ import annotations

from callcenter.bus import EventBus, Message
from callcenter.calls.bus_follower import BusFollower
from callcenter.calls.desks import Desks


class DeskService(BusFollower):
    topics = ("calls/+", "agents/+/state")

    def __init__(self, bus: EventBus) -> None:
        super().__init__(bus)
        self.desks = Desks()

    def apply(self, message: Message) -> bool:
        return self.desks.apply(message) is not None
