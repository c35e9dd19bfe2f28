"""REST API for outbound campaigns: create, import leads, start / pause / stop, lead flow with
AMD accuracy, and survey results (JSON, CSV and a PNG chart).

The database is ``app.state.db`` when set (tests, tools) or the engine's. An unknown campaign
is 404, an existing name 409, a state change the life cycle forbids 409 with the sentence
that says what is allowed, a bad CSV or a bad do-not-call request 422 with what to change.
"""

from __future__ import annotations

import asyncio
import io
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from callcenter.errors import AlreadyExists, CallCenterError, NotFound
from callcenter.store import Database
from callcenter.web.auth import audit, import_figures
from dialer.attempts import DncError
from dialer.caller_id_usage import pool_report
from dialer.caller_ids import HEALTH_DAYS
from dialer.campaigns import (
    CampaignRepository,
    CampaignSettings,
    CampaignStateError,
    lead_flow,
)
from dialer.exports import ExportError, export_attempts, export_leads
from dialer.leads import (
    LEAD_ZONE_FIELD,
    ColumnMapping,
    CsvFormat,
    LeadListError,
    parse_leads_bytes,
)
from dialer.recycle import RecycleError, outcomes_from, recycle
from dialer.results import amd_accuracy, chart, export_csv, summarise
from dialer.store import Campaign

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"])
T = TypeVar("T")
ENCODING = Query(None, description="The file's encoding (utf-8, cp1252, utf-16, ...); "
                 "default: detected (byte-order mark, else UTF-8, else Windows-1252).")
DELIMITER = Query(None, description="comma, semicolon, tab or pipe; default: detected from "
                  "the header line.")


def _db(request: Request) -> Database:
    db: Database = getattr(request.app.state, "db", None) or request.app.state.engine.db
    return db


async def run_in_db(request: Request, work: Callable[[Session], T]) -> T:
    """Run ``work`` in one transaction; the dialer's errors become 404, 409 and 422."""
    try:
        return await _db(request).run(work)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except (AlreadyExists, CampaignStateError) as exc:
        raise HTTPException(409, str(exc)) from None
    except (LeadListError, DncError, RecycleError, ExportError) as exc:
        raise HTTPException(422, str(exc)) from None


def _public(c: Campaign) -> dict[str, Any]:
    return {
        "name": c.name,
        "kind": c.kind,
        "state": c.state,
        "voice_layer": c.voice_layer,
        "dial_mode": c.dial_mode,
        "caller_id": c.caller_id,
        "caller_ids": c.caller_ids,
        "caller_id_strategy": c.caller_id_strategy,
        "caller_id_daily_cap": c.caller_id_daily_cap,
        "max_lines": c.max_lines,
        "abandon_target": c.abandon_target,
        "window_start": c.window_start.isoformat(),
        "window_end": c.window_end.isoformat(),
        "weekdays": c.weekdays,
        "holidays": c.holidays,
        "local_rules": c.local_rules,
        "public_holidays": c.public_holidays,
        "script": c.script,
        "timezone": c.timezone,
        "region": c.region,
        "retry_rules": c.retry_rules,
        "flow": c.flow,
        "queue": c.queue,
        "created_at": c.created_at.isoformat(),
    }


@router.get("")
async def list_campaigns(request: Request) -> list[dict[str, Any]]:
    return await run_in_db(request, lambda s: [_public(c) for c in CampaignRepository(s).list()])


@router.post("", status_code=201)
async def create_campaign(request: Request, body: CampaignSettings) -> dict[str, Any]:
    created = await run_in_db(request, lambda s: _public(CampaignRepository(s).create(body)))
    await audit(request, "campaign.create", created["name"],
                {"dial_mode": created["dial_mode"], "voice_layer": created["voice_layer"]})
    return created


@router.get("/{name}")
async def read_campaign(request: Request, name: str) -> dict[str, Any]:
    return await run_in_db(request, lambda s: _public(CampaignRepository(s).get(name)))


@router.post("/{name}/leads")
async def import_leads(
    request: Request,
    name: str,
    phone: str = "phone",
    first_name: str = "first_name",
    last_name: str = "last_name",
    external_id: str | None = None,
    timezone: str = LEAD_ZONE_FIELD,
    region: str | None = None,
    encoding: str | None = ENCODING,
    delimiter: str | None = DELIMITER,
) -> dict[str, Any]:
    """The body is the CSV itself (``Content-Type: text/csv``), header row first, in any
    encoding and delimiter ``campaign import`` reads. ``timezone`` names the column of the
    lead's own zone (IANA name or US state code)."""
    body = await request.body()
    mapping = ColumnMapping(phone, first_name, last_name, external_id, timezone=timezone)

    def work(s: Session) -> dict[str, Any]:
        repo = CampaignRepository(s)
        parsed = parse_leads_bytes(body, mapping, region or repo.get(name).region,
                                   CsvFormat(encoding, delimiter))
        report = repo.import_leads(name, parsed)
        return {
            "rows": report.rows,
            "added": report.added,
            "merged": report.merged,
            "bad_rows": [{"line": b.line, "reason": b.reason} for b in report.bad_rows],
        }

    done = await run_in_db(request, work)
    await audit(request, "campaign.leads.import", name,
                import_figures(done, "rows", "added", "merged", "bad_rows"))
    return done


