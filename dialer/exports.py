"""A campaign's lead list and its call attempts as CSV, for the supervisor's reports and
compliance records (what happened to each lead; every call placed, with its outcome).

Cells from lead data go through :func:`dialer.results.spreadsheet_safe` (no formula runs
when the file is opened in a spreadsheet). Rows are read in batches, never all at once.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from callcenter.errors import CallCenterError
from callcenter.store.models import Agent, Call
from dialer.campaigns import CampaignRepository, aware
from dialer.results import spreadsheet_safe
from dialer.store import LEAD_STATUSES, Lead, LeadAttempt

BATCH = 1000
LEAD_COLUMNS = ("phone", "first_name", "last_name", "external_id", "status", "attempts",
                "last_outcome", "last_disposition", "last_call_at", "next_attempt_at",
                "wait_reason")
ATTEMPT_COLUMNS = ("attempt", "phone", "external_id", "first_name", "last_name", "started_at",
                   "answered_at", "ended_at", "outcome", "disposition", "agent", "ring_s",
                   "talk_s", "call_id", "detail", "caller_id")


class ExportError(CallCenterError):
    """An export that cannot be made as asked."""

    exit_code = 2


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return aware(value).isoformat()
    if isinstance(value, float):
        return f"{value:.1f}"
    return spreadsheet_safe(str(value))


def check_statuses(statuses: Iterable[str]) -> tuple[str, ...]:
    wanted = tuple(s.strip().lower() for s in statuses)
    unknown = [s for s in wanted if s not in LEAD_STATUSES]
    if unknown:
        raise ExportError(f"unknown lead status {', '.join(map(repr, unknown))}: use "
                          f"{', '.join(LEAD_STATUSES)}")
    return wanted


def export_leads(session: Session, campaign: str, out: TextIO,
                 statuses: Iterable[str] = ()) -> int:
    """One row per lead (file order): where it is, its last call and disposition, then its
    custom fields (one column each, in the order first seen). Returns the rows written."""
    cid = CampaignRepository(session).get(campaign).id
    wanted = check_statuses(statuses)
    where = [Lead.campaign_id == cid, *([Lead.status.in_(wanted)] if wanted else [])]
    keys: dict[str, None] = {}
    stored: Iterable[dict[str, Any] | None] = session.scalars(
        select(Lead.fields).where(*where)).yield_per(BATCH)
    for fields in stored:
        for key in fields or {}:
            keys.setdefault(str(key), None)
    last = (select(LeadAttempt.lead_id, func.max(LeadAttempt.id).label("id"))
            .where(LeadAttempt.campaign_id == cid).group_by(LeadAttempt.lead_id).subquery())
    last_attempt = aliased(LeadAttempt)
    rows = session.execute(
        select(Lead, last_attempt.disposition, last_attempt.started_at)
        .outerjoin(last, last.c.lead_id == Lead.id)
        .outerjoin(last_attempt, last_attempt.id == last.c.id)
        .where(*where).order_by(Lead.id)).yield_per(BATCH)
    writer = csv.writer(out)
    writer.writerow([*LEAD_COLUMNS, *(spreadsheet_safe(k) for k in keys)])
    n = 0
    for lead, disposition, called_at in rows:
        fields = lead.fields or {}
        writer.writerow([_cell(v) for v in (
            lead.phone, lead.first_name, lead.last_name, lead.external_id, lead.status,
            lead.attempts, lead.last_outcome, disposition, called_at, lead.next_attempt_at,
            lead.wait_reason)] + [_cell(fields.get(k)) for k in keys])
        n += 1
    return n


def export_attempts(session: Session, campaign: str, out: TextIO,
                    since: datetime | None = None) -> int:
    """One row per call placed (oldest first), with the lead, outcome, disposition and the
    agent who took it; ``since`` keeps the calls placed from then on."""
    cid = CampaignRepository(session).get(campaign).id
    where = [LeadAttempt.campaign_id == cid,
             *([LeadAttempt.started_at >= since] if since is not None else [])]
    rows = session.execute(
        select(LeadAttempt, Lead.external_id, Lead.first_name, Lead.last_name, Agent.code)
        .join(Lead, Lead.id == LeadAttempt.lead_id)
        .outerjoin(Call, Call.id == LeadAttempt.call_id)
        .outerjoin(Agent, Agent.id == Call.agent_id)
        .where(*where).order_by(LeadAttempt.id)).yield_per(BATCH)
    writer = csv.writer(out)
    writer.writerow(ATTEMPT_COLUMNS)
    n = 0
    for a, external_id, first, last, agent in rows:
        writer.writerow([_cell(v) for v in (
            a.key, a.number, external_id, first, last, a.started_at, a.answered_at,
            a.ended_at, a.outcome, a.disposition, agent, a.ring_s, a.talk_s, a.call_id,
            a.detail, a.caller_id)])
        n += 1
    return n
