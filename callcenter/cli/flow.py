"""``callcenter flow``: validate, draw and try IVR flows."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from callcenter.ivr import CallStarted, FlowErrors, FlowSession, flow_to_dot, load_flow
from callcenter.ivr import check_flows as _check_flows
from callcenter.ivr.console import ConsoleCall
from callcenter.ivr.diagram import DiagramError, render_svg

app = typer.Typer(
    help="Author IVR flows: validate them, draw them, try them without a phone.",
    no_args_is_help=True,
)


def _queues(queues: str | None) -> frozenset[str] | None:
    return frozenset(q.strip() for q in queues.split(",") if q.strip()) if queues else None


def _fail(errors: FlowErrors) -> typer.Exit:
    for error in errors.errors:
        typer.echo(str(error), err=True)
    return typer.Exit(1)


@app.command()
def validate(
    files: list[Path] = typer.Argument(..., help="Flow files (YAML)."),
    queues: str | None = typer.Option(
        None, help="Comma-separated queue names; any other queue is an error."
    ),
) -> None:
    """Check flow files; print file:line: message per problem, exit 1 if any."""
    errors = _check_flows(files, _queues(queues))
    if errors:
        raise _fail(FlowErrors(errors))
    typer.echo(f"{len(files)} flow file(s) valid")


@app.command()
def render(
    file: Path = typer.Argument(..., help="Flow file (YAML)."),
    output: Path = typer.Option(..., "-o", "--output", help="flow.svg (or flow.dot)"),
) -> None:
    """Draw a flow as SVG (needs Graphviz) or as DOT text (output ending in .dot)."""
    try:
        flow = load_flow(file)
    except FlowErrors as exc:
        raise _fail(exc) from None
    try:
        data = flow_to_dot(flow).encode() if output.suffix == ".dot" else render_svg(flow)
    except DiagramError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    output.write_bytes(data)
    typer.echo(f"wrote {output}")


@app.command("try")
def try_flow(
    file: Path = typer.Argument(..., help="Flow file (YAML)."),
    caller: str = typer.Option("+15550100", help="The caller's number."),
    dialed: str = typer.Option("+15550199", help="The number dialed."),
    at: str | None = typer.Option(
        None, help="Pretend time, ISO 8601 with offset (2025-03-04T10:00+01:00); default now."
    ),
    var: list[str] = typer.Option([], "--var", help="Preset a variable: name=value."),
    show_variables: bool = typer.Option(False, help="Also print variable changes."),
) -> None:
    """Walk a flow in the terminal: prompts are printed, you type the keys."""
    try:
        flow = load_flow(file)
        now = datetime.fromisoformat(at) if at else datetime.now().astimezone()
    except FlowErrors as exc:
        raise _fail(exc) from None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--at") from None
    if now.tzinfo is None:
        raise typer.BadParameter(
            "give a UTC offset, like 2025-03-04T10:00+01:00", param_hint="--at"
        )
    variables = dict(v.split("=", 1) for v in var if "=" in v)
    call = ConsoleCall(FlowSession(flow), _ask, typer.echo, show_variables=show_variables)
    call.run(CallStarted(now=now, caller=caller, dialed=dialed, call_id="try", variables=variables))


def _ask(question: str) -> str:
    return input(question)
