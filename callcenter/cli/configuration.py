"""``callcenter config``: the effective configuration."""

from __future__ import annotations

import json

import typer
import yaml

from callcenter.cli.context import state
from callcenter.config import masked

app = typer.Typer(help="Configuration: show the effective settings.", no_args_is_help=True)


@app.command("show")
def show(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="JSON instead of YAML."),
) -> None:
    """Print the effective configuration (environment + file + defaults), secrets masked."""
    data = masked(state(ctx).settings)
    typer.echo(json.dumps(data, indent=2) if as_json else yaml.safe_dump(data, sort_keys=False))
