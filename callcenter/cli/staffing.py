"""``callcenter staffing``: agents needed for a service-level target (Erlang C or A)."""

from __future__ import annotations

import typer

from callcenter.acd.erlang import (
    format_staffing_table,
    parse_period,
    parse_target,
    staffing_table,
    traffic_erlangs,
)


def staffing(
    calls: float = typer.Option(..., "--calls", help="Calls expected in the period."),
    period: str = typer.Option("30m", "--period", help="Length of the period: 30m, 1h, 900s."),
    aht: float = typer.Option(..., "--aht", help="Average handle time, seconds."),
    target: str = typer.Option("80/20", "--target", help="PERCENT/SECONDS answered."),
    patience: float | None = typer.Option(
        None, "--patience", help="Mean caller patience, seconds: use Erlang A (abandons)."
    ),
) -> None:
    """Print the staffing table: service level, ASA, occupancy per number of agents."""
    try:
        period_s = parse_period(period)
        sl, target_s = parse_target(target)
        if calls <= 0 or aht <= 0 or (patience is not None and patience <= 0):
            raise ValueError("calls, aht and patience must be positive")
        rows = staffing_table(calls, period_s, aht, sl, target_s, patience_s=patience)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(format_staffing_table(rows, traffic_erlangs(calls, period_s, aht), target))
