"""A console stand-in for a voice layer, so an author can walk a flow without a phone.

Prompts are shown as text; the author types keys (Enter alone is a timeout)
and chooses the outcome of queues, HTTP calls, recordings and transfers.
Input and output are injected callables, so this module does no I/O itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from callcenter.ivr import actions as act
from callcenter.ivr.events import (
    CallerHungUp,
    CallStarted,
    DigitsReceived,
    Event,
    GatherTimeout,
    HttpResult,
    QueueOutcome,
    QueueResult,
    RecordingFinished,
    TransferResult,
)
from callcenter.ivr.session import FlowSession

HANG_UP = "h"


def describe(action: act.Action) -> str:
    """One line per action, as the console shows it."""
    match action:
        case act.Say():
            return f"SAY [{action.language}] {action.text}"
        case act.Play():
            return f"PLAY {action.file}"
        case act.Gather():
            parts = [f"up to {action.num_digits or action.max_digits} key(s)"]
            if action.finish_key:
                parts.append(f"end with {action.finish_key}")
            parts.append(f"timeout {action.timeout_s:g}s")
            if action.sensitive:
                parts.append("sensitive")
            prompts = "".join(describe(p) + "\n" for p in action.prompts)
            return f"{prompts}GATHER {', '.join(parts)}"
        case act.Enqueue():
            extra = f", skills {', '.join(action.skills)}" if action.skills else ""
            return f"QUEUE {action.queue} (priority {action.priority}{extra}) - simulated"
        case act.Transfer():
            return f"TRANSFER to {action.target} - simulated"
        case act.Record():
            return (
                f"RECORD {'voicemail ' if action.voicemail else ''}up to {action.max_s}s"
                " - simulated"
            )
        case act.HttpRequest():
            return f"HTTP {action.method} {action.url} body={action.body!r} - simulated"
        case act.SurveyAnswer():
            return f"SURVEY {action.survey}.{action.question_id} = {action.value}"
        case act.CreateTicket():
            return f"TICKET {action.category}/{action.priority}: {action.summary}"
        case act.RequestCallback():
            return f"CALLBACK {action.number} from queue {action.queue}"
        case act.AddToDoNotCall():
            return f"DO-NOT-CALL {action.number}"
        case act.SetVariable():
            return f"  {action.name} = {action.value!r}"
        case act.HangUp():
            return f"HANG UP ({action.reason})"
        case act.FlowEnded():
            return f"END: {action.reason}"
    return repr(action)


class ConsoleCall:
    """Walks one call: ``ask(question) -> answer`` (EOFError = hang up), ``show(line)``."""

    def __init__(
        self,
        session: FlowSession,
        ask: Callable[[str], str],
        show: Callable[[str], None],
        *,
        show_variables: bool = False,
    ) -> None:
        self.session = session
        self.ask = ask
        self.show = show
        self.show_variables = show_variables

    def run(self, start: CallStarted) -> act.FlowEnded:
        actions = self.session.handle(start)
        while True:
            for action in actions:
                if self.show_variables or not isinstance(action, act.SetVariable):
                    self.show(describe(action))
            if self.session.ended is not None:
                return self.session.ended
            try:
                event = self._answer(actions[-1])
            except EOFError:
                event = CallerHungUp()
            actions = self.session.handle(event)

    def _choose(self, question: str, choices: dict[str, Event]) -> Event:
        while True:
            reply = self.ask(question).strip().lower()[:1]
            if reply in choices:
                return choices[reply]
            if not reply:
                return next(iter(choices.values()))
            self.show(f"  please answer one of: {', '.join(choices)}")

    def _answer(self, action: act.Action) -> Event:
        hang_up: dict[str, Event] = {HANG_UP: CallerHungUp()}
        match action:
            case act.Gather():
                while True:
                    keys = self.ask("keys (Enter = timeout, h = hang up)> ").strip()
                    if keys.lower() == HANG_UP:
                        return CallerHungUp()
                    if not keys:
                        return GatherTimeout()
                    if all(k in "0123456789*#" for k in keys):
                        if action.finish_key and action.finish_key in keys:
                            keys = keys[: keys.index(action.finish_key)]
                        return DigitsReceived(keys, sensitive=action.sensitive)
                    self.show("  keys are 0-9, * and #")
            case act.Enqueue():
                return self._choose(
                    "[s]erved by an agent, [o]verflow, [c]allback, [h]ang up> ",
                    {
                        "s": QueueResult(QueueOutcome.SERVED),
                        "o": QueueResult(QueueOutcome.OVERFLOW),
                        "c": QueueResult(QueueOutcome.CALLBACK),
                        **hang_up,
                    },
                )
            case act.Transfer():
                return self._choose(
                    "[c]onnected, [f]ailed, [h]ang up> ",
                    {"c": TransferResult(True), "f": TransferResult(False, "busy"), **hang_up},
                )
            case act.Record():
                self.show("  (the caller speaks; recording simulated)")
                return RecordingFinished("simulated-recording.wav", 10.0)
            case act.HttpRequest():
                while True:
                    reply = self.ask("reply JSON (Enter = request failed)> ").strip()
                    if not reply:
                        return HttpResult(False, 0, error="simulated failure")
                    try:
                        return HttpResult(True, 200, json.loads(reply))
                    except json.JSONDecodeError as exc:
                        self.show(f"  not JSON: {exc}")
        raise AssertionError(f"nothing waits on {action!r}")
