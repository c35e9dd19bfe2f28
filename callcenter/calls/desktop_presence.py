"""Presence from the agent desktop: is the agent's page still open?

A second presence signal beside the softphone's OPTIONS pings (callcenter/voice/sip/
presence.py): the engine knows which agents have their desktop's live stream open
(``GET /api/agents/{code}/desk/stream``). An agent who had one open during the current login
and then has none open for ``grace_s`` is paused ("desktop closed: ..."); when a stream of
theirs opens again while they are still paused for that reason, they are ready again
("desktop open again").

- A page reload reconnects within about 2 s: the grace (30 s by default) covers it, so a
  reload pauses nobody. Several tabs count as open while any of them is.
- An agent who never opened a desktop in this login (a softphone-only agent, a CRM widget
  using the API) is never touched; a logout forgets everything (presence never logs out).
- A pause the agent or a supervisor chose is never overridden: the resume happens only while
  the ACD still gives this tracker's reason for the pause (``paused_for`` of
  :class:`DesktopOpened`), and the adapter pauses only agents the ACD has not paused already.
- While the desktop stays closed past the grace, an agent who becomes available by another
  way (their softphone answers the pings again, a supervisor makes them ready) is paused
  again at once: each signal resumes only what it paused, and the agent is there only when
  every signal says so.

:class:`DesktopPresence` is the pure part (``handle(event, now) -> list[Action]``, no I/O,
no clock); :class:`~callcenter.calls.desktop_presence_service.DesktopPresenceService` is the
adapter on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from callcenter.acd import AgentPaused, AgentReady, AgentState, AgentStateChanged, Tick

CLOSED_REASON = "desktop closed: no agent desktop open for {grace} s"
OPEN_AGAIN = "desktop open again"


@dataclass(frozen=True, slots=True)
class DesktopOpened:
    """A desktop stream of the agent opened; ``paused_for`` is why the ACD has the agent
    paused right now (None: not paused)."""

    agent_id: str
    stream_id: str
    paused_for: str | None = None


@dataclass(frozen=True, slots=True)
class DesktopClosed:
    agent_id: str
    stream_id: str


Event = DesktopOpened | DesktopClosed | AgentStateChanged | Tick
"""The ACD's agent state changes come in as the ACD tells them (logins, logouts, an agent
available again); ``Tick``: time passed, pause the agents whose grace ran out
(``next_deadline`` says when)."""

Action = AgentPaused | AgentReady
"""What to feed the ACD: a pause (unless the agent is paused already: the adapter asks the
ACD), or a resume."""


@dataclass
class _Desk:
    streams: set[str] = field(default_factory=set)
    logged_in: bool = False
    seen: bool = False  # a stream was open during this login
    closed_at: float | None = None  # since when none is open (after one was, this login)
    paused: bool = False  # the grace of this closure ran out (a pause was asked for)

    def idle(self) -> bool:
        return not (self.streams or self.logged_in)


@dataclass
class DesktopPresence:
    grace_s: float = 30.0
    _desks: dict[str, _Desk] = field(default_factory=dict)

    @property
    def closed_reason(self) -> str:
        return CLOSED_REASON.format(grace=f"{self.grace_s:g}")

    def handle(self, event: Event, now: float) -> list[Action]:
        match event:
            case DesktopOpened():
                return self._opened(event)
            case DesktopClosed(agent_id=agent_id, stream_id=stream_id):
                self._closed(agent_id, stream_id, now)
            case AgentStateChanged():
                return self._state_changed(event)
            case Tick():
                return self._grace_over(now)
        return []

    def next_deadline(self) -> float | None:
        """When the next grace runs out: send a ``Tick`` then (None: nothing pending)."""
        due = [d.closed_at + self.grace_s for d in self._desks.values()
               if d.closed_at is not None and not d.paused]
        return min(due, default=None)

    def open_streams(self, agent_id: str) -> int:
        desk = self._desks.get(agent_id)
        return len(desk.streams) if desk is not None else 0

    def _opened(self, event: DesktopOpened) -> list[Action]:
        desk = self._desks.setdefault(event.agent_id, _Desk())
        desk.streams.add(event.stream_id)
        desk.closed_at = None
        desk.seen = desk.seen or desk.logged_in
        if not desk.paused:
            return []
        desk.paused = False
        if event.paused_for != self.closed_reason:  # someone chose another pause since
            return []
        return [AgentReady(event.agent_id, OPEN_AGAIN)]

    def _closed(self, agent_id: str, stream_id: str, now: float) -> None:
        desk = self._desks.get(agent_id)
        if desk is None or stream_id not in desk.streams:
            return
        desk.streams.discard(stream_id)
        if not desk.streams and desk.seen:
            desk.closed_at = now
        self._forget_if_idle(agent_id, desk)

    def _state_changed(self, change: AgentStateChanged) -> list[Action]:
        if change.state is AgentState.LOGGED_OUT:
            self._logged_out(change.agent_id)
            return []
        if change.previous is AgentState.LOGGED_OUT:
            login = self._desks.setdefault(change.agent_id, _Desk())
            login.logged_in = True
            login.seen = bool(login.streams)
        desk = self._desks.get(change.agent_id)
        if desk is not None and desk.paused and change.state is AgentState.AVAILABLE:
            # Ready again by another way (the softphone answers again, a supervisor) while
            # the desktop is still closed: nobody is there to take a call.
            return [AgentPaused(change.agent_id, self.closed_reason)]
        return []

    def _logged_out(self, agent_id: str) -> None:
        desk = self._desks.get(agent_id)
        if desk is not None:
            desk.logged_in = desk.seen = desk.paused = False
            desk.closed_at = None
            self._forget_if_idle(agent_id, desk)

    def _grace_over(self, now: float) -> list[Action]:
        out: list[Action] = []
        for agent_id, desk in self._desks.items():
            if (desk.closed_at is not None and not desk.paused
                    and now - desk.closed_at >= self.grace_s):
                desk.paused = True
                out.append(AgentPaused(agent_id, self.closed_reason))
        return out

    def _forget_if_idle(self, agent_id: str, desk: _Desk) -> None:
        if desk.idle():
            del self._desks[agent_id]
