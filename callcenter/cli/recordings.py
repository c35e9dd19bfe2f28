"""``callcenter recordings``: list recordings, verify their files, purge what the retention
policy makes due, put recordings on legal hold and release them (docs/recordings.md)."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import typer

from callcenter.cli.audit import since_time
from callcenter.cli.context import print_rows, state
from callcenter.errors import ConfigError
from callcenter.recordings.integrity import verify
from callcenter.recordings.purge import as_dict, purge, recordings, set_hold
from callcenter.recordings.retention import RetentionPolicy
from callcenter.store import audit as audit_log

app = typer.Typer(
    help="Recordings: list, verify their checksums, purge by retention, legal hold.",
    no_args_is_help=True,
)

REASON = typer.Option(..., "--reason", help="Why (kept in the recording's audit trail).")


def _who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name (a container without /etc/passwd entry)
        return "cli"


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    call: str | None = typer.Option(None, "--call", help="Only this call's recordings."),
    held: bool = typer.Option(False, "--held", help="Only recordings on legal hold."),
    limit: int = typer.Option(100, "--limit", min=1, help="How many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object a line."),
) -> None:
    """Print recordings, newest first: id, call, kind, start, length, status, hold, size,
    checksum."""
    with state(ctx).database().session() as s:
        rows = [as_dict(r) for r in recordings(s, call_id=call, held=held, limit=limit)]
    print_rows(rows, as_json, _line, "no recordings match")


def _line(row: dict[str, Any]) -> str:
    length = f"{row['duration_s']:.0f}s" if row["duration_s"] is not None else "-"
    size = str(row["size_bytes"]) if row["size_bytes"] is not None else "-"
    return (
        f"{row['id']:>6}  {row['call_id']:<36} {row['kind']:<9} "
        f"{row['started_at'][:19].replace('T', ' ')}  {length:>7}  {row['status']:<9} "
        f"{'held' if row['held'] else '-':<4}  {size:>10}  {(row['sha256'] or '-')[:12]}"
    )


@app.command("verify")
def verify_cmd(
    ctx: typer.Context,
    since: str | None = typer.Option(
        None, "--since", help="Only recordings started since: 24h, 7d, or an ISO date."),
) -> None:
    """Hash every finished recording again: missing or changed files are listed, and the exit
    code is 1 when there is any."""
    start = since_time(since, datetime.now(UTC)) if since else None
    with state(ctx).database().session() as s:
        report = verify(s, start)
    for problem in report.problems:
        typer.echo(problem.line())
    unsealed = (f", {report.unsealed} without a checksum (finished before checksums were "
                "taken): only their presence was checked") if report.unsealed else ""
    typer.echo(f"{report.checked} recording(s) checked, {len(report.problems)} missing or "
               f"changed{unsealed}")
    if report.problems:
        raise typer.Exit(1)


@app.command("purge")
def purge_cmd(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would go; delete nothing."),
    days: int | None = typer.Option(
        None, "--days", min=1, help="Keep this many days instead of [recordings] retention_days."),
) -> None:
    """Delete the recordings the retention policy makes due (held ones are kept)."""
    keep = days if days is not None else state(ctx).settings.recordings.retention_days
    if keep is None:
        raise ConfigError("no retention policy: set [recordings] retention_days (or "
                          "CALLCENTER_RECORDINGS__RETENTION_DAYS), or give --days N")
    policy = RetentionPolicy(keep)
    db = state(ctx).database()
    try:
        done = purge(db, policy, datetime.now(UTC), dry_run=dry_run)
    finally:
        db.dispose()
    for item in done:
        typer.echo(item.line(dry_run))
    verb = "would be deleted" if dry_run else "deleted"
    typer.echo(f"{len(done)} recording(s) {verb} ({policy.describe()})")


def _hold_command(held: bool, doc: str) -> Callable[..., None]:
    """``hold`` (``held``) or ``release``: the same arguments, audited the same way."""

    def command(
        ctx: typer.Context,
        recording_id: int = typer.Argument(..., help="The recording's id (`recordings list`)."),
        reason: str = REASON,
    ) -> None:
        who = _who()
        with state(ctx).database().session() as s:
            changed = set_hold(s, recording_id, held, who, reason)
            if changed:  # the recording's own trail has it; the audit log too, as the API's
                audit_log.record(s, "recording.hold" if held else "recording.release",
                                 actor=who, target=str(recording_id), source="cli",
                                 details={"reason": reason})
        done, same = (("is on legal hold", "it was already") if held
                      else ("is released from legal hold", "it was not held"))
        typer.echo(f"recording {recording_id} {done}" + ("" if changed else f" ({same})"))

    command.__doc__ = doc
    return command


app.command("hold")(_hold_command(
    True, "Put a recording on legal hold: the retention policy never deletes it."))
app.command("release")(_hold_command(
    False, "Take a recording off legal hold: retention applies to it again."))
