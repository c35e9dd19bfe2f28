"""Routing strategies: how a queue chooses among the agents free to take a task.

Each strategy is a *pool* of available agents, indexed so that choosing one costs
O(log n) (or O(1)), never a scan of the queue's members. The router keeps one pool per
(queue, skill group, penalty tier) and adds an agent when it becomes free, discards it
when it becomes busy, and asks the pool to ``pick`` when a task needs an agent.

The ordering facts a pool may use are passed on ``add``:

- ``idle_since``: when the agent last became free (longest-idle, tie-breaks);
- ``calls``: tasks the agent answered in this queue (fewest-calls);
- ``position``: the agent's place in the queue's member order (linear, rrmemory);
- ``score``: the agent's summed skill levels for the group's skills (best-skill);
- ``weight``: the agent's weight (weighted random).

Random strategies draw from the router's seeded ``random.Random``: a run is reproducible.
"""

from __future__ import annotations

import heapq
import random
from bisect import bisect_right, insort
from enum import StrEnum
from typing import Protocol


class Strategy(StrEnum):
    LONGEST_IDLE = "longest-idle"
    FEWEST_CALLS = "fewest-calls"
    RR_MEMORY = "rrmemory"
    RING_ALL = "ring-all"
    LINEAR = "linear"
    RANDOM = "random"
    WEIGHTED_RANDOM = "wrandom"
    BEST_SKILL = "best-skill"

    @classmethod
    def parse(cls, name: str) -> Strategy:
        """Accept our names and the names Asterisk and FreeSWITCH operators know."""
        key = name.strip().lower().replace("_", "-")
        found = _ALIASES.get(key)
        if found is None:
            known = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown strategy {name!r}: use one of {known}")
        return found


_ALIASES: dict[str, Strategy] = {s.value: s for s in Strategy}
_ALIASES.update(
    {
        "leastrecent": Strategy.LONGEST_IDLE,
        "longest-idle-agent": Strategy.LONGEST_IDLE,
        "fewestcalls": Strategy.FEWEST_CALLS,
        "round-robin": Strategy.RR_MEMORY,
        "roundrobin": Strategy.RR_MEMORY,
        "ringall": Strategy.RING_ALL,
        "top-down": Strategy.LINEAR,
        "sequential": Strategy.LINEAR,
        "weighted-random": Strategy.WEIGHTED_RANDOM,
        "best-skill-level": Strategy.BEST_SKILL,
    }
)


class AgentPool(Protocol):
    """The available agents of one (queue, skill group, tier), ordered by a strategy."""

    def add(
        self,
        agent_id: str,
        idle_since: float,
        calls: int,
        position: int,
        score: int,
        weight: float,
    ) -> None: ...

    def discard(self, agent_id: str) -> None: ...

    def pick(self) -> str | None:
        """Remove and return the agent the strategy chooses, or None if empty."""
        ...

    def drain(self) -> list[str]:
        """Remove and return every agent (ring-all offers to all of them)."""
        ...

    def __len__(self) -> int: ...

    def __contains__(self, agent_id: object) -> bool: ...


class _HeapPool:
    """A heap of (key, stamp, agent) with lazy deletion: discard is O(1), pick O(log n)."""

    __slots__ = ("_heap", "_present", "_stamp", "_kind")

    def __init__(self, kind: Strategy) -> None:
        self._heap: list[tuple[tuple[float, ...], int, str]] = []
        self._present: dict[str, int] = {}
        self._stamp = 0
        self._kind = kind

    def add(
        self,
        agent_id: str,
        idle_since: float,
        calls: int,
        position: int,
        score: int,
        weight: float,
    ) -> None:
        kind = self._kind
        key: tuple[float, ...]
        if kind is Strategy.LONGEST_IDLE:
            key = (idle_since, position)
        elif kind is Strategy.FEWEST_CALLS:
            key = (calls, idle_since, position)
        elif kind is Strategy.BEST_SKILL:
            key = (-score, idle_since, position)
        else:  # LINEAR
            key = (position,)
        self._stamp += 1
        self._present[agent_id] = self._stamp
        heapq.heappush(self._heap, (key, self._stamp, agent_id))
        if len(self._heap) > 4 * len(self._present) + 64:
            self._compact()

    def _compact(self) -> None:
        present = self._present
        self._heap = [e for e in self._heap if present.get(e[2]) == e[1]]
        heapq.heapify(self._heap)

    def discard(self, agent_id: str) -> None:
        self._present.pop(agent_id, None)

    def pick(self) -> str | None:
        heap = self._heap
        present = self._present
        while heap:
            _, stamp, agent_id = heapq.heappop(heap)
            if present.get(agent_id) == stamp:
                del present[agent_id]
                return agent_id
        return None

    def drain(self) -> list[str]:
        return _drain_by_picking(self)

    def __len__(self) -> int:
        return len(self._present)

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._present


