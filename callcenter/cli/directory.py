"""``callcenter agents`` and ``callcenter queues``: who takes calls, and where calls wait."""

from __future__ import annotations

import typer

from callcenter.cli.context import state
from callcenter.store import STRATEGIES, AgentRepository, QueueRepository

agents = typer.Typer(help="Agents: add, list, remove.", no_args_is_help=True)
queues = typer.Typer(help="Queues: add, list, add-member.", no_args_is_help=True)


def _parse_skills(items: list[str]) -> dict[str, int]:
    skills: dict[str, int] = {}
    for item in items:
        name, _, level = item.partition(":")
        try:
            skills[name] = int(level) if level else 5
        except ValueError:
            raise typer.BadParameter(f"{item!r}: write SKILL or SKILL:LEVEL (1-10)") from None
    return skills


@agents.command("add")
def agents_add(
    ctx: typer.Context,
    code: str = typer.Argument(..., help="The id the agent types at login, e.g. 1001."),
    name: str = typer.Option(..., "--name", help="Display name."),
    sip_uri: str = typer.Option(None, "--sip-uri", help="Where to ring the agent, sip:..."),
    skill: list[str] = typer.Option([], "--skill", help="SKILL[:LEVEL], repeatable."),
    pin: str = typer.Option(None, "--pin", help="PIN for logging in by phone (4-12 digits)."),
) -> None:
    """Add an agent."""
    with state(ctx).database().session() as session:
        AgentRepository(session).add(code, name, sip_uri, _parse_skills(skill), pin)
    typer.echo(f"agent {code} added")


@agents.command("list")
def agents_list(ctx: typer.Context) -> None:
    """List agents with their skills."""
    with state(ctx).database().session() as session:
        rows = AgentRepository(session).list()
        if not rows:
            typer.echo("no agents: add one with `callcenter agents add CODE --name NAME`")
        for a in rows:
            skills = ",".join(f"{s.skill.name}:{s.level}" for s in a.skills) or "-"
            typer.echo(f"{a.code:<10} {a.name:<24} {a.sip_uri or '-':<32} {skills}")


@agents.command("set-pin")
def agents_set_pin(
    ctx: typer.Context,
    code: str,
    pin: str = typer.Option(..., "--pin", prompt=True, hide_input=True, help="4-12 digits."),
) -> None:
    """Set the PIN an agent types when logging in from a phone."""
    with state(ctx).database().session() as session:
        AgentRepository(session).set_pin(code, pin)
    typer.echo(f"PIN of agent {code} set")


@agents.command("remove")
def agents_remove(ctx: typer.Context, code: str) -> None:
    """Remove an agent (its call history stays)."""
    with state(ctx).database().session() as session:
        AgentRepository(session).remove(code)
    typer.echo(f"agent {code} removed")


@queues.command("add")
def queues_add(
    ctx: typer.Context,
    name: str,
    strategy: str = typer.Option("longest-idle", help=f"One of: {', '.join(STRATEGIES)}."),
    channel: str = typer.Option("voice", help="voice, chat, ticket or email."),
    service_level: int = typer.Option(20, "--service-level", help="Target answer time (s)."),
    max_wait: int = typer.Option(None, "--max-wait", help="Overflow after this wait (s)."),
    max_length: int = typer.Option(None, "--max-length", help="Overflow beyond this many."),
    overflow: str = typer.Option(None, "--overflow", help="Queue, voicemail, callback, ticket."),
    wrapup: int = typer.Option(10, "--wrapup", help="Wrap-up time after each task (s)."),
    ring_timeout: int = typer.Option(
        15, "--ring-timeout", min=1,
        help="Ring an on-demand agent this long before the next one is offered the call (s).",
    ),
) -> None:
    """Add a queue."""
    with state(ctx).database().session() as session:
        QueueRepository(session).add(
            name,
            strategy,
            channel=channel,
            service_level_s=service_level,
            max_wait_s=max_wait,
            max_length=max_length,
            overflow_target=overflow,
            wrapup_s=wrapup,
            no_answer_timeout_s=ring_timeout,
        )
    typer.echo(f"queue {name} added")


@queues.command("list")
def queues_list(ctx: typer.Context) -> None:
    """List queues with their strategy and members."""
    with state(ctx).database().session() as session:
        rows = QueueRepository(session).list()
        if not rows:
            typer.echo("no queues: add one with `callcenter queues add NAME`")
        for q in rows:
            members = ",".join(f"{m.agent.code}(p{m.penalty})" for m in q.members) or "-"
            typer.echo(
                f"{q.name:<16} {q.channel:<7} {q.strategy:<16} SL {q.service_level_s}s  "
                f"ring {q.no_answer_timeout_s}s  members {members}"
            )


@queues.command("add-member")
def queues_add_member(
    ctx: typer.Context,
    queue: str,
    agent: str,
    penalty: int = typer.Option(0, help="Lower is tried first."),
    tier: int = typer.Option(1, help="Tier level (mod_callcenter style)."),
) -> None:
    """Put an agent into a queue."""
    with state(ctx).database().session() as session:
        QueueRepository(session).add_member(queue, agent, penalty, tier)
    typer.echo(f"agent {agent} is in queue {queue}")
