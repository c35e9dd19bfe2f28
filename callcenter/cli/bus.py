"""``callcenter bus``: the event catalogue."""

from __future__ import annotations

from pathlib import Path

import typer

from callcenter.bus.catalogue import render_yaml

app = typer.Typer(help="Event bus: the catalogue of topics and payloads.", no_args_is_help=True)


@app.command("catalogue")
def catalogue(
    output: Path = typer.Option(None, "-o", "--output", help="Write here instead of stdout."),
) -> None:
    """Print (or write) the AsyncAPI document of every topic the engine publishes."""
    text = render_yaml()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")
