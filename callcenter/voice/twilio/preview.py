"""A preview campaign's call over Twilio: the person who answers goes to the agent who chose
the lead, never to another.

The person waits in ``<Enqueue>`` as any queued caller does (:mod:`.queueing`), but the task
is routed by an :class:`AgentRouting` instead of the ACD. It takes the same events and answers
with the same actions: the call is offered to the one agent (their ``client:NAME``, SIP URI or
number, rung through the REST API for the layer's ``agent_answer_timeout_s``) and connected
when they answer. When they cannot be reached (no Twilio address, busy, no answer), the
``on_unreached`` callback plays the campaign's drop message and the attempt counts as
abandoned, as over SIP. The agent, paused with reason ``preview`` while previewing, gets no
queue call meanwhile; once they answer, the ACD is given the call as their task
(``TaskAssigned`` in the campaign's queue, then ``TaskCompleted``), as over SIP: they show
busy, their talk time counts and the queue's wrap-up follows. When the agent transfers the
person (:mod:`.transfers`), the call leaves this routing: to a queue, the ACD moves the task
it holds to that queue's line and routes it from then on; to a number or SIP URI, the task
ends as after any conversation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from callcenter import acd
from callcenter.calls.acd_service import AcdService

if TYPE_CHECKING:
    from callcenter.voice.twilio.call import TwilioCall

log = logging.getLogger(__name__)

Unreached = Callable[["TwilioCall", str], Awaitable[None]]


class AgentRouting:
    """Routes one call's task to ``agent_id`` (the call registers as its owner)."""

    def __init__(
        self,
        acd_service: AcdService,
        agent_id: str,
        on_unreached: Unreached,
    ) -> None:
        self.acd = acd_service
        self.agent_id = agent_id
        self.on_unreached = on_unreached
        self.owner: TwilioCall | None = None
        self.queue = ""
        self.offering = False
        self.in_call = False
        self._since = 0.0

    def register(self, task_id: str, owner: TwilioCall) -> None:
        self.owner = owner

    def forget(self, task_id: str) -> None:
        self.owner = None

    async def handle(self, event: acd.Event) -> list[acd.Action]:
        """As :meth:`AcdService.handle`: the actions, those for the call handed to it."""
        actions: list[acd.Action] = []
        match event:
            case acd.TaskArrived(task_id=task_id, queue=queue):
                self.queue, self._since, self.offering = queue, time.monotonic(), True
                actions.append(acd.OfferTask(task_id, self.agent_id, queue, 0.0))
            case acd.OfferAccepted(task_id=task_id, agent_id=agent) if (
                self.offering and agent == self.agent_id
            ):
                self.offering, self.in_call = False, True
                await self._tell_acd(acd.TaskAssigned(task_id, self.queue, agent))
                waited = time.monotonic() - self._since
                actions.append(acd.ConnectTask(task_id, agent, self.queue, waited))
            case acd.OfferTimedOut() | acd.OfferRejected() if self.offering:
                self.offering = False
                why = (
                    "did not answer the preview call"
                    if isinstance(event, acd.OfferTimedOut)
                    else "could not be reached (no Twilio address, busy or failed)"
                )
                if self.owner is not None:
                    reason = f"agent {self.agent_id} {why}"
                    self.owner.layer.spawn(self.on_unreached(self.owner, reason))
            case acd.TaskAbandoned(task_id=task_id) if self.offering:
                self.offering = False
                actions.append(acd.CancelOffer(task_id, self.agent_id, "the person hung up"))
            case acd.TaskCompleted(task_id=task_id) | acd.TaskAbandoned(task_id=task_id) if (
                self.in_call
            ):
                self.in_call = False
                await self._tell_acd(acd.TaskCompleted(task_id))
        owner = self.owner
        for action in actions:
            if owner is not None and isinstance(action, acd.OfferTask | acd.CancelOffer):
                owner.layer.spawn(owner.on_acd_action(action))  # it takes the call's lock
        return actions

    async def _tell_acd(self, event: acd.Event) -> None:
        try:
            await self.acd.handle(event)
        except acd.ACDError as exc:  # the agent answered: the call goes on outside the ACD
            log.warning("preview call: the ACD refused %s for agent %s: %s",
                        type(event).__name__, self.agent_id, exc)  # fmt: skip
