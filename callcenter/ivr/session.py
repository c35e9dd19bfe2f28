"""The flow interpreter: one :class:`FlowSession` per call, events in, actions out.

Sans-I/O in the manner of h11: :meth:`FlowSession.handle` never blocks,
sleeps, reads a clock or touches the network. It runs nodes until one needs
something from outside (caller input, a queue, an HTTP reply, a recording, a
transfer) and returns the actions so far; the adapter performs them and
feeds the answer back as the next event.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from callcenter.ivr import actions as act
from callcenter.ivr.business_hours import BusinessHours
from callcenter.ivr.context import clock_values
from callcenter.ivr.errors import ExpressionError, FlowStateError
from callcenter.ivr.events import (
    CallerHungUp,
    CallStarted,
    DigitsReceived,
    Event,
    GatherTimeout,
    HttpResult,
    PromptFinished,
    QueueOutcome,
    QueueResult,
    RecordingFinished,
    TransferResult,
)
from callcenter.ivr.expressions import Expression, compile_expression
from callcenter.ivr.model import (
    CallbackNode,
    ConditionNode,
    DoNotCallNode,
    EscalateNode,
    GatherNode,
    HangupNode,
    HttpNode,
    MenuNode,
    PlayNode,
    Prompt,
    QueueNode,
    RecordNode,
    ReturnNode,
    SayNode,
    SetNode,
    SubflowNode,
    SurveyNode,
    TransferNode,
    _InputNode,
    _Node,
)
from callcenter.ivr.source import Flow
from callcenter.ivr.templates import Sensitive, render_template, render_value, reveal

InputNode = MenuNode | GatherNode | SurveyNode
_STOP: str | None = None


@dataclass(frozen=True)
class PathStep:
    """One step of the IVR path kept for the call record; sensitive input is masked."""

    flow: str
    node: str
    detail: str = ""


@dataclass
class _Frame:
    flow: Flow
    return_to: str | None


class FlowSession:
    """Runs one call through ``flow``. Feed :class:`CallStarted` first.

    ``max_steps`` bounds how many nodes may run for one event, so a flow that
    loops without input hangs up with an error instead of spinning forever.
    """

    def __init__(self, flow: Flow, *, max_steps: int = 200) -> None:
        self.flow = flow
        self.max_steps = max_steps
        self.path: list[PathStep] = []
        self._frames: list[_Frame] = []
        self._variables: dict[str, object] = {}
        self._waiting: str | None = None
        self._attempts = 0
        self._now: datetime | None = None
        self._ended: act.FlowEnded | None = None
        self._expressions: dict[str, Expression] = {}
        self._calendars: dict[int, BusinessHours | None] = {}

    @property
    def started(self) -> bool:
        return bool(self._frames) or self._ended is not None

    @property
    def ended(self) -> act.FlowEnded | None:
        return self._ended

    @property
    def waiting_at(self) -> str | None:
        """The node waiting for an event, if any."""
        return self._waiting

    @property
    def variables(self) -> Mapping[str, object]:
        return dict(self._variables)

    def handle(self, event: Event) -> list[act.Action]:
        if isinstance(event, CallStarted):
            return self._start(event)
        if not self.started:
            raise FlowStateError(f"{type(event).__name__} before CallStarted")
        if self._ended is not None:
            return []  # late events (digits racing a hang-up) are normal; nothing to do
        if event.now is not None:
            self._now = event.now
        if isinstance(event, CallerHungUp):
            return self._end([], "caller hung up", hang_up=False)
        if isinstance(event, PromptFinished) or self._waiting is None:
            return []
        node_id = self._waiting
        node = self._node(node_id)
        match node, event:
            case MenuNode() | GatherNode() | SurveyNode(), DigitsReceived():
                return self._on_digits(node_id, node, event.digits)
            case MenuNode() | GatherNode() | SurveyNode(), GatherTimeout():
                self._step(node_id, "timeout")
                return self._retry(node_id, node, node.timeout_prompt)
            case QueueNode(), QueueResult():
                self._step(node_id, f"queue {event.outcome.value}")
                target = {
                    QueueOutcome.SERVED: node.next,
                    QueueOutcome.OVERFLOW: node.on_overflow,
                    QueueOutcome.CALLBACK: node.on_callback or node.on_overflow,
                }
                return self._run(target[event.outcome])
            case HttpNode(), HttpResult():
                return self._on_http(node_id, node, event)
            case RecordNode(), RecordingFinished():
                self._step(node_id, f"recorded {event.duration_s:.0f}s")
                out = self._store(node.store, event.recording) if node.store else []
                return self._run(node.next, out)
            case TransferNode(), TransferResult():
                self._step(
                    node_id, "transferred" if event.ok else f"transfer failed {event.reason}"
                )
                if event.ok:
                    return self._end([], f"transferred to {self._text(node.target)}", hang_up=False)
                if node.on_failure:
                    return self._run(node.on_failure)
                return self._end([], f"transfer failed: {event.reason}".rstrip(": "))
        return []  # an event the waiting node does not answer to (keys during HTTP, ...)

    # -- running nodes ---------------------------------------------------------------

    def _start(self, event: CallStarted) -> list[act.Action]:
        if self.started:
            raise FlowStateError("CallStarted twice for one session")
        if event.now.tzinfo is None:
            raise FlowStateError("CallStarted.now must be timezone-aware")
        self._now = event.now
        self._variables = {
            "caller": event.caller,
            "dialed": event.dialed,
            "call_id": event.call_id,
            "language": self.flow.spec.language,
        }
        self._variables.update(self.flow.spec.variables)
        self._variables.update(event.variables)
        self._frames = [_Frame(self.flow, None)]
        return self._run(self.flow.spec.start_node)

    def _run(self, target: str | None, actions: list[act.Action] | None = None) -> list[act.Action]:
        out = actions if actions is not None else []
        self._waiting = None
        for _ in range(self.max_steps):
            if target is None:
                return out
            target = self._enter(target, out)
        return self._end(out, f"flow error: more than {self.max_steps} steps without input")

    def _enter(self, node_id: str, out: list[act.Action]) -> str | None:
        """Run one node; return the next node id, or None when waiting or ended."""
        node = self._node(node_id)
        self._step(node_id)
        match node:
            case SayNode():
                out.append(self._say(node.text, node.language, node.voice))
                return node.next
            case PlayNode():
                out.append(act.Play(self._audio(node.file)))
                return node.next
            case MenuNode() | GatherNode() | SurveyNode():
                self._attempts = 0
                return self._wait(node_id, out, self._gather(node, node.prompt))
            case ConditionNode():
                for branch in node.branches:
                    if self._test(node_id, branch.when):
                        return branch.next
                return node.else_
            case SetNode():
                for name, value in node.values.items():
                    out += self._store(name, render_value(value, self._template_env()))
                for name, source in node.expressions.items():
                    out += self._store(name, self._evaluate(node_id, source))
                return node.next
            case HttpNode():
                env = self._template_env()
                body = render_value(node.body, env) if node.body is not None else None
                request = act.HttpRequest(
                    node.method,
                    _render_url(node.url, env),
                    node.timeout_s,
                    {k: render_template(v, env) for k, v in node.headers.items()},
                    body if isinstance(body, dict) else None,
                )
                return self._wait(node_id, out, request)
            case QueueNode():
                return self._wait(
                    node_id,
                    out,
                    act.Enqueue(
                        node.queue,
                        node.priority,
                        tuple(self._text(s) for s in node.skills),
                        node.announce_position,
                        node.announce_wait_time,
                        node.announce_every_s,
                        self._prompts(node.announcements),
                        self._audio(node.hold_music) if node.hold_music else None,
                        node.max_wait_s,
                        node.callback_key,
                    ),
                )
            case TransferNode():
                return self._wait(
                    node_id, out, act.Transfer(self._text(node.target), node.timeout_s)
                )
            case RecordNode():
                out.extend(self._prompts(node.prompt))
                return self._wait(
                    node_id,
                    out,
                    act.Record(node.max_s, node.beep, node.finish_key, node.type == "voicemail"),
                )
            case CallbackNode():
                out.append(act.RequestCallback(node.queue, self._text(node.number), node.priority))
                return node.next
            case EscalateNode():
                out.append(
                    act.CreateTicket(
                        node.category,
                        node.priority,
                        self._text(node.summary),
                        str(self._variables.get("caller", "")),
                        str(self._variables.get("call_id", "")),
                        self._text(node.recording) or None if node.recording else None,
                    )
                )
                return node.next
            case DoNotCallNode():
                out.append(act.AddToDoNotCall(self._text(node.number)))
                return node.next
            case SubflowNode():
                sub = self._frames[-1].flow.subflows[node.flow]
                self._frames.append(_Frame(sub, node.next))
                for name, value in sub.spec.variables.items():
                    self._variables.setdefault(name, value)
                return sub.spec.start_node
            case ReturnNode() if len(self._frames) > 1:
                return self._frames.pop().return_to
            case ReturnNode():
                self._end(out, "flow returned", node_id)
                return None
            case HangupNode():
                self._end(out, node.reason, node_id)
                return None
        raise AssertionError(f"unhandled node type {type(node).__name__}")

    def _wait(self, node_id: str, out: list[act.Action], action: act.Action) -> str | None:
        """Append the waiting action and stop running nodes (returns no next node)."""
        out.append(action)
        self._waiting = node_id
        return _STOP

    def _end(
        self, out: list[act.Action], reason: str, node: str | None = None, *, hang_up: bool = True
    ) -> list[act.Action]:
        if hang_up:
            out.append(act.HangUp(reason))
        self._ended = act.FlowEnded(reason, node)
        out.append(self._ended)
        self._waiting = None
        self._frames = []
        return out

    # -- caller input ----------------------------------------------------------------

    def _on_digits(self, node_id: str, node: InputNode, digits: str) -> list[act.Action]:
        match node:
            case MenuNode():
                self._step(node_id, f"pressed {digits[:1]!r}")
                if digits[:1] in node.options:
                    return self._run(node.options[digits[:1]])
            case GatherNode():
                value = digits.strip()
                self._step(node_id, f"entered {'****' if node.sensitive else value!r}")
                if value and (node.pattern is None or re.fullmatch(node.pattern, value)):
                    stored = Sensitive(value) if node.sensitive else value
                    return self._run(node.next, self._store(node.store, stored))
            case SurveyNode():
                self._step(node_id, f"answered {digits[:1]!r}")
                if len(digits) == 1 and digits.isdigit() and node.min <= int(digits) <= node.max:
                    out: list[act.Action] = [
                        act.SurveyAnswer(node.survey, node.question, int(digits))
                    ]
                    if node.store:
                        out += self._store(node.store, int(digits))
                    return self._run(node.next, out)
        return self._retry(node_id, node, node.invalid_prompt)

    def _retry(self, node_id: str, node: InputNode, before: list[Prompt]) -> list[act.Action]:
        self._attempts += 1
        if self._attempts <= node.retries:
            return self._wait_list(node_id, self._gather(node, [*before, *node.prompt]))
        if node.on_failure is not None:
            return self._run(node.on_failure)
        return self._end(list(self._prompts(before)), f"no valid input at {node_id}", node_id)

    def _wait_list(self, node_id: str, action: act.Action) -> list[act.Action]:
        self._waiting = node_id
        return [action]

    def _gather(self, node: _InputNode, prompts: list[Prompt]) -> act.Gather:
        if isinstance(node, GatherNode):
            return act.Gather(
                self._prompts(prompts),
                node.timeout_s,
                node.num_digits,
                node.max_digits,
                node.finish_key,
                node.sensitive,
            )
        return act.Gather(self._prompts(prompts), node.timeout_s, num_digits=1, max_digits=1)

    def _on_http(self, node_id: str, node: HttpNode, event: HttpResult) -> list[act.Action]:
        self._step(node_id, f"http {event.status or ''} {'ok' if event.ok else 'failed'}")
        out = self._store("http_status", event.status)
        if not event.ok:
            return self._run(node.on_failure, out)
        for name, path in node.map.items():
            out += self._store(name, _lookup(event.json, path))
        return self._run(node.next, out)

    # -- values ----------------------------------------------------------------------

    def _node(self, node_id: str) -> _Node:
        return self._frames[-1].flow.spec.nodes[node_id]

    def _step(self, node_id: str, detail: str = "") -> None:
        self.path.append(PathStep(self._frames[-1].flow.name, node_id, detail))

    def _store(self, name: str, value: object) -> list[act.Action]:
        self._variables[name] = value
        return [act.SetVariable(name, value)]

    def _clock(self) -> dict[str, object]:
        flow = self._frames[-1].flow
        if id(flow) not in self._calendars:
            self._calendars[id(flow)] = flow.calendar
        assert self._now is not None
        return clock_values(self._now, flow.timezone, self._calendars[id(flow)])

    def _template_env(self) -> dict[str, object]:
        return {**self._clock(), **self._variables}

    def _text(self, template: str) -> str:
        return render_template(template, self._template_env())

    def _evaluate(self, node_id: str, source: str) -> object:
        expression = self._expressions.get(source)
        if expression is None:
            expression = self._expressions[source] = compile_expression(source)
        env = {**self._clock(), **{k: reveal(v) for k, v in self._variables.items()}}
        try:
            return expression.evaluate(env)
        except ExpressionError as exc:
            # A runtime failure (int('') and the like) counts as false / empty; the path
            # keeps the reason so an author can see it in the call record.
            self._step(node_id, f"expression error: {exc}")
            return None

    def _test(self, node_id: str, source: str) -> bool:
        return bool(self._evaluate(node_id, source))

    def _language(self, language: str | None) -> str:
        return language or str(self._variables.get("language") or self.flow.spec.language)

    def _say(self, text: str | dict[str, str], language: str | None, voice: str | None) -> act.Say:
        lang = self._language(language)
        if isinstance(text, dict):
            text = _pick_language(text, lang, self.flow.spec.language)
        return act.Say(self._text(text), lang, voice or self.flow.spec.voice)

    def _audio(self, file: str) -> str:
        if file.startswith(("http://", "https://")):
            return file
        return str(self._frames[-1].flow.resolve(self._text(file)))

    def _prompts(self, prompts: list[Prompt]) -> tuple[act.Prompt, ...]:
        return tuple(
            act.Play(self._audio(p.play))
            if p.play is not None
            else self._say(p.say or "", p.language, p.voice)
            for p in prompts
        )


def _pick_language(texts: dict[str, str], language: str, default: str) -> str:
    for want in (language, language.split("-")[0], default, default.split("-")[0]):
        for key, value in texts.items():
            if key.lower() == want.lower():
                return value
    return next(iter(texts.values()))


def _render_url(url: str, env: Mapping[str, object]) -> str:
    """Values are URL-quoted, except a leading placeholder: that one is a base URL."""
    base = re.match(r"^\{[A-Za-z_]\w*\}", url)
    head = render_template(base.group(0), env) if base else ""
    rest = url[base.end() :] if base else url
    return head + render_template(rest, env, lambda v: urllib.parse.quote(v, safe=""))


def _lookup(data: object, path: str) -> object:
    for part in path.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data
