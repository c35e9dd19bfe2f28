"""Who and what the engine routes to, read from the database at start-up.

A :class:`Directory` is a snapshot of queues and agents (with their skills, memberships and
how to reach them) from which the ACD :class:`~callcenter.acd.Router` is built, and which the
voice layers use to turn an agent id into a SIP URI and names into database ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter import acd
from callcenter.store.models import Agent, Queue


@dataclass(frozen=True)
class AgentEntry:
    id: int
    code: str
    name: str
    sip_uri: str | None
    profile: acd.AgentProfile


@dataclass(frozen=True)
class QueueEntry:
    id: int
    config: acd.QueueConfig


@dataclass
class Directory:
    queues: dict[str, QueueEntry] = field(default_factory=dict)
    agents: dict[str, AgentEntry] = field(default_factory=dict)

    def router(self, seed: int = 0) -> acd.Router:
        return acd.Router(
            [q.config for q in self.queues.values()],
            [a.profile for a in self.agents.values()],
            seed=seed,
        )

    def queue_id(self, name: str | None) -> int | None:
        entry = self.queues.get(name or "")
        return entry.id if entry else None

    def agent_id(self, code: str | None) -> int | None:
        entry = self.agents.get(code or "")
        return entry.id if entry else None


def _overflow(target: str | None) -> acd.OverflowTarget | None:
    """``voicemail``, ``callback``, ``ticket`` or ``queue:NAME`` (a bare name is a queue)."""
    if not target:
        return None
    kind, _, queue = target.partition(":")
    if kind in ("voicemail", "callback", "ticket"):
        return acd.OverflowTarget(acd.OverflowKind(kind))
    return acd.OverflowTarget(acd.OverflowKind.QUEUE, queue or kind)


def load_directory(session: Session) -> Directory:
    d = Directory()
    for q in session.scalars(select(Queue)):
        d.queues[q.name] = QueueEntry(
            q.id,
            acd.QueueConfig(
                name=q.name,
                strategy=acd.Strategy.parse(q.strategy),
                channel=acd.Channel(q.channel) if q.channel != "email" else acd.Channel.TICKET,
                priority=q.priority,
                sl_threshold_s=float(q.service_level_s),
                max_wait_s=q.max_wait_s,
                max_length=q.max_length,
                overflow=_overflow(q.overflow_target),
                join_when_empty=q.join_when_empty,
                leave_when_empty=q.leave_when_empty,
                wrap_up_s=float(q.wrapup_s),
                no_answer_timeout_s=float(q.no_answer_timeout_s),
                retry_delay_s=float(q.retry_delay_s),
                announce_every_s=float(q.announce_frequency_s) or None,
            ),
        )
    memberships: dict[int, dict[str, int]] = {}
    for q in session.scalars(select(Queue)):
        for m in q.members:
            memberships.setdefault(m.agent_id, {})[q.name] = m.penalty
    for a in session.scalars(select(Agent).where(Agent.active)):
        profile = acd.AgentProfile(
            agent_id=a.code,
            queues=memberships.get(a.id, {}),
            skills={s.skill.name: s.level for s in a.skills},
            capacity={
                acd.Channel.VOICE: a.voice_capacity,
                acd.Channel.CHAT: a.chat_capacity,
                acd.Channel.TICKET: a.ticket_capacity,
            },
        )
        d.agents[a.code] = AgentEntry(a.id, a.code, a.name, a.sip_uri, profile)
    return d
