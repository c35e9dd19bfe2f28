"""Semantic checks of a parsed flow: the facts the schema alone cannot see.

Unknown targets, unreachable nodes, dead ends, loops that take no input,
unknown queues, missing audio files, unknown names in expressions and
templates, and sensitive values that would leak into a prompt or a URL.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from collections.abc import Set as AbstractSet

from callcenter.ivr.context import CALENDAR_NAMES, CALL_NAMES, TIME_NAMES
from callcenter.ivr.errors import FlowError
from callcenter.ivr.expressions import compile_expression
from callcenter.ivr.model import (
    CallbackNode,
    ConditionNode,
    DoNotCallNode,
    EscalateNode,
    GatherNode,
    HttpNode,
    PlayNode,
    Prompt,
    QueueNode,
    RecordNode,
    SayNode,
    SetNode,
    SubflowNode,
    SurveyNode,
    TransferNode,
    _Node,
)
from callcenter.ivr.source import Flow
from callcenter.ivr.templates import collect_template_names, template_names

Path_ = tuple[str | int, ...]


def validate(flow: Flow, known_queues: AbstractSet[str] | None = None) -> list[FlowError]:
    """Every semantic problem of ``flow`` (not of its sub-flows)."""
    checks = _Checks(flow, known_queues)
    return checks.run()


class _Checks:
    def __init__(self, flow: Flow, known_queues: AbstractSet[str] | None) -> None:
        self.flow = flow
        self.nodes = flow.spec.nodes
        self.known_queues = known_queues
        self.errors: list[FlowError] = []

    def error(self, line: int, message: str) -> None:
        self.errors.append(FlowError(self.flow.file, line, message))

    def run(self) -> list[FlowError]:
        start = self.flow.spec.start_node
        if start not in self.nodes:
            self.error(
                self.flow.line("start"),
                f"start node {start!r} does not exist{self._suggest(start)}",
            )
            return self.errors
        self._targets()
        if not self.errors:  # with broken routes, reachability would only repeat them
            graph = {nid: [t for _, _, t in node.routes()] for nid, node in self.nodes.items()}
            self._unreachable(start, graph)
            self._dead_ends(graph)
            self._loops_without_input(graph)
        for node_id, node in self.nodes.items():
            self._queues(node_id, node)
            self._audio(node_id, node)
        self._names()
        return self.errors

    def _suggest(self, name: str) -> str:
        close = difflib.get_close_matches(name, list(self.nodes), n=1)
        return (
            f"; did you mean {close[0]!r}?" if close else f"; known nodes: {', '.join(self.nodes)}"
        )

    def _targets(self) -> None:
        for node_id, node in self.nodes.items():
            for _, path, target in node.routes():
                if target not in self.nodes:
                    self.error(
                        self.flow.node_line(node_id, *path),
                        f"node {node_id!r}: `{'.'.join(map(str, path))}` goes to "
                        f"unknown node {target!r}{self._suggest(target)}",
                    )

    def _unreachable(self, start: str, graph: dict[str, list[str]]) -> None:
        seen = {start}
        todo = [start]
        while todo:
            for target in graph[todo.pop()]:
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        for node_id in self.nodes:
            if node_id not in seen:
                self.error(
                    self.flow.node_line(node_id),
                    f"node {node_id!r} is unreachable "
                    f"from the start node {start!r}; route a node to it or delete it",
                )

    def _dead_ends(self, graph: dict[str, list[str]]) -> None:
        # A node is fine when some path from it ends the call; walk backwards from the ends.
        finishing = {
            nid for nid, node in self.nodes.items() if node.ENDS_CALL or node.implicit_hangup()
        }
        changed = True
        while changed:
            changed = False
            for node_id, targets in graph.items():
                if node_id not in finishing and any(t in finishing for t in targets):
                    finishing.add(node_id)
                    changed = True
        for node_id in self.nodes:
            if node_id not in finishing:
                self.error(
                    self.flow.node_line(node_id),
                    f"dead end: no path from node {node_id!r} ever ends the call "
                    "(hangup, transfer or return); the caller would be stuck",
                )

    def _loops_without_input(self, graph: dict[str, list[str]]) -> None:
        passive = {
            nid
            for nid, node in self.nodes.items()
            if not node.WAITS_FOR_CALLER and not isinstance(node, SubflowNode)
        }
        reported: set[frozenset[str]] = set()
        order = list(self.nodes)
        for first in order:
            if first not in passive:
                continue
            cycle = _find_cycle(first, {n: [t for t in graph[n] if t in passive] for n in passive})
            if cycle and frozenset(cycle) not in reported:
                reported.add(frozenset(cycle))
                self.error(
                    self.flow.node_line(first),
                    "loop without caller input: "
                    + " -> ".join([*cycle, cycle[0]])
                    + "; the call would spin forever; put a menu or gather in the "
                    "loop or route one branch out of it",
                )

    def _queues(self, node_id: str, node: _Node) -> None:
        if self.known_queues is None or not isinstance(node, QueueNode | CallbackNode):
            return
        if node.queue not in self.known_queues:
            self.error(
                self.flow.node_line(node_id, "queue"),
                f"node {node_id!r}: unknown queue {node.queue!r}; configured queues: "
                f"{', '.join(sorted(self.known_queues)) or '(none)'}",
            )

    def _audio(self, node_id: str, node: _Node) -> None:
        for path, file in _audio_files(node):
            if "{" in file or file.startswith(("http://", "https://")):
                continue
            if not self.flow.resolve(file).is_file():
                self.error(
                    self.flow.node_line(node_id, *path),
                    f"node {node_id!r}: audio file {file!r} not found (paths are "
                    f"relative to the flow file: {self.flow.directory})",
                )

    def _names(self) -> None:
        spec = self.flow.spec
        known = set(CALL_NAMES | TIME_NAMES | set(spec.variables))
        if spec.business_hours is not None:
            known |= CALENDAR_NAMES
        sensitive: set[str] = set()
        for node in self.nodes.values():
            known |= _stored_names(node)
            if isinstance(node, GatherNode) and node.sensitive:
                sensitive.add(node.store)
        for node_id, node in self.nodes.items():
            for path, names, in_template in _used_names(node):
                for name in sorted(names - known):
                    hint = (
                        "add a `business_hours:` section to the flow"
                        if name in CALENDAR_NAMES
                        else "declare it under `variables:` or set it with a set, gather, "
                        "survey, record or http node"
                    )
                    self.error(
                        self.flow.node_line(node_id, *path),
                        f"node {node_id!r}: unknown name {name!r}; {hint}",
                    )
                for name in sorted(names & sensitive) if in_template else ():
                    self.error(
                        self.flow.node_line(node_id, *path),
                        f"node {node_id!r}: sensitive variable {name!r} would be "
                        "masked here; send it only as a whole http body value "
                        f"(body: {{key: '{{{name}}}'}})",
                    )


def _find_cycle(first: str, graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle through ``first`` in ``graph``, as a node list, or None."""
    stack: list[tuple[str, list[str]]] = [(first, [first])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for target in graph.get(node, []):
            if target == first:
                return path
            if target not in seen:
                seen.add(target)
                stack.append((target, [*path, target]))
    return None


def _prompt_fields(node: _Node) -> Iterator[tuple[str, list[Prompt]]]:
    for name in ("prompt", "invalid_prompt", "timeout_prompt", "announcements"):
        prompts = getattr(node, name, None)
        if isinstance(prompts, list):
            yield name, prompts


def _audio_files(node: _Node) -> Iterator[tuple[Path_, str]]:
    if isinstance(node, PlayNode):
        yield ("file",), node.file
    if isinstance(node, QueueNode) and node.hold_music:
        yield ("hold_music",), node.hold_music
    for name, prompts in _prompt_fields(node):
        for i, prompt in enumerate(prompts):
            if prompt.play is not None:
                yield (name, i, "play"), prompt.play


def _stored_names(node: _Node) -> set[str]:
    match node:
        case GatherNode(store=store):
            return {store}
        case SurveyNode(store=store) | RecordNode(store=store):
            return {store} if store else set()
        case HttpNode():
            return set(node.map) | {"http_status"}
        case SetNode():
            return set(node.values) | set(node.expressions)
    return set()


def _texts(value: str | dict[str, str] | None) -> set[str]:
    if value is None:
        return set()
    return (
        template_names(value)
        if isinstance(value, str)
        else set().union(*(template_names(v) for v in value.values()))
    )


def _used_names(node: _Node) -> Iterator[tuple[Path_, set[str], bool]]:
    """(path, names, is a template whose text is rendered) for every reference."""
    if isinstance(node, ConditionNode):
        for i, branch in enumerate(node.branches):
            yield ("branches", i, "when"), set(compile_expression(branch.when).names), False
    if isinstance(node, SetNode):
        for var, source in node.expressions.items():
            yield ("expressions", var), set(compile_expression(source).names), False
        for var, value in node.values.items():
            yield ("values", var), collect_template_names(value), True
    if isinstance(node, SayNode):
        yield ("text",), _texts(node.text), True
    for name, prompts in _prompt_fields(node):
        for i, prompt in enumerate(prompts):
            yield (name, i), _texts(prompt.say), True
    if isinstance(node, HttpNode):
        yield ("url",), template_names(node.url), True
        yield ("headers",), collect_template_names(node.headers), True
        body = node.body or {}
        for key, value in body.items():
            whole = (
                isinstance(value, str)
                and template_names(value)
                and value.strip() == "{" + next(iter(template_names(value))) + "}"
            )
            yield ("body", key), collect_template_names(value), not whole
    if isinstance(node, EscalateNode):
        yield ("summary",), template_names(node.summary), True
        yield ("recording",), template_names(node.recording or ""), True
    if isinstance(node, CallbackNode | DoNotCallNode):
        yield ("number",), template_names(node.number), True
    if isinstance(node, TransferNode):
        yield ("target",), template_names(node.target), True
    if isinstance(node, QueueNode):
        yield ("skills",), collect_template_names(node.skills), True
