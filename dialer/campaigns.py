"""Campaigns in the store: creation, lead import, the life cycle and the lead flow.

The life cycle is ``draft -> running <-> paused -> completed / stopped`` (:data:`TRANSITIONS`);
``completed`` is set by the runner when no lead is left to call, ``stopped`` by a supervisor
and is final. The CLI and the REST API only change the state in the database: the engine's
:class:`dialer.runner.DialerService` notices and starts or stops the campaign's runner.

The lead flow (:func:`lead_flow`) is what the supervisor watches: how many leads are dialable
now, wait for their calling window or their retry time, are done, and when the list runs dry
at the current pace.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.cluster import leadership
from callcenter.errors import AlreadyExists, CallCenterError, NotFound
from callcenter.store import Database
from dialer import compliance, leases, local_rules
from dialer.caller_id_usage import pool_used_up
from dialer.caller_ids import MAX_POOL, Strategy, check_pool
from dialer.leads import BadRow, ColumnMapping, CsvFormat, LeadImport, lead_zone, parse_leads_file
from dialer.retry import DEFAULT_BY_DISPOSITION, DEFAULT_BY_OUTCOME, Outcome, RetryPolicy, RetryRule
from dialer.scripts import MAX_SCRIPT_CHARS, check_script
from dialer.store import Callback, Campaign, LeadAttempt
from dialer.store import Lead as LeadRow

TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"running", "stopped"}),
    "running": frozenset({"paused", "completed", "stopped"}),
    "paused": frozenset({"running", "completed", "stopped"}),
    "completed": frozenset(),
    "stopped": frozenset(),
}
PENDING = ("new", "retry")
_WINDOW_REASONS = {r.name for r in compliance.WINDOW_REASONS}


class CampaignStateError(CallCenterError):
    """A state change the life cycle forbids (starting a stopped campaign, ...)."""

    exit_code = 7

    def __init__(self, name: str, current: str, wanted: str) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing (final)"
        super().__init__(f"campaign {name!r} is {current} and cannot become {wanted}: "
                         f"from {current} it can go to {allowed}")
        self.current, self.wanted = current, wanted


class RetryRuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delay_s: float = Field(ge=0)
    max_retries: int = Field(ge=0)


class RetrySpec(BaseModel):
    """Overrides of the default retry rules; ``null`` makes an outcome / disposition final."""

    model_config = ConfigDict(extra="forbid")
    outcome: dict[Outcome, RetryRuleSpec | None] = {}
    disposition: dict[str, RetryRuleSpec | None] = {}


class CampaignSettings(BaseModel):
    """A campaign as a supervisor describes it (CLI options, API body)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Literal["telemarketing", "survey"]
    caller_id: str = Field(min_length=1, max_length=32)
    voice_layer: Literal["sip", "twilio"] = "sip"
    dial_mode: Literal["preview", "progressive", "predictive", "agentless"] | None = None
    max_lines: int = Field(10, ge=1, le=1000)
    abandon_target: float = Field(0.03, ge=0.0, le=0.03,
                                  description="Abandoned / live answered; the law allows 3 %.")
    window_start: time = time(9, 0)
    window_end: time = time(20, 0)
    weekdays: list[int] = Field(default_factory=lambda: list(range(7)))
    holidays: list[date] = []
    timezone: str | None = None
    region: str = Field("US", min_length=2, max_length=2)
    max_attempts_per_day: int = Field(3, ge=1)
    max_attempts_total: int = Field(10, ge=1)
    ring_timeout_s: float = Field(25.0, ge=compliance.MIN_RING_S, le=120.0)
    retry: RetrySpec = RetrySpec()
    flow: str | None = None
    queue: str | None = None
    amd: bool = Field(False, description="Screen answered calls for answering machines: a "
                      "machine is hung up on and retried by the machine rule.")
    callback_owner_wait_min: int | None = Field(
        None, ge=1, le=90 * 24 * 60,
        description="Minutes past its time an agent-only callback waits for its agent; then "
        "any agent of the campaign may take it (the dialer calls it). None: it waits for its "
        "agent until a supervisor reassigns it.")
    local_rules: bool = Field(
        True, description="Apply the stricter law of the called party's state or country "
        "(hours, Sundays, legal holidays, call caps; dialer/local_rules.toml). Turn off only "
        "for calls that law exempts.")
    public_holidays: bool = Field(
        False, description="No calls on the public holidays of the called party's country "
        "and state.")
    script: str | None = Field(
        None, max_length=MAX_SCRIPT_CHARS,
        description="What the agents read, shown with the call: plain text where "
        "{{first_name}}, {{number}} or any CSV column's name is replaced by the lead's value.")

    caller_ids: list[str] = Field(
        default_factory=list, max_length=MAX_POOL,
        description="Caller-ID pool: E.164 numbers the business may use and that can be "
        "called back; each call shows one of them (caller_id_strategy).")
    caller_id_strategy: Strategy | None = Field(
        None, description="fixed (caller_id), rotate (the pool number least used today) or "
        "local (a pool number of the called party's area code, else state or province, else "
        "country); default: local with a pool, fixed without.")
    caller_id_daily_cap: int | None = Field(
        None, ge=1, le=100_000, description="Most calls a shown number places a day; when "
        "every number reached it, leads wait for the next day (CALLER_ID_CAP).")

    @field_validator("caller_ids")
    @classmethod
    def _pool(cls, pool: list[str]) -> list[str]:
        return check_pool(pool)

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, days: list[int]) -> list[int]:
        if not days or any(d not in range(7) for d in days):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday), at least one")
        return sorted(set(days))

    @field_validator("script")
    @classmethod
    def _script(cls, text: str | None) -> str | None:
        return check_script(text) if text else None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, zone: str | None) -> str | None:
        if zone is not None:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {zone!r} (e.g. America/New_York)") from None
        return zone

    @model_validator(mode="after")
    def _consistent(self) -> CampaignSettings:
        if self.window_start >= self.window_end:
            raise ValueError("the calling window must start before it ends")
        self.caller_id_strategy = self.caller_id_strategy or (
            "local" if self.caller_ids else "fixed")
        if self.caller_id_strategy != "fixed" and not self.caller_ids:
            raise ValueError(f"caller ID strategy {self.caller_id_strategy} needs a pool of "
                             "numbers (--caller-id-pool, \"caller_ids\" in the API)")
        if self.kind == "survey":
            self.dial_mode = self.dial_mode or "agentless"
            if self.dial_mode != "agentless" or not self.flow:
                raise ValueError("a survey campaign is agentless and needs a flow (--flow)")
        else:
            self.dial_mode = self.dial_mode or "predictive"
            if self.dial_mode == "agentless" or not self.queue:
                raise ValueError("a telemarketing campaign needs agents: a queue (--queue) "
                                 "and a dial mode preview, progressive or predictive")
        return self


