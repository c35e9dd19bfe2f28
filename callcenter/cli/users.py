"""``callcenter user``: who may use the REST API and the pages, and their API tokens.

Passwords are read from a hidden prompt (twice) or, with ``--password-stdin``, from the first
line of standard input (scripts); they are never an argument (shell history, ``ps``). A token
is printed once, when it is made; only its hash is kept. Every change is in the audit log
(source ``cli``).
"""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime
from typing import Any

import typer

from callcenter.cli.context import state
from callcenter.store import audit
from callcenter.store.users import ROLES, UserRepository

app = typer.Typer(help="Users of the API and the pages: add, list, passwd, roles, disable, "
                       "enable, tokens.",
                  no_args_is_help=True)

PASSWORD_STDIN = typer.Option(False, "--password-stdin",
                              help="Read the password from the first line of standard input.")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def _audit(session: Any, action: str, target: str, **details: Any) -> None:
    audit.record(session, action, actor=f"cli:{getpass.getuser()}", target=target,
                 source="cli", details=details)


@app.command("add")
def add(
    ctx: typer.Context,
    username: str = typer.Argument(..., help="The login name."),
    role: list[str] = typer.Option(..., "--role",
                                   help=f"{', '.join(ROLES)} (repeatable)."),
    agent: str | None = typer.Option(None, "--agent",
                                     help="The agent's code this user is (agent role)."),
    name: str = typer.Option("", "--name", help="Display name (default: the login name)."),
    password_stdin: bool = PASSWORD_STDIN,
    no_password: bool = typer.Option(False, "--no-password",
                                     help="No password: the user only uses API tokens."),
) -> None:
    """Add a user (asks for the password unless --no-password)."""
    password = None if no_password else _password(password_stdin)
    with state(ctx).database().session() as s:
        UserRepository(s).add(username, role, password, agent, name)
        _audit(s, "user.add", username, roles=sorted(set(role)), agent=agent)
    typer.echo(f"user {username} added ({', '.join(sorted(set(role)))})")


@app.command("list")
def list_users(ctx: typer.Context) -> None:
    """List users: roles, agent, whether they can log in."""
    with state(ctx).database().session() as s:
        repo = UserRepository(s)
        users = repo.list()
        if not users:
            typer.echo("no users: add one with `callcenter user add NAME --role admin`")
        for u in users:
            roles = ",".join(sorted(r.name for r in u.roles)) or "-"
            login = "disabled" if not u.active else (
                "password" if u.password_hash else "tokens only")
            typer.echo(f"{u.username:<20} {roles:<28} agent {repo.agent_code(u) or '-':<8} "
                       f"{login}")


@app.command("passwd")
def passwd(ctx: typer.Context, username: str, password_stdin: bool = PASSWORD_STDIN) -> None:
    """Set a user's password (their browser sessions end)."""
    password = _password(password_stdin)
    with state(ctx).database().session() as s:
        UserRepository(s).set_password(username, password, datetime.now(UTC))
        _audit(s, "user.passwd", username)
    typer.echo(f"password of {username} changed")


@app.command("disable")
def disable(ctx: typer.Context, username: str) -> None:
    """Disable a user: no more logins, sessions or tokens (the record stays)."""
    with state(ctx).database().session() as s:
        UserRepository(s).disable(username, datetime.now(UTC))
        _audit(s, "user.disable", username)
    typer.echo(f"user {username} disabled")


@app.command("enable")
def enable(ctx: typer.Context, username: str) -> None:
    """Enable a disabled user again (their old sessions stay ended)."""
    with state(ctx).database().session() as s:
        UserRepository(s).enable(username)
        _audit(s, "user.enable", username)
    typer.echo(f"user {username} enabled")


@app.command("roles")
def roles(
    ctx: typer.Context,
    username: str,
    role: list[str] = typer.Option(..., "--role", help=f"{', '.join(ROLES)} (repeatable)."),
    agent: str | None = typer.Option(None, "--agent", help="Link the user to this agent."),
) -> None:
    """Replace a user's roles (they count from the user's next request)."""
    with state(ctx).database().session() as s:
        UserRepository(s).set_roles(username, role, agent)
        _audit(s, "user.roles", username, roles=sorted(set(role)), agent=agent)
    typer.echo(f"user {username}: {', '.join(sorted(set(role)))}")


@app.command("token")
def token(
    ctx: typer.Context,
    username: str,
    name: str = typer.Option("api", "--name", help="What the token is for (shown in lists)."),
) -> None:
    """Make an API token for a user and print it, once (send it as Authorization: Bearer)."""
    with state(ctx).database().session() as s:
        row, secret = UserRepository(s).add_token(username, name)
        _audit(s, "token.add", username, token_id=row.id, name=name)
        token_id = row.id
    typer.echo(secret)
    typer.echo(f"token {token_id} ({name}) for {username}: shown only now, keep it safe",
               err=True)


@app.command("tokens")
def tokens(ctx: typer.Context, username: str | None = typer.Argument(None)) -> None:
    """List API tokens (never the tokens themselves)."""
    with state(ctx).database().session() as s:
        rows = UserRepository(s).tokens(username)
        if not rows:
            typer.echo("no tokens: make one with `callcenter user token NAME`")
        for t in rows:
            revoked = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "active"
            typer.echo(f"{t.id:>5} {t.user.username:<20} {t.name:<20} "
                       f"created {t.created_at:%Y-%m-%d %H:%M}  {revoked}")


@app.command("revoke")
def revoke(ctx: typer.Context, token_id: int = typer.Argument(..., help="From `user tokens`.")
           ) -> None:
    """Revoke an API token: refused from its next request."""
    with state(ctx).database().session() as s:
        row = UserRepository(s).revoke(token_id, datetime.now(UTC))
        _audit(s, "token.revoke", row.user.username, token_id=token_id, name=row.name)
    typer.echo(f"token {token_id} revoked")
