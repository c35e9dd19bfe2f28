"""``callcenter db``: schema migrations."""

from __future__ import annotations

import typer

from callcenter.cli.context import state
from callcenter.store import current_revision, downgrade, upgrade
from callcenter.store.migrate import head_revision

app = typer.Typer(
    help="Database schema: upgrade, downgrade, current revision.", no_args_is_help=True
)


@app.command("upgrade")
def upgrade_cmd(ctx: typer.Context, revision: str = typer.Argument("head")) -> None:
    """Bring the schema up to REVISION (default: the newest)."""
    db = state(ctx).database()
    upgrade(db, revision)
    typer.echo(f"{db.safe_url}: schema at {current_revision(db)}")


@app.command("downgrade")
def downgrade_cmd(
    ctx: typer.Context,
    revision: str = typer.Argument(..., help="Target revision, e.g. -1 or base."),
) -> None:
    """Take the schema back to REVISION (``base`` empties the database)."""
    db = state(ctx).database()
    downgrade(db, revision)
    typer.echo(f"{db.safe_url}: schema at {current_revision(db) or 'base (empty)'}")


@app.command("current")
def current_cmd(ctx: typer.Context) -> None:
    """Print the schema revision of the database and the one this engine needs."""
    db = state(ctx).database()
    typer.echo(f"database: {current_revision(db) or 'none (empty)'}; code: {head_revision()}")