@dataclass(frozen=True)
class ImportReport:
    rows: int
    added: int
    merged: int  # rows merged into a lead (same number in the file or already in the list)
    bad_rows: tuple[BadRow, ...]


@dataclass(frozen=True)
class LeadFlow:
    """Where a campaign's leads are, and when the list runs dry at the current pace."""

    campaign: str
    state: str
    total: int
    dialable_now: int
    waiting_window: int
    waiting_retry: int
    dialing: int
    done: int
    dnc: int
    failed: int
    # Pending leads whose zone neither the lead, the number nor the campaign tells: they
    # will be refused (give them a timezone column or the campaign a fallback zone).
    zone_unknown: int
    # Leads waiting for a scheduled callback (not yet due, or held for the window): not in
    # waiting_window / waiting_retry; and due owner-only callbacks waiting for their agent.
    callbacks_scheduled: int
    callbacks_for_owner: int
    # The waiting leads (window and retry) by what they wait for: a compliance reason
    # (OUTSIDE_WINDOW, LOCAL_HOURS, LOCAL_HOLIDAY, LOCAL_CAP, DAILY_LIMIT, ABANDON_HOLD, ...)
    # or "retry" (a retry rule's delay).
    waiting_why: dict[str, int]
    attempts_last_hour: int
    runs_dry_at: datetime | None
    # The engine node running the campaign (its unexpired lease, dialer.leases), if any;
    # when none runs a running campaign, why (:func:`not_run_why`).
    run_by: str | None = None
    not_run_why: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["runs_dry_at"] = self.runs_dry_at.isoformat() if self.runs_dry_at else None
        return out


