"""``callcenter serve``: run the engine until SIGINT / SIGTERM."""

from __future__ import annotations

import asyncio

import typer

from callcenter.cli.context import state
from callcenter.engine import Engine


def serve(
    ctx: typer.Context,
    host: str = typer.Option(None, help="HTTP address (default from settings: 127.0.0.1)."),
    port: int = typer.Option(None, help="HTTP port (default from settings: 8080)."),
) -> None:
    """Start the engine (database, event bus, HTTP) and run until stopped."""
    settings = state(ctx).settings
    if host is not None or port is not None:
        http = settings.http.model_copy(
            update={k: v for k, v in {"host": host, "port": port}.items() if v is not None}
        )
        settings = settings.model_copy(update={"http": http})
    asyncio.run(Engine(settings).serve())
