"""A new ACD leader takes over the agents the old one had logged in.

With several nodes one leads the ACD (docs/cluster.md); its agents' states live in its router,
and every change is written to ``agent_state_history``. When another node takes the lead
(the old leader stopped or died), :func:`restore_agents` logs in again, on the new leader,
the agents whose last recorded state says they were logged in: paused ones stay paused with
their reason, the others become ready. Only agents reached at a SIP URI (on-demand agents)
come back this way; a nailed-up line ended with the old leader, and its agent dials again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter import acd
from callcenter.calls.acd_service import AcdService
from callcenter.calls.directory import Directory
from callcenter.store import Database
from callcenter.store.models import Agent, AgentStateChange

log = logging.getLogger(__name__)

#: Older states than this are a past shift's, not the old leader's: nobody is restored.
RECENT = timedelta(hours=12)
RESTORED = "the ACD's leader changed"


@dataclass(frozen=True)
class LastState:
    code: str
    state: str
    reason: str


def last_states(session: Session, since: datetime) -> list[LastState]:
    """Each agent's last recorded state since ``since`` (agents with none are left out)."""
    latest = (select(AgentStateChange.agent_id, func.max(AgentStateChange.id).label("id"))
              .where(AgentStateChange.at >= since)
              .group_by(AgentStateChange.agent_id).subquery())
    rows = session.execute(
        select(Agent.code, AgentStateChange.state, AgentStateChange.reason)
        .join(latest, latest.c.id == AgentStateChange.id)
        .join(Agent, Agent.id == AgentStateChange.agent_id)
        .order_by(Agent.code))
    return [LastState(code, state, reason) for code, state, reason in rows]


def to_restore(states: list[LastState], directory: Directory,
               state_now: dict[str, str]) -> list[acd.Event]:
    """The ACD events that log the agents of ``states`` in again, in their state: only those
    logged in then, logged out here now, and reached at a SIP URI."""
    events: list[acd.Event] = []
    for last in states:
        entry = directory.agents.get(last.code)
        if (last.state == acd.AgentState.LOGGED_OUT or entry is None or not entry.sip_uri
                or state_now.get(last.code, acd.AgentState.LOGGED_OUT)
                != acd.AgentState.LOGGED_OUT):
            continue
        events.append(acd.AgentLoggedIn(last.code))
        if last.state == acd.AgentState.PAUSED:
            # The router recorded "paused: <the agent's reason>".
            reason = last.reason.removeprefix("paused: ") or "paused"
            events.append(acd.AgentPaused(last.code, reason))
        else:
            events.append(acd.AgentReady(last.code, reason=RESTORED))
    return events


async def restore_agents(acd_service: AcdService, directory: Directory, db: Database,
                         now: datetime) -> list[str]:
    """Log in here the agents the old leader had; returns their codes."""
    states = await db.run(lambda s: last_states(s, now - RECENT))
    router = acd_service.router
    events = to_restore(states, directory,
                        {code: router.agent_state(code) for code in directory.agents})
    for event in events:
        await acd_service.handle(event)
    codes = sorted({e.agent_id for e in events if isinstance(e, acd.AgentLoggedIn)})
    if codes:
        log.info("the ACD's leader changed: %d agent(s) logged in here as they were: %s",
                 len(codes), ", ".join(codes))
    return codes
