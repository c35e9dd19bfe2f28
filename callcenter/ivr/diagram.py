"""Flow diagrams for supervisors: DOT text, laid out to SVG by Graphviz ``dot``.

We generate DOT and let Graphviz (Debian package ``graphviz``) do the layout,
because laying out a directed graph with labelled edges readably is the hard
part and Graphviz does it well; writing SVG by hand would mean writing a
layout engine. :func:`flow_to_dot` is pure; :func:`render_svg` runs ``dot``.
"""

from __future__ import annotations

import shutil
import subprocess

from callcenter.ivr.model import (
    ConditionNode,
    EscalateNode,
    GatherNode,
    HttpNode,
    MenuNode,
    Prompt,
    QueueNode,
    SayNode,
    SubflowNode,
    SurveyNode,
    TransferNode,
    _Node,
)
from callcenter.ivr.source import Flow

_STYLE = {  # (shape, fill colour) per node type
    "say": ("note", "#eef5ff"),
    "play": ("note", "#eef5ff"),
    "menu": ("box", "#fff2cc"),
    "gather": ("box", "#fff2cc"),
    "survey": ("box", "#fff2cc"),
    "condition": ("diamond", "#f3e5f5"),
    "http": ("component", "#e0f7fa"),
    "set": ("box", "#f5f5f5"),
    "queue": ("box3d", "#e8f5e9"),
    "callback": ("box", "#e8f5e9"),
    "transfer": ("cds", "#e8f5e9"),
    "record": ("box", "#fce4ec"),
    "voicemail": ("box", "#fce4ec"),
    "escalate": ("octagon", "#ffe0b2"),
    "do_not_call": ("octagon", "#ffcdd2"),
    "subflow": ("folder", "#ede7f6"),
    "return": ("oval", "#cfd8dc"),
    "hangup": ("doublecircle", "#cfd8dc"),
}


class DiagramError(RuntimeError):
    """Graphviz is missing or failed."""


def flow_to_dot(flow: Flow) -> str:
    spec = flow.spec
    lines = [
        f"digraph {_quote(flow.name)} {{",
        "  rankdir=TB; node [fontname=Helvetica fontsize=11 style=filled];",
        "  edge [fontname=Helvetica fontsize=9];",
        f"  label={_quote(flow.name + (' - ' + spec.description if spec.description else ''))};",
        "  labelloc=t;",
        '  __start [shape=circle label="" width=0.25 fillcolor=black];',
        f"  __start -> {_quote(spec.start_node)};",
    ]
    for node_id, node in spec.nodes.items():
        shape, colour = _STYLE.get(node.type, ("box", "white"))
        label = f"{node_id}\\n[{node.type}]"
        detail = _detail(node)
        if detail:
            label += "\\n" + _escape(_shorten(detail))
        lines.append(
            f'  {_quote(node_id)} [shape={shape} fillcolor={_quote(colour)} label="{label}"];'
        )
        for edge_label, _, target in node.routes():
            label_text = "" if edge_label == "next" else _escape(_shorten(edge_label, 30))
            lines.append(f'  {_quote(node_id)} -> {_quote(target)} [label="{label_text}"];')
        if node.implicit_hangup():
            lines.append(f"  {_quote(node_id + '__end')} [shape=point width=0.15];")
            lines.append(
                f"  {_quote(node_id)} -> {_quote(node_id + '__end')} "
                '[style=dashed label="hang up"];'
            )
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_svg(flow: Flow, dot_binary: str = "dot") -> bytes:
    """The flow diagram as SVG; raises :class:`DiagramError` if Graphviz is missing."""
    if shutil.which(dot_binary) is None:
        raise DiagramError(
            f"Graphviz {dot_binary!r} not found; install the Debian package "
            "'graphviz' (apt-get install graphviz)"
        )
    done = subprocess.run(
        [dot_binary, "-Tsvg"],
        input=flow_to_dot(flow).encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise DiagramError(f"dot failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def _prompt_text(prompts: list[Prompt]) -> str:
    for prompt in prompts:
        if prompt.play is not None:
            return f"♪ {prompt.play}"
        say = prompt.say
        return next(iter(say.values())) if isinstance(say, dict) else (say or "")
    return ""


def _detail(node: _Node) -> str:
    match node:
        case SayNode(text=text):
            return next(iter(text.values())) if isinstance(text, dict) else text
        case MenuNode() | SurveyNode():
            return _prompt_text(node.prompt)
        case GatherNode():
            return f"-> {node.store}" + (" (sensitive)" if node.sensitive else "")
        case HttpNode():
            return f"{node.method} {node.url}"
        case QueueNode():
            return f"queue {node.queue}"
        case TransferNode():
            return f"to {node.target}"
        case EscalateNode():
            return f"ticket: {node.category} / {node.priority}"
        case SubflowNode():
            return node.flow
        case ConditionNode():
            return ""
    return ""


def _shorten(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _quote(text: str) -> str:
    return '"' + _escape(text) + '"'