def has_agents(c: Campaign) -> bool:
    """Whether the campaign's answered calls go to agents (telemarketing: preview,
    progressive, predictive) rather than to a survey flow (agentless). In a cluster such a
    campaign runs only on the ACD's leader, where its agents are (docs/cluster.md)."""
    return c.dial_mode != "agentless"


def runs_on_leader(c: Campaign) -> bool:
    """Whether, in a cluster, only the ACD's leader runs the campaign: one with agents
    (:func:`has_agents`), or any over Twilio, surveys too: every node sends Twilio's webhooks
    on to the leader, whose Twilio layer must know the call (docs/cluster.md)."""
    return has_agents(c) or c.voice_layer == "twilio"


def _leader_only(c: Campaign) -> str:
    return "campaigns with agents" if has_agents(c) else "Twilio campaigns"


def rules_of(c: Campaign) -> compliance.CampaignRules:
    return compliance.CampaignRules(
        campaign_id=str(c.id), window_start=c.window_start, window_end=c.window_end,
        weekdays=frozenset(c.weekdays), holidays=frozenset(date.fromisoformat(d)
                                                           for d in c.holidays),
        max_attempts_per_day=c.max_attempts_per_day, max_attempts_total=c.max_attempts_total,
        abandon_target=c.abandon_target, ring_timeout_s=c.ring_timeout_s,
        default_region=c.region, fallback_zone=ZoneInfo(c.timezone) if c.timezone else None,
        local_rules=local_rules.active_rules() if c.local_rules else local_rules.NO_RULES,
        public_holidays=c.public_holidays)


def called_party(rules: compliance.CampaignRules, phone: str, fields: dict[str, Any],
                 ) -> tuple[tuple[ZoneInfo, ...] | compliance.Reason, tuple[str, ...]]:
    """Where a lead lives as the dial-time check finds it: its zones (or why unknown) and
    the places whose rules apply (:func:`dialer.local_rules.called_party_places`)."""
    zone, state = lead_zone(fields), local_rules.lead_state(fields)
    return (compliance.called_party_zones(phone, zone, rules.fallback_zone, state),
            local_rules.called_party_places(phone, state, zone))


def retry_policy_of(c: Campaign) -> RetryPolicy:
    spec = RetrySpec.model_validate(c.retry_rules or {})

    def rule(r: RetryRuleSpec | None) -> RetryRule | None:
        return None if r is None else RetryRule(timedelta(seconds=r.delay_s), r.max_retries)

    by_outcome = dict(DEFAULT_BY_OUTCOME) | {k: rule(v) for k, v in spec.outcome.items()}
    by_disp = dict(DEFAULT_BY_DISPOSITION) | {k: rule(v) for k, v in spec.disposition.items()}
    return RetryPolicy(by_outcome, by_disp)


