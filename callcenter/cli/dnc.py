"""``callcenter dnc``: the do-not-call lists: import a file, add, remove, check, list, count.

Thin: each command is one call into the DNC functions of :mod:`dialer.attempts` (the dialer
checks the same rows at the moment of dialing). Numbers are normalised to E.164 like lead
imports; a list is ``internal`` (the default), ``national`` or ``campaign`` (with
``--campaign NAME``).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import typer

from callcenter.cli.campaign import DELIMITER, ENCODING, progress_line
from callcenter.cli.context import state
from callcenter.errors import NotFound
from dialer.attempts import (
    DncList,
    add_dnc,
    dnc_counts,
    dnc_entries,
    dnc_holders,
    dnc_list,
    dnc_number,
    import_dnc,
    remove_dnc,
)
from dialer.campaigns import CampaignRepository
from dialer.leads import CsvFormat, parse_numbers_file

app = typer.Typer(
    help="Do-not-call lists (internal, national, per campaign): import, add, remove, check.",
    no_args_is_help=True,
)

LIST_HELP = "internal (default), national, or campaign (with --campaign)."


def _region(ctx: typer.Context, region: str | None, campaign: str | None) -> str:
    """The region for national numbers: --region, else the campaign's, else US."""
    if region:
        return region
    if campaign:
        with state(ctx).database().session() as s:
            return CampaignRepository(s).get(campaign).region
    return "US"


def _target(ctx: typer.Context, scope: str, campaign: str | None) -> DncList:
    with state(ctx).database().session() as s:
        return dnc_list(s, scope, campaign)


@app.command("import")
def import_cmd(
    ctx: typer.Context,
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="CSV with a phone column, or one number a line."
    ),
    scope: str = typer.Option("internal", "--list", help=LIST_HELP),
    campaign: str | None = typer.Option(None, help="The campaign, for --list campaign."),
    column: str = typer.Option("phone", help="Column of the phone number (CSV files)."),
    region: str | None = typer.Option(
        None, help="Region of national numbers (default: the campaign's, else US)."
    ),
    reason: str | None = typer.Option(None, help="Why (stored with each number)."),
    encoding: str | None = ENCODING,
    delimiter: str | None = DELIMITER,
) -> None:
    """Import numbers; bad rows are listed with their line number, duplicates merged."""
    target = _target(ctx, scope, campaign)
    parsed = parse_numbers_file(
        file, column, _region(ctx, region, campaign), lambda n: progress_line("read", n),
        CsvFormat(encoding, delimiter),
    )
    with state(ctx).database().session() as s:
        report = import_dnc(
            s,
            target,
            parsed,
            reason or f"imported from {file.name}",
            datetime.now(UTC),
            lambda n: progress_line("stored", n),
        )
    print(file=sys.stderr)
    typer.echo(
        f"{file}: {report.rows} rows to the {target} list: {report.added} added, "
        f"{report.already} already present, {report.duplicates} duplicate rows merged, "
        f"{len(report.bad_rows)} bad rows"
    )
    for bad in report.bad_rows:
        typer.echo(f"{file}:{bad.line}: {bad.reason}")


@app.command("add")
def add_cmd(
    ctx: typer.Context,
    number: str = typer.Argument(..., help="The number, E.164 or national."),
    scope: str = typer.Option("internal", "--list", help=LIST_HELP),
    campaign: str | None = typer.Option(None, help="The campaign, for --list campaign."),
    region: str | None = typer.Option(None, help="Region of a national number."),
    reason: str = typer.Option("added by hand", help="Why (stored with the number)."),
) -> None:
    """Put a number on a list at once (the dialer refuses it from its next call)."""
    e164 = dnc_number(number, _region(ctx, region, campaign))
    with state(ctx).database().session() as s:
        target = dnc_list(s, scope, campaign)
        added = add_dnc(s, e164, reason, target.scope, target.campaign_id, datetime.now(UTC))
    typer.echo(f"{e164} {'added to' if added else 'was already on'} the {target} list")


@app.command("remove")
def remove_cmd(
    ctx: typer.Context,
    number: str = typer.Argument(..., help="The number, E.164 or national."),
    scope: str = typer.Option("internal", "--list", help=LIST_HELP),
    campaign: str | None = typer.Option(None, help="The campaign, for --list campaign."),
    region: str | None = typer.Option(None, help="Region of a national number."),
) -> None:
    """Take a number off a list."""
    e164 = dnc_number(number, _region(ctx, region, campaign))
    with state(ctx).database().session() as s:
        target = dnc_list(s, scope, campaign)
        if not remove_dnc(s, e164, target):
            raise NotFound(
                f"{e164} is not on the {target} list: `callcenter dnc check {e164}` "
                "shows the lists that hold it"
            )
    typer.echo(f"{e164} removed from the {target} list")


@app.command("check")
def check_cmd(
    ctx: typer.Context,
    number: str = typer.Argument(..., help="The number, E.164 or national."),
    region: str = typer.Option("US", help="Region of a national number."),
) -> None:
    """Say which lists hold a number."""
    e164 = dnc_number(number, region)
    with state(ctx).database().session() as s:
        rows = dnc_holders(s, e164)
    if not rows:
        typer.echo(f"{e164} is on no do-not-call list")
    for row in rows:
        since = row.as_dict()["added_at"][:16].replace("T", " ")
        typer.echo(f"{e164} is on the {row.list} list since {since} UTC ({row.reason})")


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    scope: str = typer.Option("internal", "--list", help=LIST_HELP),
    campaign: str | None = typer.Option(None, help="The campaign, for --list campaign."),
    limit: int = typer.Option(100, min=1, help="How many numbers to print."),
    offset: int = typer.Option(0, min=0, help="How many numbers to skip first."),
) -> None:
    """Print the numbers of a list, in number order."""
    with state(ctx).database().session() as s:
        target = dnc_list(s, scope, campaign)
        rows = dnc_entries(s, target, limit, offset)
    if not rows:
        typer.echo(
            f"the {target} list has no numbers here: add some with `callcenter dnc "
            "import FILE` or `callcenter dnc add NUMBER`"
        )
    for row in rows:
        typer.echo(f"{row.number:16} {row.as_dict()['added_at'][:10]}  {row.reason}")


@app.command("count")
def count_cmd(ctx: typer.Context) -> None:
    """How many numbers each list holds."""
    with state(ctx).database().session() as s:
        counts = dnc_counts(s)
    for target, n in counts:
        typer.echo(f"{str(target):24} {n:10}")
    typer.echo(f"{'total':24} {sum(n for _, n in counts):10}")
