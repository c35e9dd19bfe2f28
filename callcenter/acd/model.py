"""The configuration the ACD routes by: queues, agents, channels, overflow and tiers.

These are plain frozen dataclasses, built by the adapters from pydantic settings or the
database. ``validate_config`` checks that a set of queues and agents can work together and
raises :class:`ACDConfigError` saying what to change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from .errors import ACDConfigError
from .strategies import Strategy


class Channel(StrEnum):
    """What kind of task: each channel has its own per-agent capacity."""

    VOICE = "voice"
    CHAT = "chat"
    TICKET = "ticket"


class AgentState(StrEnum):
    """What the agent is doing, as the router sees it (published on the bus)."""

    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    OFFERED = "offered"
    BUSY = "busy"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class ReportedState(StrEnum):
    """What the voice layer says the agent's phone is doing (``AgentStateReported``)."""

    IDLE = "idle"
    RINGING = "ringing"
    IN_CALL = "in_call"
    OFFLINE = "offline"


class OverflowKind(StrEnum):
    QUEUE = "queue"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"
    TICKET = "ticket"


@dataclass(frozen=True, slots=True)
class OverflowTarget:
    """Where a task goes when its queue is full, waited too long or has nobody to serve it.

    ``QUEUE`` moves the task to ``queue`` keeping its original enqueue time; ``CALLBACK``
    keeps the task in its place as a callback (fair virtual hold); ``VOICEMAIL`` and
    ``TICKET`` end the task in the router (the adapter records the message or opens a ticket).
    """

    kind: OverflowKind
    queue: str | None = None

    def __post_init__(self) -> None:
        if (self.kind is OverflowKind.QUEUE) != (self.queue is not None):
            raise ACDConfigError(
                f"overflow target {self.kind.value}",
                "a queue name is required for kind 'queue' and only for it",
                "write OverflowTarget(OverflowKind.QUEUE, 'other-queue') or drop the queue name",
            )


@dataclass(frozen=True, slots=True)
class PenaltyRule:
    """After a task has waited ``after_s`` seconds, agents up to ``max_penalty`` may take it."""

    after_s: float
    max_penalty: int


def _frozen(mapping: Mapping[str, int] | None = None) -> Mapping[str, int]:
    return MappingProxyType(dict(mapping or {}))


DEFAULT_CAPACITY: Mapping[Channel, int] = MappingProxyType(
    {Channel.VOICE: 1, Channel.CHAT: 3, Channel.TICKET: 5}
)


@dataclass(frozen=True)
class QueueConfig:
    """One queue: who may answer its tasks and what happens while they wait.

    ``priority`` ranks queues for an agent in several of them (higher first).
    ``max_penalty`` limits which agent tiers serve a fresh task (None: all tiers, lower
    penalty first); ``penalty_rules`` widen that limit as the task waits.
    ``age_rate`` is priority points gained per second waited (priority ageing).
    ``expected_handle_s`` seeds the handle-time average used by the wait estimate.
    """

    name: str
    strategy: Strategy = Strategy.LONGEST_IDLE
    channel: Channel = Channel.VOICE
    required_skills: Mapping[str, int] = field(default_factory=_frozen)
    priority: int = 0
    sl_threshold_s: float = 20.0
    max_wait_s: float | None = None
    max_length: int | None = None
    overflow: OverflowTarget | None = None
    join_when_empty: bool = True
    leave_when_empty: bool = False
    wrap_up_s: float = 0.0
    no_answer_timeout_s: float = 15.0
    retry_delay_s: float = 5.0
    announce_every_s: float | None = None
    max_penalty: int | None = None
    penalty_rules: tuple[PenaltyRule, ...] = ()
    age_rate: float = 0.0
    expected_handle_s: float = 180.0

    def allowed_penalty(self, waited_s: float) -> float:
        """The highest agent penalty that may serve a task after ``waited_s`` seconds."""
        if self.max_penalty is None:
            return float("inf")
        allowed = float(self.max_penalty)
        for rule in self.penalty_rules:
            if waited_s >= rule.after_s and rule.max_penalty > allowed:
                allowed = float(rule.max_penalty)
        return allowed


