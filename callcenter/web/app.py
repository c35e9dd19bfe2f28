"""The FastAPI application: every router, each behind the role check but the open ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI

import callcenter
from callcenter.backoffice import chat_router
from callcenter.web import (
    callbacks,
    campaigns,
    cluster,
    console,
    desktop,
    dnc,
    health,
    login,
    operations,
    preview,
    recordings,
    tickets,
)
from callcenter.web.auth import authorize
from callcenter.web.forwarding import LeaderForwarding

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
    app.state.auth = engine.auth
    app.state.metrics = health.metrics_registry(engine)
    app.include_router(health.router)  # open: docs/security.md says to firewall /metrics
    checked = [Depends(authorize)]  # who may call what: callcenter/web/roles.py
    for router in (login.router, operations.router, tickets.router, campaigns.router,
                   preview.router, callbacks.router, desktop.router, console.router,
                   dnc.router, recordings.router, cluster.router, chat_router):
        app.include_router(router, dependencies=checked)
    if engine.twilio is not None:
        app.include_router(engine.twilio.router)  # open: each webhook's signature is checked
    app.add_middleware(LeaderForwarding, engine=engine)  # the live ACD's requests: its leader's
    return app
