"""``/healthz`` and Prometheus ``/metrics``.

``/healthz`` answers 503 when the database (the record) is unreachable and 200 otherwise; a bus
whose broker is away makes it 200 with ``status: degraded``, because the engine keeps taking
calls while the bus buffers (a load balancer should not pull a node for that).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

import callcenter

if TYPE_CHECKING:
    from callcenter.engine import Engine

router = APIRouter(tags=["operations"])


def _engine(request: Request) -> Engine:
    return request.app.state.engine


@router.get("/healthz", summary="Liveness and dependencies: database and event bus")
async def healthz(request: Request) -> JSONResponse:
    engine = _engine(request)
    db_ok, db_detail = await engine.db.healthy()
    bus_ok, bus_detail = engine.bus.healthy()
    status = "ok" if db_ok and bus_ok else ("degraded" if db_ok else "failing")
    body: dict[str, Any] = {
        "status": status,
        "version": callcenter.__version__,
        "checks": {
            "database": {"ok": db_ok, "backend": engine.db.backend, "detail": db_detail},
            "bus": {"ok": bus_ok, "kind": engine.bus.kind, "detail": bus_detail},
        },
    }
    return JSONResponse(body, status_code=200 if db_ok else 503)


class EngineCollector:
    """Reads the engine's counters at scrape time (no background polling)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        stats = self.engine.bus.stats
        info = GaugeMetricFamily("callcenter_info", "Engine build", labels=["version", "bus"])
        info.add_metric([callcenter.__version__, self.engine.bus.kind], 1)
        yield info
        yield CounterMetricFamily("callcenter_bus_published", "Events published", stats.published)
        yield CounterMetricFamily(
            "callcenter_bus_delivered",
            "Events delivered to the broker or subscribers",
            stats.delivered,
        )
        yield CounterMetricFamily(
            "callcenter_bus_dropped", "Events dropped because the buffer was full", stats.dropped
        )
        yield GaugeMetricFamily(
            "callcenter_bus_buffered", "Events waiting to be sent", stats.buffered
        )
        yield GaugeMetricFamily(
            "callcenter_bus_connected", "1 when the bus is connected", int(stats.connected)
        )
        yield CounterMetricFamily(
            "callcenter_bus_reconnects", "Broker reconnections", stats.reconnects
        )
        sip = self.engine.sip
        if sip is not None:
            yield CounterMetricFamily(
                "callcenter_sip_invites_refused",
                "INVITEs refused before answering (403 source, 404 number, 503 rate or load)",
                sip.rejected,
            )
            yield CounterMetricFamily(
                "callcenter_sip_malformed",
                "SIP messages from peers that pjsip refused as malformed",
                sip.stack.log_gate.malformed,
            )
            yield from cluster_metrics(self.engine)


def cluster_metrics(engine: Engine) -> Iterator[Metric]:
    """With cluster.enabled: whether this node leads the ACD, and its callers handed over."""
    leadership, sip = engine.leadership, engine.sip
    if leadership is None or sip is None or sip.handovers is None:
        return
    h = sip.handovers
    yield GaugeMetricFamily("callcenter_cluster_leader", "1 while this node leads the ACD",
                            int(leadership.is_leader))
    yield CounterMetricFamily("callcenter_cluster_handovers",
                              "Callers of this node the ACD's leader took", h.handed_out)
    yield CounterMetricFamily(
        "callcenter_cluster_handovers_failed",
        "Handovers the leader did not take (unreachable, refused, no answer)", h.failed_out)
    yield CounterMetricFamily(
        "callcenter_cluster_handovers_refused",
        "Handover INVITEs this node refused (forged, stale, not the leader)", h.refused)
    yield GaugeMetricFamily(
        "callcenter_cluster_callers_waiting_here",
        "Callers waiting in this node's own queue because no leader took them (alert on it)",
        len(h.local))


def metrics_registry(engine: Engine) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(EngineCollector(engine))
    return registry


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