@dataclass(frozen=True)
class AgentProfile:
    """One agent: queue memberships with penalty, skills, capacity per channel.

    ``max_no_answers``: consecutive unanswered offers before auto-pause (0: never).
    ``reject_delay_s``: how long an agent who refused an offer gets no new one.
    ``wrap_up_s`` overrides the queue's wrap-up time for this agent when set.
    """

    agent_id: str
    queues: Mapping[str, int] = field(default_factory=_frozen)
    skills: Mapping[str, int] = field(default_factory=_frozen)
    capacity: Mapping[Channel, int] = field(default_factory=lambda: DEFAULT_CAPACITY)
    weight: float = 1.0
    max_no_answers: int = 3
    reject_delay_s: float = 10.0
    wrap_up_s: float | None = None

    def has_skills(self, required: Iterable[tuple[str, int]]) -> bool:
        skills = self.skills
        return all(skills.get(name, -1) >= level for name, level in required)


def validate_config(queues: Iterable[QueueConfig], agents: Iterable[AgentProfile]) -> None:
    """Raise :class:`ACDConfigError` if these queues and agents cannot work together."""
    by_name: dict[str, QueueConfig] = {}
    for q in queues:
        if q.name in by_name:
            raise ACDConfigError(f"queue {q.name!r}", "defined twice", "give each queue one name")
        by_name[q.name] = q
    for q in by_name.values():
        subject = f"queue {q.name!r}"
        needs_target = [
            reason
            for reason, on in (
                ("max_wait_s", q.max_wait_s is not None),
                ("max_length", q.max_length is not None),
                ("join_when_empty=False", not q.join_when_empty),
                ("leave_when_empty=True", q.leave_when_empty),
            )
            if on
        ]
        if needs_target and q.overflow is None:
            raise ACDConfigError(
                subject,
                f"{', '.join(needs_target)} needs somewhere to send tasks",
                "set overflow=OverflowTarget(...)",
            )
        if (
            q.overflow is not None
            and q.overflow.kind is OverflowKind.QUEUE
            and q.overflow.queue not in by_name
        ):
            raise ACDConfigError(
                subject,
                f"overflows to unknown queue {q.overflow.queue!r}",
                "define that queue or choose another target",
            )
        if q.no_answer_timeout_s <= 0 or q.sl_threshold_s <= 0:
            raise ACDConfigError(
                subject, "timeouts must be positive", "set no_answer_timeout_s, sl_threshold_s > 0"
            )
        if q.age_rate < 0:
            raise ACDConfigError(subject, "age_rate is negative", "use 0 or a positive rate")
        if q.announce_every_s is not None and q.announce_every_s <= 0:
            raise ACDConfigError(
                subject, "announce_every_s must be positive", "use None to turn it off"
            )
    _check_overflow_cycles(by_name)
    seen: set[str] = set()
    for a in agents:
        subject = f"agent {a.agent_id!r}"
        if a.agent_id in seen:
            raise ACDConfigError(subject, "defined twice", "give each agent one profile")
        seen.add(a.agent_id)
        for qname in a.queues:
            if qname not in by_name:
                raise ACDConfigError(
                    subject, f"member of unknown queue {qname!r}", "define the queue or drop it"
                )
        if a.weight <= 0:
            raise ACDConfigError(subject, "weight must be positive", "use a weight > 0")
        if any(c < 0 for c in a.capacity.values()):
            raise ACDConfigError(subject, "negative capacity", "use 0 to refuse a channel")


def _check_overflow_cycles(queues: Mapping[str, QueueConfig]) -> None:
    for start in queues:
        seen = [start]
        q = queues[start]
        while q.overflow is not None and q.overflow.kind is OverflowKind.QUEUE:
            nxt = q.overflow.queue
            assert nxt is not None
            if nxt in seen:
                raise ACDConfigError(
                    f"queue {start!r}",
                    f"overflow loops back: {' -> '.join([*seen, nxt])}",
                    "end the chain in voicemail, callback or ticket",
                )
            seen.append(nxt)
            q = queues[nxt]
