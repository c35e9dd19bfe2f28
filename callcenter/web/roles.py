"""Who may call what: the one table mapping the API's routes to roles; pure.

Roles: ``admin`` may do everything; ``supervisor`` runs campaigns, leads, do-not-call lists,
recordings' legal holds, queues, the console and monitoring, every callback and every agent's
state; ``agent`` acts only as their own agent (state, desk, preview, their callbacks, the
calls they are on or just left); ``backoffice`` works tickets. A route is found by its method
and path template (as FastAPI matched it); a template ending in ``/*`` covers everything
under it; the most specific entry wins. A route the table does not name is for admins only
(a new router stays closed until someone decides), and a test checks that every route of the
app is named.

Not here because they never reach the check: the Twilio webhooks (signed by Twilio),
``/healthz``, ``/metrics`` and the OpenAPI pages (see docs/security.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from callcenter.store.users import Principal

ADMIN = "admin"
AgentScope = Literal["path", "query", "call"]


@dataclass(frozen=True)
class Rule:
    """Who may: users with one of ``roles`` (and admins) always; with ``agent``, also the
    agent the request is about: the ``{code}`` of the path, the ``?agent=`` of the query, or
    the agent on (or just off) the ``{call_id}``. ``public``: no credentials at all;
    ``anyone``: any logged-in user."""

    roles: frozenset[str] = frozenset()
    agent: AgentScope | None = None
    public: bool = False
    anyone: bool = False

    def needs(self) -> str:
        """What to have, in words (403 messages)."""
        roles = " or ".join(sorted(self.roles | {ADMIN}))
        whom = {"path": "the agent in the path", "query": "the agent named by ?agent=",
                "call": "the agent on the call"}
        return f"the {roles} role" + (f", or to be {whom[self.agent]}" if self.agent else "")


PUBLIC = Rule(public=True)
ANYONE = Rule(anyone=True)
ADMINS = Rule()
SUPERVISORS = Rule(frozenset({"supervisor"}))
BACKOFFICE = Rule(frozenset({"backoffice"}))
OWN_AGENT = Rule(frozenset({"supervisor"}), agent="path")
AGENT_QUERY = Rule(frozenset({"supervisor"}), agent="query")
ON_THE_CALL = Rule(frozenset({"supervisor"}), agent="call")

_CALL_CONTROL = ("disposition", "hold", "resume", "transfer", "transfer/complete",
                 "transfer/cancel", "recording/pause", "recording/resume")
_AGENT_ACTIONS = ("login", "ready", "pause", "logout", "wrapup-end", "wrapup-extend")

#: (method or "*", path template) -> rule.
POLICY: dict[tuple[str, str], Rule] = {
    ("GET", "/console"): PUBLIC,  # the pages: what they load is checked
    ("GET", "/desktop"): PUBLIC,
    ("POST", "/api/login"): PUBLIC,
    ("POST", "/api/logout"): ANYONE,
    ("GET", "/api/me"): ANYONE,
    ("GET", "/api/audit"): ADMINS,
    ("GET", "/api/dispositions"): ANYONE,
    ("GET", "/api/agents"): SUPERVISORS,
    **{("POST", f"/api/agents/{{code}}/{action}"): OWN_AGENT for action in _AGENT_ACTIONS},
    ("GET", "/api/agents/{code}/desk"): OWN_AGENT,
    ("GET", "/api/agents/{code}/desk/stream"): OWN_AGENT,
    ("GET", "/api/queues"): SUPERVISORS,
    ("GET", "/api/queues/callbacks"): SUPERVISORS,
    ("GET", "/api/cluster"): SUPERVISORS,
    **{("POST", f"/api/calls/{{call_id}}/{what}"): ON_THE_CALL for what in _CALL_CONTROL},
    ("POST", "/api/calls/{call_id}/monitor"): SUPERVISORS,
    ("GET", "/api/console"): SUPERVISORS,
    ("GET", "/api/console/stream"): SUPERVISORS,
    ("*", "/api/campaigns/*"): SUPERVISORS,
    ("*", "/api/campaigns"): SUPERVISORS,
    ("POST", "/api/campaigns/{name}/preview"): AGENT_QUERY,
    ("POST", "/api/campaigns/{name}/preview/{lead_id}/dial"): AGENT_QUERY,
    ("POST", "/api/campaigns/{name}/preview/{lead_id}/skip"): AGENT_QUERY,
    ("POST", "/api/campaigns/{name}/callbacks/{callback_id}/preview"): AGENT_QUERY,
    ("GET", "/api/callbacks"): AGENT_QUERY,
    ("*", "/api/dnc/*"): SUPERVISORS,
    ("*", "/api/dnc"): SUPERVISORS,
    ("GET", "/api/recordings"): SUPERVISORS,
    ("POST", "/api/recordings/{recording_id}/hold"): SUPERVISORS,
    ("POST", "/api/recordings/{recording_id}/release"): SUPERVISORS,
    ("*", "/api/tickets/*"): BACKOFFICE,
    ("*", "/api/tickets"): BACKOFFICE,
    ("WS", "/api/chat/customer"): PUBLIC,  # the customers' web chat
    ("WS", "/api/chat/agent/{code}"): OWN_AGENT,  # back-office staff are agents too
}


def rule_for(method: str, template: str) -> Rule:
    """The rule of a route: its own entry, else the longest ``/*`` entry above it, else
    admins only."""
    for key in ((method, template), ("*", template)):
        if key in POLICY:
            return POLICY[key]
    best: tuple[int, Rule] = (-1, ADMINS)
    for (m, pattern), rule in POLICY.items():
        if (pattern.endswith("/*") and m in ("*", method)
                and template.startswith(pattern[:-1]) and len(pattern) > best[0]):
            best = (len(pattern), rule)
    return best[1]


def allowed(rule: Rule, who: Principal, *, named_agent: str | None = None,
            on_the_call: bool = False) -> bool:
    """Whether ``who`` may; ``named_agent`` is the agent the request names (path or query),
    ``on_the_call`` whether ``who``'s agent is on (or just off) the request's call."""
    if rule.public or rule.anyone or ADMIN in who.roles or who.roles & rule.roles:
        return True
    if rule.agent is None or who.agent is None:
        return False
    if rule.agent == "call":
        return on_the_call
    return named_agent == who.agent
