"""The router's mutable bookkeeping: tasks, agents, skill groups and queues at run time.

Private: adapters see only events, actions and the statistics snapshots.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from .model import AgentProfile, AgentState, Channel, QueueConfig
from .stats import AgentCounters, QueueCounters
from .strategies import AgentPool, RoundRobinMemory, make_pool
from .waiting import WaitingLine

Skills = tuple[tuple[str, int], ...]


class TaskStatus(Enum):
    WAITING = "waiting"
    OFFERED = "offered"
    CONNECTED = "connected"
    ENDED = "ended"


@dataclass(slots=True, eq=False)
class TaskRecord:
    task_id: str
    queue: QueueRuntime
    priority: int
    extra_skills: Skills
    enqueued_at: float  # first enqueue: keeps the task's place through callbacks/transfers
    seq: int
    callback: bool
    joined_at: float = 0.0  # entry into the current queue: max wait counts from here
    status: TaskStatus = TaskStatus.WAITING
    group: Group | None = None
    line_stamp: int = -1
    join_stamp: int = 0
    offer_stamp: int = 0
    offered_to: list[AgentRecord] = field(default_factory=list)
    agent: AgentRecord | None = None
    connected_at: float = 0.0
    offered_at: float = 0.0
    assigned: bool = False  # given to a named agent (TaskAssigned): not in queue statistics


@dataclass(slots=True)
class Membership:
    """An agent's place in one skill group: tier (penalty), member order, skill score."""

    group: Group
    penalty: int
    position: int
    score: int


@dataclass(slots=True, eq=False)
class AgentRecord:
    profile: AgentProfile
    logged_in: bool = False
    paused: bool = False
    pause_reason: str = ""
    external_busy: bool = False  # the voice layer reports a call the router did not route
    wrap_until: float | None = None
    wrap_started: float = 0.0
    wrap_stamp: int = 0
    wrap_queue: QueueRuntime | None = None
    blocked_until: float | None = None
    block_stamp: int = 0
    offer: TaskRecord | None = None
    load: dict[Channel, int] = field(default_factory=dict)
    tasks: dict[str, TaskRecord] = field(default_factory=dict)
    idle_since: float = 0.0
    no_answer_streak: int = 0
    memberships: list[Membership] = field(default_factory=list)
    channels: tuple[Channel, ...] = ()
    pooled: tuple[Channel, ...] = ()
    calls_by_queue: dict[str, int] = field(default_factory=dict)
    counters: AgentCounters = field(default_factory=AgentCounters)
    state: AgentState = AgentState.LOGGED_OUT

    @property
    def agent_id(self) -> str:
        return self.profile.agent_id

    def capacity(self, channel: Channel) -> int:
        return self.profile.capacity.get(channel, 0)

    def derive_state(self) -> AgentState:
        if not self.logged_in:
            return AgentState.LOGGED_OUT
        if self.offer is not None:
            return AgentState.OFFERED
        if self.tasks:
            return AgentState.BUSY
        if self.wrap_until is not None:
            return AgentState.WRAP_UP
        if self.external_busy:  # on a call the ACD did not route (a direct or preview call)
            return AgentState.BUSY
        if self.paused:
            return AgentState.PAUSED
        return AgentState.AVAILABLE

    def free_channels(self) -> tuple[Channel, ...]:
        """Channels on which the agent could take a new task right now."""
        if (
            not self.logged_in
            or self.paused
            or self.external_busy
            or self.offer is not None
            or self.wrap_until is not None
            or self.blocked_until is not None
        ):
            return ()
        load = self.load
        cap = self.profile.capacity
        return tuple(c for c in self.channels if load.get(c, 0) < cap.get(c, 0))

    def is_staffed(self) -> bool:
        return self.logged_in and not self.paused


class Group:
    """The tasks of one queue needing one set of skills, and the agents who have them."""

    __slots__ = ("queue", "required", "channel", "line", "tiers", "pools", "staffed")

    def __init__(self, queue: QueueRuntime, required: Skills) -> None:
        self.queue = queue
        self.required = required
        self.channel = queue.config.channel
        self.line = WaitingLine(queue.config.age_rate)
        self.tiers: list[int] = []
        self.pools: dict[int, AgentPool] = {}
        self.staffed = 0

    def pool(self, penalty: int) -> AgentPool:
        pool = self.pools.get(penalty)
        if pool is None:
            pool = make_pool(self.queue.config.strategy, self.queue.rng, self.queue.rr_memory)
            self.pools[penalty] = pool
            self.tiers = sorted(self.pools)
        return pool


class QueueRuntime:
    __slots__ = (
        "config",
        "name",
        "members",
        "next_position",
        "groups",
        "counters",
        "rr_memory",
        "rng",
        "announcing",
    )

    def __init__(self, config: QueueConfig, rng: random.Random) -> None:
        self.config = config
        self.name = config.name
        self.members: dict[str, tuple[int, int]] = {}  # agent id -> (penalty, position)
        self.next_position = 0
        self.groups: dict[Skills, Group] = {}
        self.counters = QueueCounters(
            sl_threshold_s=config.sl_threshold_s, handle_ewma_s=config.expected_handle_s
        )
        self.rr_memory = RoundRobinMemory()
        self.rng = rng
        self.announcing = False

    def waiting(self) -> int:
        return sum(len(g.line) for g in self.groups.values())

    def required_with(self, extra: Mapping[str, int] | Skills) -> Skills:
        merged = dict(self.config.required_skills)
        items = extra.items() if isinstance(extra, Mapping) else extra
        for name, level in items:
            if level > merged.get(name, -1):
                merged[name] = level
        return tuple(sorted(merged.items()))
