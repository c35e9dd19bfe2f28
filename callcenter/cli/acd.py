"""``callcenter acd``: operate the ACD from the command line (logic in callcenter.acd)."""

from __future__ import annotations

from pathlib import Path

import typer

from callcenter.acd import ACDError, Strategy
from callcenter.acd.replay import load_log
from callcenter.acd.replay import replay as run_replay

app = typer.Typer(help="ACD queues and routing: replay an event log under a strategy.")


@app.callback()
def _acd() -> None:
    """ACD queues and routing."""


@app.command()
def replay(
    events: Path = typer.Argument(..., help="Event log, JSON Lines (see docs/acd.md)."),
    strategy: str | None = typer.Option(
        None, "--strategy", help="Routing strategy for every queue (default: as configured)."
    ),
    answer_delay: float = typer.Option(3.0, help="Seconds an offered agent takes to answer."),
    seed: int = typer.Option(0, help="Seed for the random strategies."),
) -> None:
    """Replay EVENTS and print the service level, ASA and abandon rate it would give."""
    try:
        chosen = Strategy.parse(strategy) if strategy else None
        report = run_replay(load_log(events), chosen, answer_delay_s=answer_delay, seed=seed)
    except (ACDError, ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(report.format())
