"""``callcenter cluster``: the engine nodes sharing this database; who leads the ACD."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime

import typer

from callcenter.cli.context import state
from callcenter.cluster.leadership import last_lease
from callcenter.cluster.members import Member, members
from callcenter.store.nodes import all_nodes, forget

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
    the other nodes reach it; "no leader" when no node holds an unexpired lease. Then every
    node that ran on this database: up, stopped, or lost (no heartbeat for cluster.lease_s)."""
    st = state(ctx)
    now = datetime.now(UTC)
    with st.database().session() as s:
        lease = last_lease(s)
        nodes = members(all_nodes(s), now, st.settings.cluster.lease_s)
    leading = lease is not None and lease.expires_at > now
    if as_json:
        typer.echo(json.dumps({
            "enabled": st.settings.cluster.enabled,
            "leader": None if lease is None or not leading else {
                "node": lease.node, "term": lease.term, "sip_uri": lease.sip_uri,
                "http_url": lease.http_url, "expires_at": lease.expires_at.isoformat()},
            "nodes": [asdict(m) for m in nodes],
        }, sort_keys=True, default=lambda v: v.isoformat()))
        return
    if not st.settings.cluster.enabled:
        typer.echo("cluster.enabled is off here: this node leads its own ACD, without a lease")
    if lease is None or not leading:
        typer.echo("no leader: no node holds the ACD lease")
        if lease is not None:
            typer.echo(f"last leader  {lease.node} (term {lease.term}), its lease ended "
                       f"{lease.expires_at:%Y-%m-%d %H:%M:%S} UTC")
    else:
        left = (lease.expires_at - now).total_seconds()
        typer.echo(f"leader       {lease.node}\n"
                   f"term         {lease.term}\n"
                   f"expires      {lease.expires_at:%Y-%m-%d %H:%M:%S} UTC (in {left:.0f} s, "
                   "unless renewed)\n"
                   f"sip_uri      {lease.sip_uri or '-'}\n"
                   f"http_url     {lease.http_url or '-'}")
    if nodes:
        typer.echo("")
        typer.echo(nodes_table(nodes, now))


def nodes_table(nodes: list[Member], now: datetime) -> str:
    """One line per node: condition, calls, last heard of, version, addresses."""
    head = f"{'node':<16} {'condition':<9} {'calls':>5}  {'last heard':<14} {'version':<10} sip"
    lines = [head]
    for m in nodes:
        ago = (now - m.seen_at).total_seconds()
        heard = f"{ago:.0f} s ago" if ago < 3600 else f"{m.seen_at:%Y-%m-%d %H:%M}"
        lines.append(f"{m.node:<16} {m.condition:<9} {m.calls:>5}  {heard:<14} "
                     f"{m.version:<10} {m.sip_uri or '-'}")
    return "\n".join(lines)


@app.command("forget")
def forget_cmd(
    ctx: typer.Context,
    node: str = typer.Argument(..., help="The node's name, as `cluster status` lists it."),
) -> None:
    """Take a node out of the list (one taken out of service: it stays listed, stopped or lost,
    until forgotten). A node that is up is refused: stop it first. A node forgotten that runs
    again is listed again at its next heartbeat."""
    st = state(ctx)
    now = datetime.now(UTC)
    with st.database().session() as s:
        found = {m.node: m for m in members(all_nodes(s), now, st.settings.cluster.lease_s)}
        member = found.get(node)
        if member is None:
            known = ", ".join(sorted(found)) or "none"
            typer.echo(f"error: no node {node!r} is listed (listed: {known})", err=True)
            raise typer.Exit(code=2)
        if member.condition == "up":
            typer.echo(f"error: node {node!r} is up (heard from "
                       f"{(now - member.seen_at).total_seconds():.0f} s ago): stop it first, "
                       "then forget it", err=True)
            raise typer.Exit(code=2)
        forget(s, node)
    typer.echo(f"forgot node {node} ({member.condition})")
