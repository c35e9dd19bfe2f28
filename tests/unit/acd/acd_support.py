"""Helpers for the ACD tests: a router with a recorded clock and action filters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from callcenter.acd import Action, AgentProfile, Event, QueueConfig, Router

A = TypeVar("A")


class Harness:
    """A router plus the time, so tests read like a call log."""

    def __init__(
        self, queues: Iterable[QueueConfig], agents: Iterable[AgentProfile] = (), seed: int = 0
    ) -> None:
        self.router = Router(queues, agents, seed=seed)
        self.now = 0.0
        self.log: list[Action] = []

    def at(self, t: float, event: Event) -> list[Action]:
        self.now = t
        out = self.router.handle(event, t)
        self.log.extend(out)
        assert self.router.check_invariants() == [], self.router.check_invariants()
        return out


def only(actions: Iterable[Any], kind: type[A]) -> list[A]:
    return [a for a in actions if isinstance(a, kind)]


def agents(*specs: tuple[str, dict[str, int]], **kw: Any) -> list[AgentProfile]:
    return [AgentProfile(agent_id, queues, **kw) for agent_id, queues in specs]
