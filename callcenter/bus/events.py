"""The payloads the bus carries: versioned, typed, and the source of the event catalogue.

Each payload class names its topic (relative to ``cc/<tenant>/``), whether the broker keeps the
last one (retained state such as an agent's state or a queue's statistics), and its schema
version. On the wire every message is an :class:`Envelope` in JSON: consumers key on
``event_id`` to stay idempotent under QoS 1's at-least-once delivery.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from callcenter.bus.topics import topic
from callcenter.ids import new_id


class EventPayload(BaseModel):
    """Base of every payload. Subclasses set ``schema_name``, ``topic_template`` and ``retain``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_name: ClassVar[str]
    schema_version: ClassVar[int] = 1
    topic_template: ClassVar[str]
    retain: ClassVar[bool] = False
    summary: ClassVar[str] = ""

    def topic_levels(self) -> list[str]:
        return self.topic_template.format(**self.model_dump()).split("/")


class CallUpdate(EventPayload):
    """A call started, moved (IVR node, queue, agent, transfer), ended or got its disposition."""

    schema_name: ClassVar[str] = "call.update"
    topic_template: ClassVar[str] = "calls/{call_id}"
    summary: ClassVar[str] = "What just happened to one call: its life from start to CDR."

    call_id: str
    kind: Literal[
        "started",
        "ivr",
        "queued",
        "offered",
        "connected",
        "transferred",
        "held",
        "resumed",
        "abandoned",
        "ended",
        "dispositioned",
    ]
    direction: Literal["inbound", "outbound", "internal"] = "inbound"
    voice_layer: Literal["sip", "twilio"] = "sip"
    caller: str = ""
    dialed: str = ""
    queue: str | None = None
    agent_id: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class AgentState(EventPayload):
    """An agent's state and why it changed (retained: a new wallboard sees it at once)."""

    schema_name: ClassVar[str] = "agent.state"
    topic_template: ClassVar[str] = "agents/{agent_id}/state"
    retain: ClassVar[bool] = True
    summary: ClassVar[str] = "The current state of one agent, with the reason for the change."

    agent_id: str
    state: Literal["logged_out", "available", "offered", "busy", "wrap_up", "paused"]
    reason: str = ""
    since: datetime
    call_id: str | None = None


class QueueStats(EventPayload):
    """Live statistics of one queue (retained)."""

    schema_name: ClassVar[str] = "queue.stats"
    topic_template: ClassVar[str] = "queues/{queue}/stats"
    retain: ClassVar[bool] = True
    summary: ClassVar[str] = "Live figures of one queue since the start of the day."

    queue: str
    waiting: int = 0
    longest_wait_s: float = 0.0
    agents_staffed: int = 0
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    overflowed: int = 0
    service_level_pct: float | None = None
    asa_s: float | None = None
    aht_s: float | None = None
    abandon_pct: float | None = None


class TicketUpdate(EventPayload):
    """A back-office ticket was created, changed, answered, merged or breached its SLA.

    Published only after the change is committed to the database, so a consumer that reads
    the ticket back on this event always finds it.
    """

    schema_name: ClassVar[str] = "ticket.update"
    topic_template: ClassVar[str] = "tickets/{ticket_id}"
    summary: ClassVar[str] = "What just happened to one back-office ticket."

    ticket_id: str = Field(pattern=r"^T-[0-9]+$")
    kind: Literal[
        "created",
        "message",
        "status",
        "assigned",
        "updated",
        "merged",
        "priority_raised",
        "sla_breached",
        "callback_offered",
    ]
    status: Literal["new", "open", "pending_customer", "resolved", "closed"]
    priority: Literal["low", "normal", "high", "urgent"]
    category: str = ""
    channel: Literal["phone", "email", "chat", "web"] = "phone"
    customer: str = ""
    agent_id: str | None = None
    sla_due_at: datetime | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class CampaignStats(EventPayload):
    """Live figures of one outbound campaign from the node that runs it (retained).

    Published when its figures change (at most about once a second), at least every
    ``heartbeat_s`` while it runs, and once more with its new state when it stops running on
    that node (paused, completed, stopped). A ``running`` message older than a few heartbeats
    is stale: its node stopped publishing (it died; another node takes the campaign over and
    publishes within its lease time).
    """

    schema_name: ClassVar[str] = "campaign.stats"
    topic_template: ClassVar[str] = "campaigns/{campaign}/stats"
    retain: ClassVar[bool] = True
    summary: ClassVar[str] = "Live figures of one outbound campaign, from the node running it."

    campaign: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    node: str
    state: Literal["draft", "running", "paused", "completed", "stopped"]
    dial_mode: Literal["preview", "progressive", "predictive", "agentless"]
    dialed: int = 0
    answered_human: int = 0
    answered_machine: int = 0
    abandoned: int = 0
    abandon_pct: float | None = Field(None, description="abandoned / live answered, in %")
    abandon_target_pct: float
    lines_in_flight: int = 0
    max_lines: int
    leads_pending: int = 0
    heartbeat_s: float = Field(description="The longest gap between two messages while the "
                               "campaign runs.")


PAYLOADS: tuple[type[EventPayload], ...] = (
    CallUpdate, AgentState, QueueStats, TicketUpdate, CampaignStats,
)


class Envelope(BaseModel):
    """What goes on the wire: the payload wrapped with its schema, version, id and time."""

    model_config = ConfigDict(frozen=True)

    schema_name: str = Field(alias="schema")
    version: int
    event_id: str
    tenant: str
    ts: datetime
    data: dict[str, Any]

    @classmethod
    def wrap(cls, tenant: str, payload: EventPayload, now: datetime | None = None) -> Envelope:
        return cls(
            schema=payload.schema_name,
            version=payload.schema_version,
            event_id=new_id(),
            tenant=tenant,
            ts=now or datetime.now(UTC),
            data=payload.model_dump(mode="json"),
        )

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


class Message(BaseModel):
    """One message on the bus: a concrete topic, the JSON body and the retain flag."""

    model_config = ConfigDict(frozen=True)

    topic: str
    body: bytes
    retain: bool = False

    @classmethod
    def of(cls, tenant: str, payload: EventPayload, now: datetime | None = None) -> Message:
        envelope = Envelope.wrap(tenant, payload, now)
        return cls(
            topic=topic(tenant, *payload.topic_levels()),
            body=envelope.to_json(),
            retain=payload.retain,
        )

    def envelope(self) -> Envelope:
        return Envelope.model_validate_json(self.body)
