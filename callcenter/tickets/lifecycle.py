"""The ticket life cycle: new, open, pending customer, resolved, closed; reopen and merge.

A :class:`TicketLifecycle` holds one ticket's state and answers each event with the actions
an adapter carries out (store the change, notify, offer a call back), h11 style:
``handle(event, now) -> list[Action]``. It also runs the ticket's SLA clock: running while new
or open, paused otherwise; nearing a target raises the priority once, passing one notifies
supervisors once per target.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from .model import InvalidTransition, Priority, Status
from .sla import SlaClock, SlaPlan, SlaPlans

TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.OPEN, Status.PENDING_CUSTOMER, Status.RESOLVED, Status.CLOSED}),
    Status.OPEN: frozenset({Status.PENDING_CUSTOMER, Status.RESOLVED, Status.CLOSED}),
    Status.PENDING_CUSTOMER: frozenset({Status.OPEN, Status.RESOLVED, Status.CLOSED}),
    Status.RESOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    Status.CLOSED: frozenset({Status.OPEN}),  # only a reopen
}
CLOCK_RUNS = frozenset({Status.NEW, Status.OPEN})
"""While the ticket is in these states its SLA clock runs; otherwise it is paused."""

FIRST_RESPONSE, RESOLUTION = "first_response", "resolution"


# --- state -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketState:
    number: int
    status: Status
    priority: Priority
    clock: SlaClock
    first_response_at: datetime | None = None
    handled_by: str | None = None
    """The agent who last answered or was given the ticket (offered the call back)."""
    merged_into: int | None = None
    priority_raised: bool = False
    sla_priority: Priority | None = None
    """The plan the SLA is measured by when it differs from ``priority``: a raise on nearing
    breach makes the ticket more urgent to route without tightening its own targets."""
    breached: frozenset[str] = frozenset()

    @classmethod
    def new(cls, number: int, priority: Priority, waiting_since: datetime) -> TicketState:
        """A fresh ticket whose SLA clock started when the customer first waited."""
        return cls(number, Status.NEW, priority, SlaClock.started(waiting_since))


# --- events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerWrote:
    """The customer replied (mail, chat, phone): waiting on them ends; a closed case reopens."""


@dataclass(frozen=True)
class AgentReplied:
    agent: str
    awaiting_customer: bool = False
    """The reply asks the customer something: the ticket waits on them (clock paused)."""


@dataclass(frozen=True)
class StatusRequested:
    to: Status
    actor: str


@dataclass(frozen=True)
class Assigned:
    agent: str


@dataclass(frozen=True)
class MergedInto:
    target: int
    actor: str


@dataclass(frozen=True)
class PriorityRequested:
    priority: Priority
    actor: str


@dataclass(frozen=True)
class Escalated:
    """Another escalation added to this open ticket: its priority never goes down."""

    priority: Priority


@dataclass(frozen=True)
class Tick:
    """Time passed: check the SLA targets."""


Event = (
    CustomerWrote
    | AgentReplied
    | StatusRequested
    | Assigned
    | MergedInto
    | PriorityRequested
    | Escalated
    | Tick
)


# --- actions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusChanged:
    number: int
    from_status: Status
    to_status: Status
    reason: str


@dataclass(frozen=True)
class PriorityChanged:
    number: int
    from_priority: Priority
    to_priority: Priority
    reason: str


@dataclass(frozen=True)
class SlaBreached:
    """Notify supervisors: ``target`` was missed (``first_response`` or ``resolution``)."""

    number: int
    target: str
    elapsed_s: float
    target_s: float


@dataclass(frozen=True)
class CallbackOffered:
    """A reopened ticket: offer a call back to the agent who handled it, when available."""

    number: int
    agent: str


@dataclass(frozen=True)
class Merged:
    number: int
    into: int


Action = StatusChanged | PriorityChanged | SlaBreached | CallbackOffered | Merged


# --- the machine -------------------------------------------------------------------------


@dataclass
class TicketLifecycle:
    state: TicketState
    plans: SlaPlans
    _out: list[Action] = field(default_factory=list, init=False, repr=False)

    @property
    def plan(self) -> SlaPlan:
        s = self.state
        return self.plans[s.sla_priority or s.priority]

    def handle(self, event: Event, now: datetime) -> list[Action]:
        """Apply ``event``; raise :class:`InvalidTransition` (state unchanged) when not allowed."""
        before = self.state
        self._out = []
        try:
            self._apply(event, now)
            self._check_sla(now)
        except InvalidTransition:
            self.state = before
            raise
        return self._out

    def due_at(self) -> datetime | None:
        """When the next unmet target falls due while the clock runs; ``None`` when paused."""
        s, plan = self.state, self.plan
        target = plan.first_response_s if s.first_response_at is None else plan.resolution_s
        return s.clock.due(plan.hours, target)

    def elapsed(self, now: datetime) -> float:
        return self.state.clock.elapsed(self.plan.hours, now)

    def _apply(self, event: Event, now: datetime) -> None:
        s = self.state
        if s.merged_into is not None and not isinstance(event, Tick):
            raise InvalidTransition(
                s.number,
                f"merged into T-{s.merged_into}",
                "change it",
                f"work on T-{s.merged_into} instead",
            )
        match event:
            case CustomerWrote():
                if s.status in (Status.RESOLVED, Status.CLOSED):
                    self._move(Status.OPEN, "reopened: the customer replied", now)
                    if s.handled_by is not None:
                        self._out.append(CallbackOffered(s.number, s.handled_by))
                elif s.status is Status.PENDING_CUSTOMER:
                    self._move(Status.OPEN, "the customer replied", now)
            case AgentReplied(agent=agent, awaiting_customer=awaiting):
                self.state = replace(
                    self.state,
                    handled_by=agent,
                    first_response_at=s.first_response_at or now,
                )
                if awaiting and s.status in (Status.NEW, Status.OPEN):
                    self._move(Status.PENDING_CUSTOMER, f"{agent} asked the customer", now)
                elif s.status is Status.NEW:
                    self._move(Status.OPEN, f"{agent} replied", now)
            case StatusRequested(to=to, actor=actor):
                if to is not s.status:
                    self._move(to, f"set by {actor}", now)
            case Assigned(agent=agent):
                self.state = replace(self.state, handled_by=agent)
                if s.status is Status.NEW:
                    self._move(Status.OPEN, f"assigned to {agent}", now)
            case MergedInto(target=target, actor=actor):
                if target == s.number:
                    raise InvalidTransition(
                        s.number,
                        s.status,
                        "merge it into itself",
                        "name another ticket to merge into",
                    )
                if s.status is not Status.CLOSED:
                    self._move(Status.CLOSED, f"merged into T-{target} by {actor}", now)
                self.state = replace(self.state, merged_into=target)
                self._out.append(Merged(s.number, target))
            case PriorityRequested(priority=priority, actor=actor):
                self._set_priority(priority, f"set by {actor}")
                self.state = replace(self.state, sla_priority=None)
            case Escalated(priority=priority):
                if priority.rank > s.priority.rank:
                    self._set_priority(priority, "a further escalation")
            case Tick():
                pass

    def _move(self, to: Status, reason: str, now: datetime) -> None:
        s = self.state
        if to not in TRANSITIONS[s.status]:
            allowed = ", ".join(sorted(TRANSITIONS[s.status])) or "nothing"
            raise InvalidTransition(
                s.number, s.status, f"become {to}", f"from {s.status} it may become: {allowed}"
            )
        hours = self.plan.hours
        clock = s.clock.resume(now) if to in CLOCK_RUNS else s.clock.pause(hours, now)
        self.state = replace(s, status=to, clock=clock)
        self._out.append(StatusChanged(s.number, s.status, to, reason))

    def _set_priority(self, priority: Priority, reason: str) -> None:
        s = self.state
        if priority is s.priority:
            return
        self.state = replace(s, priority=priority)
        self._out.append(PriorityChanged(s.number, s.priority, priority, reason))

    def _check_sla(self, now: datetime) -> None:
        s = self.state
        if s.status not in CLOCK_RUNS:
            return  # a paused clock cannot come nearer to a target
        plan = self.plan
        elapsed = s.clock.elapsed(plan.hours, now)
        targets = []
        if s.first_response_at is None:
            targets.append((FIRST_RESPONSE, plan.first_response_s))
        targets.append((RESOLUTION, plan.resolution_s))
        for name, target_s in targets:
            if elapsed >= target_s and name not in self.state.breached:
                self.state = replace(self.state, breached=self.state.breached | {name})
                self._out.append(SlaBreached(s.number, name, elapsed, target_s))
        nearest = min(t for _, t in targets)
        if (
            elapsed >= plan.warn_at * nearest
            and not self.state.priority_raised
            and s.priority is not Priority.URGENT
        ):
            self._set_priority(s.priority.raised(), "nearing an SLA breach")
            self.state = replace(
                self.state, priority_raised=True, sla_priority=s.sla_priority or s.priority
            )
