"""Nailed-up agents: a softphone dials the login number, logs in by keypad and stays connected.

Offered calls are bridged onto the open line at once with a short tone, no ringing (what the
dialer needs to connect a live answer within 2 s). On the line, while idle: ``*`` pauses or
resumes, ``0`` logs out; while talking: ``#`` releases the customer. A failed login says the same
for an unknown agent and a wrong PIN (no enumeration), and hangs up after three tries. When the
line drops, the agent leaves the queues at once, with the reason recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from callcenter import acd, ivr
from callcenter.logs import call_context
from callcenter.store import AgentRepository
from callcenter.voice.sip import events as ev
from callcenter.voice.sip.inbound import CallerGone, SipCall

if TYPE_CHECKING:
    from callcenter.voice.sip.layer import SipVoiceLayer

log = logging.getLogger(__name__)

LOGIN_TRIES = 3


@dataclass(frozen=True)
class AgentReleased:
    """Delivered to a call when its nailed-up agent ends the conversation (or the line drops)."""

    agent_id: str
    reason: str


class AgentLine(SipCall):
    """The agent's open line; reuses SipCall's prompt and keypad handling."""

    def __init__(self, layer: SipVoiceLayer, incoming: ev.IncomingCall) -> None:
        super().__init__(layer, incoming, flow=None)
        self.agent_id: str | None = None
        self.customer: SipCall | None = None
        self.paused = False

    async def run(self) -> None:
        with call_context(f"line-{self.leg}"):
            try:
                await self._run_line()
            except CallerGone:
                pass
            except Exception:
                log.exception("agent line failed")
                await self.stack.hangup(self.leg, 500)
            finally:
                await self.stop_listening()
                await self._logout("nailed-up line dropped" if self.gone else "line closed")

    async def say(self, text: str) -> None:
        await self.play_prompts([ivr.Say(text, self.layer.settings.sip.language)], False)

    async def ask(self, text: str, sensitive: bool = False) -> str:
        prompt = ivr.Say(text, self.layer.settings.sip.language)
        got = await self.gather(
            ivr.Gather((prompt,), timeout_s=8, max_digits=12, finish_key="#", sensitive=sensitive)
        )
        return got.digits if isinstance(got, ivr.DigitsReceived) else ""

    async def _run_line(self) -> None:
        await self.stack.answer(self.leg)
        await self.next(5.0, lambda i: isinstance(i, ev.LegMediaReady) and i.leg_id == self.leg)
        self.listen_for_keys()
        code = await self._login()
        if code is None:
            await self.say("Login failed. Goodbye.")
            await self.stack.hangup(self.leg, 200)
            return
        old = self.layer.lines.get(code)
        if old is not None:
            old.deliver(ev.LegEnded(old.leg, 0, "logged in on another line"))
        self.agent_id = code
        self.layer.lines[code] = self
        await self.say("You are logged in and ready. A tone announces each call.")
        await self.layer.acd.handle(acd.AgentLoggedIn(code))
        await self.layer.acd.handle(acd.AgentReady(code))
        log.info("agent %s logged in on a nailed-up line", code)
        await self._idle()

    async def _login(self) -> str | None:
        for _ in range(LOGIN_TRIES):
            code = await self.ask("Please enter your agent number, then press hash.")
            pin = await self.ask("Please enter your PIN, then press hash.", sensitive=True)

            def check(s: Any, code: str = code, pin: str = pin) -> str | None:
                agent = AgentRepository(s).check_login(code, pin)
                return agent.code if agent is not None else None

            found = await self.layer.cdr.db.run(check)
            if found is not None and found in self.layer.directory.agents:
                return found
            # The same words for an unknown agent and a wrong PIN: nothing to enumerate.
            await self.say("That agent number and PIN do not match.")
        return None

    async def _idle(self) -> None:
        while True:
            item = await self.next(
                None, lambda i: isinstance(i, ev.DtmfReceived) and i.leg_id == self.leg
            )
            assert isinstance(item, ev.DtmfReceived) and self.agent_id is not None
            if self.customer is not None:
                if item.digit == "#":
                    self.customer.deliver(AgentReleased(self.agent_id, "agent pressed #"))
                continue
            if item.digit == "*":
                self.paused = not self.paused
                event: acd.Event = (
                    acd.AgentPaused(self.agent_id, "paused from the phone")
                    if self.paused
                    else acd.AgentReady(self.agent_id)
                )
                await self.layer.acd.handle(event)
                await self.say("Paused." if self.paused else "Ready.")
            elif item.digit == "0":
                await self.say("Logged out. Goodbye.")
                await self.stack.hangup(self.leg, 200)
                return

    async def _logout(self, reason: str) -> None:
        code, self.agent_id = self.agent_id, None
        if code is None:
            return
        if self.layer.lines.get(code) is self:
            del self.layer.lines[code]
        if self.customer is not None:
            self.customer.deliver(AgentReleased(code, reason))
        await self.layer.acd.handle(acd.AgentLoggedOut(code))
        log.info("agent %s logged out: %s", code, reason)

    async def connect_tone(self) -> None:
        """The short tone that tells a nailed-up agent a customer is on the line."""
        await self.stack.play(self.leg, str(self.layer.beep_wav))  # no wait: bridge at once
