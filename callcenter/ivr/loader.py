"""Reading flow files: YAML -> :class:`Flow`, every problem as a :class:`FlowError` with a line.

``load_flow`` is the entry point for the engine (it raises); ``check_flows`` is
the entry point for tools (it returns every problem in every file).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]
from pydantic import ValidationError

from callcenter.ivr.errors import FlowError, FlowErrors
from callcenter.ivr.model import NODE_TYPES, FlowSpec, SubflowNode
from callcenter.ivr.source import Flow, SourceMap
from callcenter.ivr.validator import validate

_HINTS = {
    "next": "say where the call goes after this node (a node id), "
    "or end the call with a `hangup` node",
    "on_failure": "say where the call goes when this step fails (a node id)",
    "on_overflow": "say where the caller goes when the queue is full or has no agents",
}


def load_flow(path: str | Path, known_queues: AbstractSet[str] | None = None) -> Flow:
    """Parse and validate a flow file (and its sub-flows); raise :class:`FlowErrors`."""
    flow, errors = _parse(str(path), stack=())
    if flow is not None:
        for each in _with_subflows(flow):
            errors += validate(each, known_queues)
    if errors:
        raise FlowErrors(errors)
    assert flow is not None
    return flow


def check_flows(
    paths: Iterable[str | Path], known_queues: AbstractSet[str] | None = None
) -> list[FlowError]:
    """Every problem in every file, sorted; an empty list means all files are valid."""
    found: list[FlowError] = []
    for path in paths:
        try:
            load_flow(path, known_queues)
        except FlowErrors as exc:
            found.extend(exc.errors)
    return list(FlowErrors(found).errors)


def parse_flow(path: str | Path) -> Flow:
    """Parse the schema only (no semantic checks); raise :class:`FlowErrors`."""
    flow, errors = _parse(str(path), stack=())
    if errors or flow is None:
        raise FlowErrors(errors)
    return flow


def _parse(file: str, stack: tuple[Path, ...]) -> tuple[Flow | None, list[FlowError]]:
    try:
        text = Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        return None, [FlowError(file, 0, f"cannot read the flow file: {exc.strerror or exc}")]
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [FlowError(file, line, f"YAML syntax error: {problem}")]
    errors = list(_duplicate_keys(file, root))
    if not isinstance(data, dict):
        return None, errors + [FlowError(file, 1, "a flow file must be a mapping with `nodes:`")]
    source = SourceMap(root)
    try:
        spec = FlowSpec.model_validate(data)
    except ValidationError as exc:
        return None, errors + [_schema_error(file, source, e) for e in exc.errors()]
    flow = Flow(spec, file, source)
    subflows: dict[str, Flow] = {}
    here = Path(file).resolve()
    for node_id, node in spec.nodes.items():
        if not isinstance(node, SubflowNode) or node.flow in subflows:
            continue
        line = flow.node_line(node_id, "flow")
        target = flow.resolve(node.flow)
        if target.resolve() in (*stack, here):
            errors.append(
                FlowError(
                    file,
                    line,
                    f"subflow {node.flow!r} calls back into "
                    "itself; sub-flows must not be recursive",
                )
            )
            continue
        if not target.is_file():
            errors.append(
                FlowError(
                    file, line, f"subflow file {node.flow!r} not found (looked in {flow.directory})"
                )
            )
            continue
        sub, sub_errors = _parse(str(target), (*stack, here))
        errors += sub_errors
        if sub is not None:
            subflows[node.flow] = sub
    return Flow(spec, file, source, subflows), errors


def _with_subflows(flow: Flow) -> list[Flow]:
    found: dict[str, Flow] = {}
    todo = [flow]
    while todo:
        each = todo.pop()
        key = str(Path(each.file).resolve())
        if key not in found:
            found[key] = each
            todo.extend(each.subflows.values())
    return list(found.values())


def _duplicate_keys(file: str, node: Any) -> Iterable[FlowError]:
    # YAML silently keeps the last of two equal keys: two nodes with one id would vanish.
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if key.value in seen:
                yield FlowError(
                    file,
                    key.start_mark.line + 1,
                    f"duplicate key {key.value!r}; each key (and node id) "
                    "may appear once in a mapping",
                )
            seen.add(key.value)
            yield from _duplicate_keys(file, value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _duplicate_keys(file, item)


def _schema_error(file: str, source: SourceMap, error: Any) -> FlowError:
    loc: tuple[str | int, ...] = tuple(error["loc"])
    line = source.line(loc)
    kind, msg = error["type"], error["msg"]
    where = "top level"
    rest = loc
    if len(loc) >= 2 and loc[0] == "nodes":
        node_id, rest = loc[1], loc[2:]
        if kind == "union_tag_invalid" and not rest:
            return FlowError(
                file,
                line,
                f"node {node_id!r}: unknown type "
                f"{error['input'].get('type')!r}; use one of: "
                f"{', '.join(NODE_TYPES)}",
            )
        if kind == "union_tag_not_found":
            return FlowError(
                file, line, f"node {node_id!r} has no `type:`; use one of: {', '.join(NODE_TYPES)}"
            )
        if rest and isinstance(rest[0], str) and rest[0] in NODE_TYPES:
            where = f"node {node_id!r} ({rest[0]})"
            rest = rest[1:]
        else:
            where = f"node {node_id!r}"
    field = ".".join(str(p) for p in rest)
    if kind == "missing":
        hint = _HINTS.get(str(rest[-1]) if rest else "", "add it")
        return FlowError(file, line, f"{where}: `{field}` is required; {hint}")
    if kind == "extra_forbidden":
        return FlowError(
            file,
            line,
            f"{where}: unknown field `{field}`; check the spelling "
            "(see ivr_flows/README.md for the fields of each node type)",
        )
    msg = msg.removeprefix("Value error, ")
    return FlowError(file, line, f"{where}: `{field}`: {msg}" if field else f"{where}: {msg}")
