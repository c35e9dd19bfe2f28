"""``callcenter cluster``: the engine nodes sharing this database; who leads the ACD."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import typer

from callcenter.cli.context import state
from callcenter.cluster.leadership import last_lease

app = typer.Typer(help="Several engine nodes on one database: who leads the ACD.")


@app.callback()
def _cluster() -> None:
    """Several engine nodes on one database."""


@app.command("status")
def status_cmd(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="One JSON object instead of text."),
) -> None:
    """Which node leads the ACD (from its lease in the database): term, lease expiry, where
    the other nodes reach it; "no leader" when no node holds an unexpired lease."""
    st = state(ctx)
    now = datetime.now(UTC)
    with st.database().session() as s:
        lease = last_lease(s)
    leading = lease is not None and lease.expires_at > now
    if as_json:
        typer.echo(json.dumps({
            "enabled": st.settings.cluster.enabled,
            "leader": None if lease is None or not leading else {
                "node": lease.node, "term": lease.term, "sip_uri": lease.sip_uri,
                "http_url": lease.http_url, "expires_at": lease.expires_at.isoformat()},
        }, sort_keys=True))
        return
    if not st.settings.cluster.enabled:
        typer.echo("cluster.enabled is off here: this node leads its own ACD, without a lease")
    if lease is None or not leading:
        typer.echo("no leader: no node holds the ACD lease")
        if lease is not None:
            typer.echo(f"last leader  {lease.node} (term {lease.term}), its lease ended "
                       f"{lease.expires_at:%Y-%m-%d %H:%M:%S} UTC")
        return
    left = (lease.expires_at - now).total_seconds()
    typer.echo(f"leader       {lease.node}\n"
               f"term         {lease.term}\n"
               f"expires      {lease.expires_at:%Y-%m-%d %H:%M:%S} UTC (in {left:.0f} s, "
               "unless renewed)\n"
               f"sip_uri      {lease.sip_uri or '-'}\n"
               f"http_url     {lease.http_url or '-'}")
