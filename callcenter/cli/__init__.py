"""The ``callcenter`` command. Engine errors become one line on stderr and an exit code."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from callcenter.cli import (
    acd,
    audit,
    bus,
    campaign,
    cluster,
    configuration,
    db,
    dialer,
    directory,
    dnc,
    flow,
    recordings,
    staffing,
    users,
)
from callcenter.cli.context import state
from callcenter.cli.serve import serve
from callcenter.errors import CallCenterError

app = typer.Typer(
    help="Call-center engine: IVR, ACD queues, dialer and tickets over SIP and Twilio.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    config: Path = typer.Option(
        None, "--config", "-c", envvar="CALLCENTER_CONFIG", help="TOML configuration file."
    ),
    json_logs: bool = typer.Option(None, "--json-logs/--text-logs", help="Log format."),
) -> None:
    """Global options."""
    st = state(ctx)
    st.config_file = config
    st.json_logs = json_logs


app.command("serve")(serve)
app.add_typer(db.app, name="db")
app.add_typer(directory.agents, name="agents")
app.add_typer(directory.queues, name="queues")
app.add_typer(configuration.app, name="config")
app.add_typer(bus.app, name="bus")
app.add_typer(flow.app, name="flow")
app.add_typer(dialer.app, name="dialer")
app.add_typer(acd.app, name="acd")
app.add_typer(campaign.app, name="campaign")
app.add_typer(cluster.app, name="cluster")
app.add_typer(dnc.app, name="dnc")
app.add_typer(recordings.app, name="recordings")
app.command("staffing")(staffing.staffing)
app.add_typer(users.app, name="user")
app.command("audit")(audit.audit)


def main() -> None:
    try:
        app(standalone_mode=True)
    except CallCenterError as exc:
        print(f"callcenter: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except ValueError as exc:  # bad values rejected by the domain (strategy, skill level ...)
        print(f"callcenter: error: {exc}", file=sys.stderr)
        sys.exit(2)
