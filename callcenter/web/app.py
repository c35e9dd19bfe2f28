"""The FastAPI application: operations endpoints now; later issues add their routers here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

import callcenter
from callcenter.backoffice import chat_router
from callcenter.web import (
    callbacks,
    campaigns,
    console,
    desktop,
    dnc,
    health,
    operations,
    preview,
    tickets,
)

if TYPE_CHECKING:
    from callcenter.engine import Engine


def create_app(engine: Engine) -> FastAPI:
    app = FastAPI(
        title="Call-center engine",
        version=callcenter.__version__,
        description="REST API of the call-center engine. Events are on the bus: see "
        "docs/events.asyncapi.yaml.",
    )
    app.state.engine = engine
    app.state.metrics = health.metrics_registry(engine)
    app.include_router(health.router)
    app.include_router(operations.router)
    app.include_router(tickets.router)
    app.include_router(campaigns.router)
    app.include_router(preview.router)
    app.include_router(callbacks.router)
    app.include_router(desktop.router)
    app.include_router(console.router)
    app.include_router(dnc.router)
    app.include_router(chat_router)
    if engine.twilio is not None:
        app.include_router(engine.twilio.router)
    return app
