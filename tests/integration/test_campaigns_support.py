"""Shared by the campaign tests (no tests here): a scripted OutboundPort that writes real
CDRs, a clock, and a database with a campaign and leads."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import select
from typer.testing import CliRunner

from callcenter.bus import InProcessBus
from callcenter.calls import CallLog, CdrWriter, Directory
from callcenter.cli import app as root_cli
from callcenter.store import AgentRepository, Database, open_database, upgrade
from dialer.campaigns import CampaignRepository, CampaignSettings
from dialer.leads import Lead, LeadImport
from dialer.ports import (
    AgentLoad,
    Answered,
    AnswerGiven,
    CallOutcome,
    DialRequest,
    FixedAgents,
    OptedOut,
    ProgressSink,
    Result,
    Ringing,
)
from dialer.runner import CampaignRunner
from dialer.store import DncEntry, LeadAttempt

# Wednesday 2026-06-10 15:00 UTC: 11:00 in New York, 05:00 in Honolulu.
T0 = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)
NYC = [
    "+12125550100",
    "+12125550101",
    "+12125550102",
    "+12125550103",
    "+12125550104",
    "+12125550105",
    "+12125550106",
    "+12125550107",
]
HONOLULU = "+18085550123"


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@dataclass
class Script:
    """What one call to a number does: its result, and what the person does on the way."""

    result: Result
    opt_out: bool = False
    answers: tuple[tuple[str, str], ...] = ()
    disposition: str | None = None
    talk_s: float = 30.0
    ring_s: float = 4.0


@dataclass
class FakeOutbound:
    """The OutboundPort contract with scripted calls; each call gets an outbound CDR.

    ``scripts[number]`` is consumed call by call (the last one repeats). ``on_place`` runs
    first (the crash test uses it to die mid-call). ``dnc_seen_at_once`` records, for each
    opt-out, whether the DNC row was in the database before the call ended.
    """

    db: Database
    scripts: dict[str, list[Script]]
    on_place: Callable[[DialRequest], None] | None = None
    placed: list[DialRequest] = field(default_factory=list)
    dnc_seen_at_once: list[bool] = field(default_factory=list)
    cdr: CdrWriter = field(init=False)

    def __post_init__(self) -> None:
        self.cdr = CdrWriter(self.db, InProcessBus("test"), Directory())

    async def place(self, request: DialRequest, report: ProgressSink) -> CallOutcome:
        if self.on_place is not None:
            self.on_place(request)
        self.placed.append(request)
        queue = self.scripts[request.number]
        script = queue.pop(0) if len(queue) > 1 else queue[0]
        rec = CallLog(
            call_id=uuid.uuid4().hex,
            direction="outbound",
            voice_layer="sip",
            caller=request.caller_id,
            dialed=request.number,
            flow=request.flow,
        )
        await self.cdr.started(rec)
        await report(Ringing())
        answered = script.result in (Result.HUMAN, Result.MACHINE, Result.ABANDONED)
        if answered:
            rec.answered_at = rec.started_at + timedelta(seconds=script.ring_s)
            await report(Answered(human=script.result is not Result.MACHINE))
        for question, value in script.answers:
            await report(AnswerGiven(question, value))
        if script.opt_out:
            await report(OptedOut())
            with self.db.session() as s:
                seen = s.query(DncEntry).filter_by(number=request.number).count() == 1
            self.dnc_seen_at_once.append(seen)
        rec.hangup_cause = script.result.value
        await self.cdr.ended(rec)
        return CallOutcome(
            script.result,
            call_id=rec.call_id,
            ring_s=script.ring_s,
            talk_s=script.talk_s if answered else None,
            disposition=script.disposition,
            cause=script.result.value,
            opted_out=script.opt_out,
        )


def leads(*numbers: str, **custom: str) -> LeadImport:
    return LeadImport(
        tuple(
            Lead(phone=n, first_name=f"P{i}", custom=dict(custom), lines=[i + 2])
            for i, n in enumerate(numbers)
        ),
        (),
        0,
        len(numbers),
    )


def campaign_db(url: str, numbers: list[str], **settings: object) -> Database:
    db = open_database(url)
    upgrade(db)
    spec: dict[str, object] = {
        "name": "spring",
        "kind": "telemarketing",
        "caller_id": "+12125550999",
        "dial_mode": "progressive",
        "queue": "sales",
        "max_lines": 3,
    }
    spec.update(settings)
    with db.session() as s:
        repo = CampaignRepository(s)
        repo.create(CampaignSettings.model_validate(spec))
        repo.import_leads(str(spec["name"]), leads(*numbers, plan="gold"))
    return db


class Cli:
    """``callcenter ARGS...`` in-process (on the database of :func:`cli_on`)."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str) -> str:
        """Its output, asserting it exits 0."""
        result = self.runner.invoke(root_cli, list(args))
        assert result.exit_code == 0, (result.output, result.exception)
        return result.output

    def refused(self, *args: str) -> BaseException:
        """What it raised, asserting it does not exit 0."""
        result = self.runner.invoke(root_cli, list(args))
        assert result.exit_code != 0 and result.exception is not None, result.output
        return result.exception


def cli_on(url: str, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """``callcenter`` on a migrated database at ``url``."""
    monkeypatch.setenv("CALLCENTER_DATABASE__URL", url)
    upgrade(open_database(url))
    return Cli()


def start(db: Database, name: str = "spring", now: datetime = T0) -> None:
    with db.session() as s:
        CampaignRepository(s).transition(name, "running", now)


@asynccontextmanager
async def api_client(db: Database, *routers: APIRouter) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process HTTP client on an app serving ``routers`` over ``db``."""
    app = FastAPI()
    app.state.db = db
    for router in routers:
        app.include_router(router)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield client


def campaign_api(*routers: APIRouter) -> Callable[[str], AsyncIterator[httpx.AsyncClient]]:
    """A test module's ``api`` fixture, given to ``pytest.fixture``: an in-process client on
    ``routers`` over a fresh database of each backend (``db_url``) holding campaign spring
    without leads."""

    async def api(db_url: str) -> AsyncIterator[httpx.AsyncClient]:
        db = campaign_db(db_url, [])
        async with api_client(db, *routers) as client:
            yield client
        db.dispose()

    return api


async def answered_campaign(url: str, numbers: list[str]) -> tuple[Database, dict[str, str]]:
    """A running campaign whose leads were called (at T0) and answered, with agent ann:
    the call ids by number."""
    db = campaign_db(url, numbers)
    with db.session() as s:
        AgentRepository(s).add("ann", "Ann")
    start(db)
    port = FakeOutbound(db, {n: [Script(Result.HUMAN)] for n in numbers})
    runner = CampaignRunner(db, "spring", port, FixedAgents({"sales": AgentLoad(available=3)}),
                            clock=Clock(), tick_s=0.0)
    await runner.step()
    await runner.wait_idle()
    with db.session() as s:
        return db, {a.number: str(a.call_id) for a in s.scalars(select(LeadAttempt))}
