"""Users, their roles and API tokens: what the CLI manages and the web layer checks.

A user has one or more roles (admin, supervisor, agent, backoffice; seeded by migration 0001)
and may be an agent (``agents.user_id``). Passwords are kept as scrypt hashes, tokens as
SHA-256 digests (:mod:`callcenter.store.secrets`); neither is ever stored or returned in clear,
except a new token, once, to the one who creates it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from callcenter.errors import AlreadyExists, NotFound
from callcenter.store.models import Agent, ApiToken, Role, User
from callcenter.store.repositories import AgentRepository
from callcenter.store.secrets import hash_password, new_token, token_digest, verify

ROLES = ("admin", "supervisor", "agent", "backoffice")
MIN_PASSWORD = 10


class UserError(ValueError):
    """A user or token request the rules refuse (a bad role, a short password)."""


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user with their roles and, when they are an agent, its code."""

    user_id: int
    username: str
    display_name: str
    roles: frozenset[str]
    agent: str | None

    def as_dict(self) -> dict[str, object]:
        return {"user": self.username, "display_name": self.display_name,
                "roles": sorted(self.roles), "agent": self.agent}


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password has at least {MIN_PASSWORD} characters")


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, username: str, roles: Sequence[str], password: str | None = None,
            agent: str | None = None, display_name: str = "") -> User:
        if self.find(username) is not None:
            raise AlreadyExists(f"user {username!r} exists already: pick another name")
        if not roles:
            raise UserError(f"give a user at least one role: {', '.join(ROLES)}")
        if "agent" in roles and agent is None:
            raise UserError("a user with the agent role needs --agent CODE (their agent)")
        user = User(username=username, display_name=display_name or username,
                    roles=[self._role(r) for r in dict.fromkeys(roles)])
        if password is not None:
            check_password(password)
            user.password_hash = hash_password(password)
        self.session.add(user)
        self.session.flush()
        if agent is not None:
            self.link_agent(user, agent)
        return user

    def _role(self, name: str) -> Role:
        role = self.session.scalar(select(Role).where(Role.name == name))
        if role is None:
            raise UserError(f"role {name!r} is unknown: allowed {', '.join(ROLES)}")
        return role

    def link_agent(self, user: User, code: str) -> None:
        agent = AgentRepository(self.session).get(code)
        if agent.user_id not in (None, user.id):
            raise AlreadyExists(f"agent {code!r} belongs to another user already")
        agent.user_id = user.id
        self.session.flush()

    def find(self, username: str) -> User | None:
        return self.session.scalar(select(User).where(User.username == username))

    def get(self, username: str) -> User:
        user = self.find(username)
        if user is None:
            raise NotFound(f"no user {username!r}: see `callcenter user list`")
        return user

    def list(self) -> Sequence[User]:
        return self.session.scalars(select(User).order_by(User.username)).all()

    def agent_code(self, user: User) -> str | None:
        return self.session.scalar(select(Agent.code).where(Agent.user_id == user.id))

    def set_password(self, username: str, password: str, now: datetime) -> None:
        check_password(password)
        user = self.get(username)
        user.password_hash = hash_password(password)
        user.sessions_after = now  # the old password's browser sessions end

    def disable(self, username: str, now: datetime) -> None:
        user = self.get(username)
        user.active = False
        user.sessions_after = now

    def enable(self, username: str) -> None:
        self.get(username).active = True

    def set_roles(self, username: str, roles: Sequence[str], agent: str | None = None) -> User:
        """Replace the user's roles (and link their agent, with ``agent``)."""
        user = self.get(username)
        if not roles:
            raise UserError(f"give a user at least one role: {', '.join(ROLES)}")
        if agent is not None:
            self.link_agent(user, agent)
        if "agent" in roles and self.agent_code(user) is None:
            raise UserError("a user with the agent role needs --agent CODE (their agent)")
        user.roles = [self._role(r) for r in dict.fromkeys(roles)]
        self.session.flush()
        return user

    def end_sessions(self, user_id: int, now: datetime) -> None:
        user = self.session.get(User, user_id)
        if user is not None:
            user.sessions_after = now

    def anyone_can_log_in(self) -> bool:
        """Whether an active user has a password or a live token."""
        with_password = select(User.id).where(User.active, User.password_hash.is_not(None))
        with_token = (select(ApiToken.id).join(User)
                      .where(User.active, ApiToken.revoked_at.is_(None)))
        return bool(self.session.scalar(select(exists(with_password) | exists(with_token))))

    # -- credentials -------------------------------------------------------------------

    def principal(self, user: User) -> Principal:
        return Principal(user.id, user.username, user.display_name,
                         frozenset(r.name for r in user.roles), self.agent_code(user))

    def check_login(self, username: str, password: str) -> Principal | None:
        """The user when the name and password match an active user, else None; the same work
        either way."""
        user = self.find(username)
        usable = user is not None and user.active
        ok = verify(password, user.password_hash if usable and user else None, password=True)
        return self.principal(user) if ok and user is not None else None

    def by_token(self, token: str) -> Principal | None:
        row = self.session.scalar(select(ApiToken).where(
            ApiToken.token_hash == token_digest(token), ApiToken.revoked_at.is_(None)))
        if row is None or not row.user.active:
            return None
        return self.principal(row.user)

    def by_session(self, user_id: int, issued: datetime) -> Principal | None:
        """The user of a browser session issued at ``issued``, unless it was ended since."""
        user = self.session.get(User, user_id)
        if user is None or not user.active:
            return None
        cut = user.sessions_after
        if cut is not None and issued < (cut if cut.tzinfo else cut.replace(tzinfo=UTC)):
            return None
        return self.principal(user)

    # -- tokens ----------------------------------------------------------------------------

    def add_token(self, username: str, name: str) -> tuple[ApiToken, str]:
        """A new token for the user: the row and the token itself (shown once, not kept)."""
        user = self.get(username)
        if not user.active:
            raise UserError(f"user {username!r} is disabled: no new tokens")
        token = new_token()
        row = ApiToken(user_id=user.id, name=name, token_hash=token_digest(token))
        self.session.add(row)
        self.session.flush()
        return row, token

    def tokens(self, username: str | None = None) -> Sequence[ApiToken]:
        query = select(ApiToken).join(User).order_by(ApiToken.id)
        if username is not None:
            query = query.where(User.username == username)
        return self.session.scalars(query).all()

    def revoke(self, token_id: int, now: datetime) -> ApiToken:
        row = self.session.get(ApiToken, token_id)
        if row is None:
            raise NotFound(f"no token {token_id}: see `callcenter user tokens`")
        if row.revoked_at is None:
            row.revoked_at = now
        return row