class CampaignRepository:
    """Campaign queries and commands on a session the caller owns."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(self, settings: CampaignSettings) -> Campaign:
        if self.find(settings.name) is not None:
            raise AlreadyExists(f"campaign {settings.name!r} exists already: pick another name")
        data = settings.model_dump(exclude={"retry", "holidays"})
        campaign = Campaign(**data, holidays=[d.isoformat() for d in settings.holidays],
                            retry_rules=settings.retry.model_dump(mode="json", exclude_unset=True))
        self.session.add(campaign)
        self.session.flush()
        return campaign

    def find(self, name: str) -> Campaign | None:
        return self.session.scalar(select(Campaign).where(Campaign.name == name))

    def get(self, name: str) -> Campaign:
        campaign = self.find(name)
        if campaign is None:
            raise NotFound(f"no campaign {name!r}: see `callcenter campaign status`")
        return campaign

    def list(self) -> Sequence[Campaign]:
        return self.session.scalars(select(Campaign).order_by(Campaign.name)).all()

    def transition(self, name: str, wanted: str, now: datetime) -> Campaign:
        campaign = self.get(name)
        if wanted not in TRANSITIONS[campaign.state]:
            raise CampaignStateError(name, campaign.state, wanted)
        if wanted == "running" and self._count(campaign, None) == 0:
            raise CampaignStateError(name, campaign.state, "running (it has no leads: "
                                     "`callcenter campaign import` first)")
        campaign.state = wanted
        if wanted == "running" and campaign.started_at is None:
            campaign.started_at = now
        if wanted in ("completed", "stopped"):
            campaign.ended_at = now
        self.session.flush()
        return campaign

    def _count(self, campaign: Campaign, statuses: tuple[str, ...] | None) -> int:
        q = select(func.count()).select_from(LeadRow).where(LeadRow.campaign_id == campaign.id)
        if statuses is not None:
            q = q.where(LeadRow.status.in_(statuses))
        return int(self.session.scalar(q) or 0)

    def import_leads(self, name: str, parsed: LeadImport,
                     progress: Callable[[int], None] | None = None,
                     batch: int = 500) -> ImportReport:
        """Store parsed leads; a number already in the campaign is merged, never doubled."""
        campaign = self.get(name)
        if campaign.state in ("completed", "stopped"):
            raise CampaignStateError(name, campaign.state, "given new leads")
        added = 0
        merged = parsed.duplicates
        leads = list(parsed.leads)
        for start in range(0, len(leads), batch):
            chunk = leads[start:start + batch]
            known = {row.phone: row for row in self.session.scalars(select(LeadRow).where(
                LeadRow.campaign_id == campaign.id,
                LeadRow.phone.in_([lead.phone for lead in chunk])))}
            for lead in chunk:
                row = known.get(lead.phone)
                if row is None:
                    self.session.add(LeadRow(
                        campaign_id=campaign.id, phone=lead.phone, first_name=lead.first_name,
                        last_name=lead.last_name, external_id=lead.external_id,
                        fields=lead.fields()))
                    added += 1
                    continue
                merged += len(lead.lines)
                row.first_name = row.first_name or lead.first_name
                row.last_name = row.last_name or lead.last_name
                row.external_id = row.external_id or lead.external_id
                row.fields = {**lead.fields(), **row.fields}
            self.session.flush()
            if progress is not None:
                progress(min(start + batch, len(leads)))
        return ImportReport(parsed.rows, added, merged, parsed.bad_rows)


def import_csv(db: Database, name: str, path: Path, mapping: ColumnMapping | None = None,
               region: str | None = None,
               progress: Callable[[str, int], None] | None = None,
               fmt: CsvFormat = CsvFormat()) -> ImportReport:
    """Parse ``path`` and store its leads in one transaction; ``progress(stage, count)``;
    ``fmt`` gives the encoding and delimiter when they are not to be detected."""
    with db.session() as s:
        region = region or CampaignRepository(s).get(name).region
    parsed = parse_leads_file(path, mapping, region,
                              progress=(lambda n: progress("read", n)) if progress else None,
                              fmt=fmt)
    with db.session() as s:
        return CampaignRepository(s).import_leads(
            name, parsed, (lambda n: progress("stored", n)) if progress else None)


def lead_flow(session: Session, name: str, now: datetime) -> LeadFlow:
    """Count the campaign's leads by where they are in the flow at ``now``."""
    campaign = CampaignRepository(session).get(name)
    rules = rules_of(campaign)
    holder = leases.holder(session, campaign.id, now)
    counts = dict.fromkeys(("new", "retry", "dialing", "done", "dnc", "failed"), 0)
    for status, n in session.execute(
            select(LeadRow.status, func.count()).where(LeadRow.campaign_id == campaign.id)
            .group_by(LeadRow.status)):
        counts[status] = int(n)
    dialable = waiting_window = waiting_retry = zone_unknown = 0
    scheduled = for_owner = 0
    why: Counter[str] = Counter()  # waiting leads by what they wait for
    # Every caller ID reached its daily cap: a lead due now is held when claimed.
    used_up = pool_used_up(session, campaign, now)
    booked: dict[int, str | None] = {lead_id: owner for lead_id, owner in session.execute(
        select(Callback.lead_id, Callback.owner).where(Callback.campaign_id == campaign.id,
                                                       Callback.state == "pending"))}
    rows = session.execute(select(LeadRow.id, LeadRow.phone, LeadRow.next_attempt_at,
                                  LeadRow.wait_reason, LeadRow.fields)
                           .where(LeadRow.campaign_id == campaign.id,
                                  LeadRow.status.in_(PENDING)))
    for row in rows:
        waits = row.next_attempt_at is not None and aware(row.next_attempt_at) > now
        if row.id in booked:
            if waits:
                scheduled += 1
                continue
            if booked[row.id] is not None:  # due, for its owner only: not dialable by others
                for_owner += 1
                continue
        if waits:
            if row.wait_reason in _WINDOW_REASONS:
                waiting_window += 1
            else:
                waiting_retry += 1
            why[row.wait_reason or "retry"] += 1
            continue
        zones, places = called_party(rules, row.phone, row.fields or {})
        if isinstance(zones, compliance.Reason):
            zone_unknown += 1
        elif (closed := compliance.window_closed(zones, now, rules, places)) is not None:
            waiting_window += 1
            why[closed.name] += 1
        elif used_up:
            waiting_retry += 1
            why[compliance.Reason.CALLER_ID_CAP.name] += 1
        else:
            dialable += 1
    last_hour = int(session.scalar(
        select(func.count()).select_from(LeadAttempt)
        .where(LeadAttempt.campaign_id == campaign.id,
               LeadAttempt.started_at >= now - timedelta(hours=1))) or 0)
    pending = counts["new"] + counts["retry"] + counts["dialing"]
    runs_dry = None
    if pending == 0:
        runs_dry = now
    elif last_hour > 0 and campaign.state == "running":
        runs_dry = now + timedelta(hours=pending / last_hour)
    return LeadFlow(
        campaign=campaign.name, state=campaign.state, total=sum(counts.values()),
        dialable_now=dialable, waiting_window=waiting_window, waiting_retry=waiting_retry,
        dialing=counts["dialing"], done=counts["done"], dnc=counts["dnc"],
        failed=counts["failed"], zone_unknown=zone_unknown, callbacks_scheduled=scheduled,
        callbacks_for_owner=for_owner, waiting_why=dict(why.most_common()),
        attempts_last_hour=last_hour,
        runs_dry_at=runs_dry, run_by=holder.node if holder else None,
        not_run_why=None if holder else not_run_why(session, campaign, now))


def not_run_why(session: Session, campaign: Campaign, now: datetime) -> str | None:
    """Why no engine node runs the campaign while nobody holds its lease: ``None`` when it
    is not running. In a cluster (an ACD leader's lease was ever taken on this database) a
    campaign with agents, or over Twilio, waits for the ACD's leader
    (:class:`dialer.runner.DialerService`)."""
    if campaign.state != "running":
        return None
    layer = campaign.voice_layer
    if runs_on_leader(campaign) and leadership.last_lease(session) is not None:
        leader = leadership.read_leader(session, now)
        which = _leader_only(campaign)
        if leader is None:
            return (f"{which} run only on the ACD's leader, and no node leads "
                    "the ACD now: see `callcenter cluster status`")
        return (f"{which} run only on the ACD's leader, {leader.node}: it takes "
                f"the campaign within a few seconds if its {layer} voice layer is enabled")
    return (f"no engine node runs it yet: a node with the {layer} voice layer enabled takes "
            "it within a few seconds")


def aware(at: datetime) -> datetime:
    """SQLite hands back naive datetimes for aware columns; they are UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
