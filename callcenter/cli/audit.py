"""``callcenter audit``: read the audit log (who did what, when, from where)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import typer

from callcenter.cli.context import print_rows, state
from callcenter.store import audit as audit_log

_AGO = re.compile(r"^(\d+)([mhd])$")


def since_time(text: str, now: datetime) -> datetime:
    """``30m``, ``24h``, ``7d`` before ``now``, or an ISO 8601 date or time (UTC unless it
    says otherwise)."""
    if match := _AGO.match(text):
        unit = {"m": "minutes", "h": "hours", "d": "days"}[match[2]]
        return now - timedelta(**{unit: int(match[1])})
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r}: write 30m, 24h, 7d or a date like 2026-12-01"
                                 ) from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def audit(
    ctx: typer.Context,
    since: str | None = typer.Option(None, "--since", help="24h, 7d, or an ISO date/time."),
    user: str | None = typer.Option(None, "--user", help="Only this user's actions."),
    action: str | None = typer.Option(None, "--action", help="Actions starting with this."),
    limit: int = typer.Option(100, "--limit", min=1, help="How many entries, newest first."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object a line."),
) -> None:
    """Print the audit log, newest first."""
    start = since_time(since, datetime.now(UTC)) if since else None
    with state(ctx).database().session() as s:
        rows = [audit_log.as_dict(e) for e in audit_log.entries(
            s, since=start, actor=user, action=action, limit=limit)]
    print_rows(rows, as_json, _line, "no audit entries match")


def _line(row: dict[str, Any]) -> str:
    details = " ".join(f"{k}={v}" for k, v in row["details"].items())
    return (f"{row['at'][:19].replace('T', ' ')}  {row['actor'] or '-':<16} "
            f"{row['action']:<22} {row['target']:<24} {row['source']:<15} {details}")