async def _move(
    request: Request, name: str, wanted: Literal["running", "paused", "stopped"]
) -> dict[str, Any]:
    now = datetime.now(UTC)
    moved = await run_in_db(
        request, lambda s: _public(CampaignRepository(s).transition(name, wanted, now))
    )
    await audit(request, f"campaign.{_VERBS[wanted]}", name)
    return moved


_VERBS = {"running": "start", "paused": "pause", "stopped": "stop"}


@router.post("/{name}/start")
async def start(request: Request, name: str) -> dict[str, Any]:
    return await _move(request, name, "running")


@router.post("/{name}/pause")
async def pause(request: Request, name: str) -> dict[str, Any]:
    return await _move(request, name, "paused")


@router.post("/{name}/stop")
async def stop(request: Request, name: str) -> dict[str, Any]:
    return await _move(request, name, "stopped")


@router.get("/{name}/status")
async def status(request: Request, name: str) -> dict[str, Any]:
    """The lead flow (dialable now, waiting for the window or a retry, done, runs dry at) and
    ``amd``: AMD's verdicts against the agents' dispositions (``miss_rate``: machines AMD
    passed to agents as persons, per dispositioned call); ``caller_id_pool``: the caller-ID
    strategy, the numbers, the daily cap and whether every number reached it today."""
    now = datetime.now(UTC)

    def work(s: Session) -> dict[str, Any]:
        c = CampaignRepository(s).get(name)
        return {**lead_flow(s, name, now).as_dict(), "amd": amd_accuracy(s, name).as_dict(),
                "caller_id_pool": {"strategy": c.caller_id_strategy, "numbers": c.caller_ids,
                                   "daily_cap": c.caller_id_daily_cap,
                                   "used_up": pool_report(s, c, now).used_up}}

    return await run_in_db(request, work)


@router.get("/{name}/caller-ids", summary="Each caller ID's calls today and answer rate over "
            "the last days, suspect when it looks labelled spam")
async def caller_ids(request: Request, name: str,
                     days: int = Query(HEALTH_DAYS, ge=1, le=366, description="Days of calls "
                                       "to judge by.")) -> dict[str, Any]:
    """Per number: ``calls_today`` (toward ``daily_cap``), ``calls``, ``answers`` (by a
    person) and ``answer_rate`` over ``days``; ``suspect`` when it placed 50 calls or more
    and is answered at under half the pool's rate."""
    now = datetime.now(UTC)
    return await run_in_db(request, lambda s: pool_report(
        s, CampaignRepository(s).get(name), now, days).as_dict())


class RecycleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcomes: list[str] = Field(
        default_factory=list, description="Outcomes to recycle on: busy, no_answer, machine, "
        "failed, abandoned (default: busy, no_answer, machine).")
    older_than_h: float = Field(24.0, ge=0, description="Only leads last called this long ago.")
    dry_run: bool = Field(False, description="Count, change nothing.")


@router.post("/{name}/recycle", summary="Put leads whose retries ran out back in the list")
async def recycle_leads(request: Request, name: str, body: RecycleBody) -> dict[str, Any]:
    """Leads nobody took (busy, no answer, machine, ...) go back for another round; the
    answer counts them by outcome and those left out (see docs/dialer.md, Recycling)."""
    now = datetime.now(UTC)
    done = await run_in_db(request, lambda s: recycle(
        s, name, outcomes_from(body.outcomes), timedelta(hours=body.older_than_h), now,
        body.dry_run).as_dict())
    if not body.dry_run:
        await audit(request, "campaign.leads.recycle", name,
                    {"recycled": done["recycled"], "outcomes": sorted(done["by_outcome"])})
    return done


@router.get("/{name}/results")
async def results(request: Request, name: str) -> list[dict[str, Any]]:
    return await run_in_db(request, lambda s: [q.as_dict() for q in summarise(s, name)])


@router.get("/{name}/results.csv")
async def results_csv(request: Request, name: str) -> Response:
    def work(s: Session) -> str:
        out = io.StringIO()
        export_csv(s, name, out)
        return out.getvalue()

    return Response(
        await run_in_db(request, work),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _csv(name: str, what: str, body: str) -> Response:
    return Response(body, media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}-{what}.csv"'})


@router.get("/{name}/leads.csv", summary="The lead list as CSV: where each lead is, its last "
            "call and disposition, its custom fields")
async def leads_csv(request: Request, name: str,
                    status: list[str] = Query([], description="Only leads in these statuses."),
                    ) -> Response:
    def work(s: Session) -> str:
        out = io.StringIO()
        export_leads(s, name, out, status)
        return out.getvalue()

    return _csv(name, "leads", await run_in_db(request, work))


@router.get("/{name}/attempts.csv", summary="Every call placed, with its outcome, disposition "
            "and agent, as CSV")
async def attempts_csv(request: Request, name: str,
                       since: datetime | None = Query(None, description="Calls placed from "
                                                      "then on (ISO 8601)."),
                       ) -> Response:
    start = since.replace(tzinfo=UTC) if since is not None and since.tzinfo is None else since

    def work(s: Session) -> str:
        out = io.StringIO()
        export_attempts(s, name, out, start)
        return out.getvalue()

    return _csv(name, "attempts", await run_in_db(request, work))


@router.get("/{name}/results.png")
async def results_png(request: Request, name: str) -> Response:
    summaries = await run_in_db(request, lambda s: summarise(s, name))
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = await asyncio.to_thread(
                chart, summaries, Path(tmp) / "chart.png", f"Survey {name}"
            )
        except CallCenterError as exc:
            raise HTTPException(404, str(exc)) from None
        return Response(path.read_bytes(), media_type="image/png")