def _drain_by_picking(pool: AgentPool) -> list[str]:
    """Every agent of a pool, in the order the pool would have served them."""
    out = []
    while (agent_id := pool.pick()) is not None:
        out.append(agent_id)
    return out


class RoundRobinMemory:
    """The position of the last agent served; shared by every pool of one queue."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last = -1


class _RoundRobinPool:
    """rrmemory: the next free agent after the one served last, in member order."""

    __slots__ = ("_positions", "_by_position", "_agents", "_memory")

    def __init__(self, memory: RoundRobinMemory) -> None:
        self._positions: list[int] = []
        self._by_position: dict[int, str] = {}
        self._agents: dict[str, int] = {}
        self._memory = memory

    def add(
        self,
        agent_id: str,
        idle_since: float,
        calls: int,
        position: int,
        score: int,
        weight: float,
    ) -> None:
        if agent_id in self._agents:
            return
        insort(self._positions, position)
        self._by_position[position] = agent_id
        self._agents[agent_id] = position

    def discard(self, agent_id: str) -> None:
        position = self._agents.pop(agent_id, None)
        if position is not None:
            i = bisect_right(self._positions, position) - 1
            del self._positions[i]
            del self._by_position[position]

    def pick(self) -> str | None:
        if not self._positions:
            return None
        i = bisect_right(self._positions, self._memory.last)
        if i == len(self._positions):
            i = 0
        position = self._positions.pop(i)
        agent_id = self._by_position.pop(position)
        del self._agents[agent_id]
        self._memory.last = position
        return agent_id

    def drain(self) -> list[str]:
        return _drain_by_picking(self)

    def __len__(self) -> int:
        return len(self._agents)

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._agents


class _RandomPool:
    """Uniform choice: a list with swap-removal, so add, discard and pick are O(1)."""

    __slots__ = ("_items", "_index", "_rng")

    def __init__(self, rng: random.Random) -> None:
        self._items: list[str] = []
        self._index: dict[str, int] = {}
        self._rng = rng

    def add(
        self,
        agent_id: str,
        idle_since: float,
        calls: int,
        position: int,
        score: int,
        weight: float,
    ) -> None:
        if agent_id not in self._index:
            self._index[agent_id] = len(self._items)
            self._items.append(agent_id)

    def discard(self, agent_id: str) -> None:
        i = self._index.pop(agent_id, None)
        if i is None:
            return
        last = self._items.pop()
        if last != agent_id:
            self._items[i] = last
            self._index[last] = i

    def pick(self) -> str | None:
        if not self._items:
            return None
        # Sorting is not needed for determinism: the list order follows the event order.
        agent_id = self._items[self._rng.randrange(len(self._items))]
        self.discard(agent_id)
        return agent_id

    def drain(self) -> list[str]:
        out = list(self._items)
        self._items.clear()
        self._index.clear()
        return out

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._index


class _WeightedRandomPool:
    """Choice in proportion to weight, through a Fenwick tree of per-slot weights: O(log n)."""

    __slots__ = ("_slot", "_owners", "_weights", "_tree", "_rng", "_count")

    def __init__(self, rng: random.Random) -> None:
        self._slot: dict[str, int] = {}
        self._owners: list[str] = []
        self._weights: list[float] = []  # weight of the agent in each slot, 0 when absent
        self._tree: list[float] = [0.0]  # 1-based Fenwick tree over _weights
        self._rng = rng
        self._count = 0

    def _update(self, slot: int, delta: float) -> None:
        i = slot + 1
        tree = self._tree
        while i < len(tree):
            tree[i] += delta
            i += i & -i

    def _rebuild(self, size: int) -> None:
        tree = [0.0] * (size + 1)
        for slot, w in enumerate(self._weights):
            tree[slot + 1] += w
        for i in range(1, size + 1):
            j = i + (i & -i)
            if j <= size:
                tree[j] += tree[i]
        self._tree = tree

    def add(
        self,
        agent_id: str,
        idle_since: float,
        calls: int,
        position: int,
        score: int,
        weight: float,
    ) -> None:
        slot = self._slot.get(agent_id)
        if slot is None:
            slot = len(self._weights)
            self._slot[agent_id] = slot
            self._owners.append(agent_id)
            self._weights.append(0.0)
            if slot + 1 >= len(self._tree):
                self._rebuild(max(16, 2 * len(self._tree)))
        if self._weights[slot] > 0.0:
            return
        w = max(weight, 1e-9)
        self._weights[slot] = w
        self._update(slot, w)
        self._count += 1

    def discard(self, agent_id: str) -> None:
        slot = self._slot.get(agent_id)
        if slot is None or self._weights[slot] == 0.0:
            return
        self._update(slot, -self._weights[slot])
        self._weights[slot] = 0.0
        self._count -= 1

    def _find(self, target: float) -> int:
        """The slot whose cumulative weight range contains ``target``."""
        tree = self._tree
        pos = 0
        step = 1 << (len(tree).bit_length())
        while step:
            nxt = pos + step
            if nxt < len(tree) and tree[nxt] <= target:
                pos = nxt
                target -= tree[nxt]
            step >>= 1
        return pos  # 0-based slot

    def pick(self) -> str | None:
        if self._count == 0:
            return None
        total = self._prefix(len(self._weights))
        slot = self._find(self._rng.random() * total)
        if slot >= len(self._weights) or self._weights[slot] == 0.0:
            # Rounding put the draw past the last weight: take the last non-empty slot.
            slot = max(i for i, w in enumerate(self._weights) if w > 0.0)
        agent_id = self._owners[slot]
        self.discard(agent_id)
        return agent_id

    def _prefix(self, n: int) -> float:
        total = 0.0
        i = n
        while i > 0:
            total += self._tree[i]
            i -= i & -i
        return total

    def drain(self) -> list[str]:
        out = [a for a, s in self._slot.items() if self._weights[s] > 0.0]
        for agent_id in out:
            self.discard(agent_id)
        return out

    def __len__(self) -> int:
        return self._count

    def __contains__(self, agent_id: object) -> bool:
        slot = self._slot.get(agent_id) if isinstance(agent_id, str) else None
        return slot is not None and self._weights[slot] > 0.0


class _RingAllPool:
    """Ring-all: every free agent is offered the task; ``pick`` serves the oldest entry."""

    __slots__ = ("_agents",)

    def __init__(self) -> None:
        self._agents: dict[str, None] = {}

    def add(
        self,
        agent_id: str,
        idle_since: float,
        calls: int,
        position: int,
        score: int,
        weight: float,
    ) -> None:
        self._agents[agent_id] = None

    def discard(self, agent_id: str) -> None:
        self._agents.pop(agent_id, None)

    def pick(self) -> str | None:
        if not self._agents:
            return None
        agent_id = next(iter(self._agents))
        del self._agents[agent_id]
        return agent_id

    def drain(self) -> list[str]:
        out = list(self._agents)
        self._agents.clear()
        return out

    def __len__(self) -> int:
        return len(self._agents)

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._agents


def make_pool(strategy: Strategy, rng: random.Random, memory: RoundRobinMemory) -> AgentPool:
    """A new, empty pool of available agents ordered by ``strategy``."""
    match strategy:
        case Strategy.LONGEST_IDLE | Strategy.FEWEST_CALLS | Strategy.BEST_SKILL | Strategy.LINEAR:
            return _HeapPool(strategy)
        case Strategy.RR_MEMORY:
            return _RoundRobinPool(memory)
        case Strategy.RANDOM:
            return _RandomPool(rng)
        case Strategy.WEIGHTED_RANDOM:
            return _WeightedRandomPool(rng)
        case Strategy.RING_ALL:
            return _RingAllPool()
    raise ValueError(f"no pool for strategy {strategy!r}")
