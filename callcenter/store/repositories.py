"""Repositories: the queries the engine and its CLI / API make, in the domain's words.

Each takes a :class:`~sqlalchemy.orm.Session` the caller owns (committed by
:meth:`Database.session`), so several repository calls share one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callcenter.acd.errors import ACDConfigError
from callcenter.acd.strategies import Strategy
from callcenter.errors import AlreadyExists, NotFound
from callcenter.store.models import Agent, AgentSkill, Queue, QueueMember, Skill
from callcenter.store.secrets import hash_secret, verify

STRATEGIES = tuple(s.value for s in Strategy)


class AgentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        code: str,
        name: str,
        sip_uri: str | None = None,
        skills: dict[str, int] | None = None,
        pin: str | None = None,
    ) -> Agent:
        if self.find(code) is not None:
            raise AlreadyExists(f"agent {code!r} exists already: pick another code or remove it")
        agent = Agent(code=code, name=name, sip_uri=sip_uri)
        if pin is not None:
            self._check_pin(pin)
            agent.pin_hash = hash_secret(pin)
        for skill_name, level in (skills or {}).items():
            if not 1 <= level <= 10:
                raise ValueError(f"skill level for {skill_name!r} is {level}: allowed 1..10")
            agent.skills.append(AgentSkill(skill=_skill(self.session, skill_name), level=level))
        self.session.add(agent)
        self.session.flush()
        return agent

    def find(self, code: str) -> Agent | None:
        return self.session.scalar(select(Agent).where(Agent.code == code))

    def set_pin(self, code: str, pin: str) -> None:
        self._check_pin(pin)
        self.get(code).pin_hash = hash_secret(pin)

    @staticmethod
    def _check_pin(pin: str) -> None:
        if not (pin.isdigit() and 4 <= len(pin) <= 12):
            raise ValueError("a PIN is 4 to 12 digits (it is typed on a phone keypad)")

    def check_login(self, code: str, pin: str) -> Agent | None:
        """The agent when ``code`` and ``pin`` match, else None; the same work either way."""
        agent = self.find(code)
        ok = verify(pin, agent.pin_hash if agent is not None and agent.active else None)
        return agent if ok else None

    def get(self, code: str) -> Agent:
        agent = self.find(code)
        if agent is None:
            raise NotFound(f"no agent {code!r}: see `callcenter agents list`")
        return agent

    def list(self) -> Sequence[Agent]:
        return self.session.scalars(select(Agent).order_by(Agent.code)).all()

    def remove(self, code: str) -> None:
        self.session.delete(self.get(code))
        self.session.flush()


class QueueRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, name: str, strategy: str = "longest-idle", **options: object) -> Queue:
        try:
            strategy = Strategy.parse(strategy).value
        except (ACDConfigError, ValueError):
            raise ValueError(
                f"strategy {strategy!r} is unknown: allowed {', '.join(STRATEGIES)}"
            ) from None
        if self.find(name) is not None:
            raise AlreadyExists(f"queue {name!r} exists already: pick another name")
        queue = Queue(name=name, strategy=strategy, **options)
        self.session.add(queue)
        try:
            self.session.flush()
        except IntegrityError as exc:
            raise ValueError(f"queue {name!r} has an invalid option: {exc.orig}") from None
        return queue

    def find(self, name: str) -> Queue | None:
        return self.session.scalar(select(Queue).where(Queue.name == name))

    def get(self, name: str) -> Queue:
        queue = self.find(name)
        if queue is None:
            raise NotFound(f"no queue {name!r}: see `callcenter queues list`")
        return queue

    def list(self) -> Sequence[Queue]:
        return self.session.scalars(select(Queue).order_by(Queue.name)).all()

    def add_member(self, queue_name: str, agent_code: str, penalty: int = 0, tier: int = 1) -> None:
        queue = self.get(queue_name)
        agent = AgentRepository(self.session).get(agent_code)
        if any(m.agent_id == agent.id for m in queue.members):
            raise AlreadyExists(f"agent {agent_code!r} is already a member of {queue_name!r}")
        queue.members.append(QueueMember(agent=agent, penalty=penalty, tier=tier))
        self.session.flush()


def _skill(session: Session, name: str) -> Skill:
    skill = session.scalar(select(Skill).where(Skill.name == name))
    if skill is None:
        skill = Skill(name=name)
        session.add(skill)
    return skill
