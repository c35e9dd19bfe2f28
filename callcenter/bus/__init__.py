"""The event bus: what just happened, for wallboards, integrations and other engine nodes.

``InProcessBus`` is the embedded default; ``MqttBus`` publishes to a broker with QoS 1. Both
implement :class:`EventBus`; payloads are versioned pydantic models (``events``) from which the
AsyncAPI catalogue in ``docs/events.asyncapi.yaml`` is generated (``catalogue``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from callcenter.bus.base import BusStats, EventBus
from callcenter.bus.events import (
    PAYLOADS,
    AgentState,
    CallUpdate,
    CampaignStats,
    Envelope,
    EventPayload,
    Message,
    QueueStats,
)
from callcenter.bus.inprocess import InProcessBus
from callcenter.bus.mqtt import MqttBus
from callcenter.bus.topics import matches, topic

if TYPE_CHECKING:
    from callcenter.config import Settings

__all__ = [
    "PAYLOADS",
    "AgentState",
    "BusStats",
    "CallUpdate",
    "CampaignStats",
    "Envelope",
    "EventBus",
    "EventPayload",
    "InProcessBus",
    "Message",
    "MqttBus",
    "QueueStats",
    "build_bus",
    "matches",
    "topic",
]


def build_bus(settings: Settings) -> EventBus:
    """The bus the settings ask for (not started)."""
    b = settings.bus
    if b.kind == "mqtt":
        m = b.mqtt
        return MqttBus(
            settings.tenant,
            m.host,
            m.port,
            username=m.username,
            password=m.password.get_secret_value() if m.password else None,
            tls=m.tls,
            client_id=m.client_id,
            keepalive_s=m.keepalive_s,
            buffer_size=b.buffer_size,
            reconnect_min_s=b.reconnect_min_s,
            reconnect_max_s=b.reconnect_max_s,
        )
    return InProcessBus(settings.tenant, b.buffer_size)
