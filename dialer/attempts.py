"""Leads and attempts exactly once: the database side of the campaign runner.

Each function takes a session the caller owns (one transaction) and is safe on SQLite and
PostgreSQL alike:

- :func:`claim_and_record` claims a lead with one conditional ``UPDATE ... WHERE status IN
  ('new', 'retry') AND next_attempt_at <= now`` (a second claimer updates no row: PostgreSQL
  re-checks the condition after the first claimer's row lock, SQLite serialises writers),
  checks compliance at that moment, and records the attempt with its idempotency key, all in
  one transaction and before any call is placed. So: an attempt row means "maybe placed", no
  attempt row means "never placed".
- :func:`record_outcome` closes an attempt once (a second call is a no-op), applies the retry
  rules and puts an opt-out on the DNC list.
- :func:`reconcile` closes what a crash left open: attempts without outcome become ``failed``
  (crash) and their leads go back to retry; leads claimed but never attempted are released.

The do-not-call lists live here too, since the dial-time check reads them in the claiming
transaction: :func:`dnc_lists` (one indexed lookup per number), :func:`add_dnc`, and their
management (:func:`import_dnc` in batches of one multi-row ``INSERT ... ON CONFLICT DO
NOTHING``, :func:`remove_dnc`, :func:`dnc_holders`, :func:`dnc_counts`, :func:`dnc_entries`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, delete, func, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callcenter.errors import CallCenterError
from dialer import callbacks, compliance, leases, local_rules
from dialer.caller_id_usage import caller_id_for, day_bounds
from dialer.campaigns import PENDING, CampaignRepository, aware, retry_policy_of, rules_of
from dialer.leads import BadRow, NumberList, lead_zone
from dialer.ports import CallOutcome, DialRequest, Result
from dialer.retry import Outcome, RetryPolicy, next_attempt
from dialer.scripts import render_script
from dialer.store import DNC_SCOPES, Campaign, DncEntry, Lead, LeadAttempt, SurveyAnswer

CRASH = "crash: the runner stopped before the call's outcome was known"
_FINAL_REFUSALS = {compliance.Reason.INVALID_NUMBER, compliance.Reason.UNKNOWN_ZONE,
                   compliance.Reason.BAD_LEAD_ZONE, compliance.Reason.TOTAL_LIMIT}
_DNC_REFUSALS = {compliance.Reason.DNC_INTERNAL, compliance.Reason.DNC_CAMPAIGN,
                 compliance.Reason.DNC_NATIONAL}
_RATE_REFUSALS = {compliance.Reason.CAMPAIGN_ABANDON_RATE,
                  compliance.Reason.ROLLING_ABANDON_RATE}


@dataclass(frozen=True)
class Claimed:
    attempt_id: int
    lead_id: int
    request: DialRequest


@dataclass(frozen=True)
class Refused:
    lead_id: int
    reason: compliance.Reason


@dataclass(frozen=True)
class CampaignStats:
    """The campaign's attempts so far, for the pacer's snapshot and the abandon ceiling."""

    dialed: int
    human: int
    machine: int
    abandoned: int
    mean_talk_s: float | None
    ring_to_answer_s: tuple[float, ...]
    abandons: compliance.AbandonCounts


def due_leads(session: Session, campaign_id: int, now: datetime, limit: int,
              exclude: set[int]) -> list[int]:
    """Ids of leads that may be claimed at ``now``, oldest due first."""
    q = (select(Lead.id).where(Lead.campaign_id == campaign_id, Lead.status.in_(PENDING),
                               _due(now), callbacks.not_owned())
         .order_by(func.coalesce(Lead.next_attempt_at, Lead.created_at), Lead.id)
         .limit(limit + len(exclude)))
    return [i for i in session.scalars(q) if i not in exclude][:limit]


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(Lead.next_attempt_at.is_(None), Lead.next_attempt_at <= now)


def claim_lead(session: Session, lead_id: int, now: datetime, owner: str,
               for_agent: str | None = None, lease: leases.Lease | None = None) -> bool:
    """Claim one lead for dialing: True for exactly one claimer, whatever the concurrency.
    A lead with a pending owner-only callback is claimed only ``for_agent`` its owner. With
    a ``lease``, only while the campaign's lease is still in that term (a node another node
    took the campaign from claims nothing)."""
    mine = callbacks.owned_by(for_agent) if for_agent is not None else callbacks.not_owned()
    held = leases.holds(lease) if lease is not None else true()
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Lead).where(Lead.id == lead_id, Lead.status.in_(PENDING), _due(now), mine, held)
        .values(status="dialing", claimed_by=owner, claimed_at=now)
        .execution_options(synchronize_session=False))
    return bool(result.rowcount == 1)


def dnc_lists(session: Session, number: str, campaign_id: int) -> compliance.DncLists:
    """The DNC lists as far as ``number`` is concerned (one indexed lookup)."""
    internal: set[str] = set()
    national: set[str] = set()
    campaign: set[str] = set()
    for scope, cid in session.execute(
            select(DncEntry.scope, DncEntry.campaign_id).where(DncEntry.number == number)):
        if scope == "internal":
            internal.add(number)
        elif scope == "national":
            national.add(number)
        elif cid == campaign_id:
            campaign.add(number)
    return compliance.DncLists(frozenset(internal), {str(campaign_id): frozenset(campaign)},
                               frozenset(national))


def add_dnc(session: Session, number: str, reason: str, scope: str = "internal",
            campaign_id: int | None = None, now: datetime | None = None) -> bool:
    """Put ``number`` on a DNC list; False when it was there already."""
    q = select(DncEntry.id).where(DncEntry.number == number, DncEntry.scope == scope)
    q = q.where(DncEntry.campaign_id == campaign_id if campaign_id is not None
                else DncEntry.campaign_id.is_(None))
    if session.scalar(q) is not None:
        return False
    entry = DncEntry(number=number, scope=scope, campaign_id=campaign_id, reason=reason[:200])
    if now is not None:
        entry.added_at = now
    try:
        with session.begin_nested():
            session.add(entry)
    except IntegrityError:  # added by someone else a moment ago
        return False
    return True


def save_answer(session: Session, attempt_id: int, question: str, value: str,
                now: datetime) -> None:
    attempt = session.get(LeadAttempt, attempt_id)
    if attempt is None:
        return
    row = session.scalar(select(SurveyAnswer).where(
        SurveyAnswer.lead_id == attempt.lead_id, SurveyAnswer.question == question))
    if row is None:
        session.add(SurveyAnswer(campaign_id=attempt.campaign_id, lead_id=attempt.lead_id,
                                 attempt_id=attempt_id, question=question[:64],
                                 value=value[:255], answered_at=now))
    else:
        row.value, row.attempt_id, row.answered_at = value[:255], attempt_id, now


def opt_out(session: Session, attempt_id: int, now: datetime) -> None:
    attempt = session.get(LeadAttempt, attempt_id)
    if attempt is not None:
        add_dnc(session, attempt.number, f"opt-out key during attempt {attempt.key}", now=now)


def campaign_stats(session: Session, campaign: Campaign, now: datetime) -> CampaignStats:
    by_outcome: dict[str | None, int] = {}
    dialed = 0
    for outcome, n in session.execute(
            select(LeadAttempt.outcome, func.count()).where(LeadAttempt.campaign_id == campaign.id)
            .group_by(LeadAttempt.outcome)):
        by_outcome[outcome] = int(n)
        dialed += int(n)
    talk = session.scalar(select(func.avg(LeadAttempt.talk_s)).where(
        LeadAttempt.campaign_id == campaign.id, LeadAttempt.outcome == Result.HUMAN))
    rings = session.scalars(
        select(LeadAttempt.ring_s).where(LeadAttempt.campaign_id == campaign.id,
                                         LeadAttempt.outcome == Result.HUMAN,
                                         LeadAttempt.ring_s.is_not(None))
        .order_by(LeadAttempt.id.desc()).limit(200)).all()
    recent: dict[str | None, int] = {outcome: int(n) for outcome, n in session.execute(
        select(LeadAttempt.outcome, func.count())
        .where(LeadAttempt.campaign_id == campaign.id,
               LeadAttempt.started_at >= now - compliance.ROLLING_WINDOW)
        .group_by(LeadAttempt.outcome))}
    human, abandoned = by_outcome.get("human", 0), by_outcome.get("abandoned", 0)
    abandons = compliance.AbandonCounts(
        live_answered=human + abandoned, abandoned=abandoned,
        live_answered_30d=recent.get("human", 0) + recent.get("abandoned", 0),
        abandoned_30d=recent.get("abandoned", 0))
    return CampaignStats(dialed, human, by_outcome.get("machine", 0), abandoned,
                         float(talk) if talk is not None else None,
                         tuple(float(r) for r in rings if r is not None), abandons)


def claim_and_record(session: Session, campaign: Campaign, lead_id: int, now: datetime,
                     owner: str, abandons: compliance.AbandonCounts,
                     lease: leases.Lease | None = None) -> Claimed | Refused | None:
    """Claim, check compliance now, record the attempt: None when another claimer won (or
    the ``lease`` the claim was made under is no longer held)."""
    if not claim_lead(session, lead_id, now, owner, lease=lease):
        return None
    lead = session.get(Lead, lead_id, populate_existing=True)
    assert lead is not None
    refused = check_claimed(session, campaign, lead, now, abandons)
    if refused is not None:
        return refused
    return record_attempt(session, campaign, lead, now)


def check_claimed(session: Session, campaign: Campaign, lead: Lead, now: datetime,
                  abandons: compliance.AbandonCounts) -> Refused | None:
    """The dial-time compliance check of a lead this transaction claimed (window, DNC,
    attempt limits, abandon ceiling): None when it may be called now; otherwise the lead is
    put where the refusal says (DNC, failed, or waiting until allowed) and released."""
    rules = rules_of(campaign)
    history = [compliance.Attempt(aware(at), outcome == Result.ABANDONED)
               for at, outcome in session.execute(
                   select(LeadAttempt.started_at, LeadAttempt.outcome)
                   .where(LeadAttempt.lead_id == lead.id))]
    fields = lead.fields or {}
    decision = compliance.check_dial(lead.phone, rules, dnc_lists(session, lead.phone,
                                                                 campaign.id),
                                     history, abandons, now, lead_zone(fields),
                                     local_rules.lead_state(fields))
    if decision.allowed:
        return None
    _hold(session, lead, decision, now)
    return Refused(lead.id, decision.reason)


def screen_fields(lead: Lead) -> dict[str, str]:
    """What the agent's screen pop shows of a lead (names, external id, custom fields)."""
    return {"first_name": lead.first_name, "last_name": lead.last_name,
            "external_id": lead.external_id, **{k: str(v) for k, v in lead.fields.items()}}


def script_for(campaign: Campaign, lead: Lead) -> str:
    """The campaign's agent script with the lead's fields in place ("" without a script)."""
    if not campaign.script:
        return ""
    return render_script(campaign.script, {**screen_fields(lead), "number": lead.phone})


def caller_id_or_hold(session: Session, campaign: Campaign, lead: Lead,
                      now: datetime) -> str | Refused:
    """The caller ID to show the claimed lead (:mod:`dialer.caller_id_usage`); when every
    number of the campaign reached its daily cap, the lead waits for the next day
    (``CALLER_ID_CAP``) and is released."""
    shown = caller_id_for(session, campaign, lead.phone, now)
    if shown is not None:
        return shown
    decision = compliance.DialDecision(False, compliance.Reason.CALLER_ID_CAP,
                                       day_bounds(campaign, now)[1])
    _hold(session, lead, decision, now)
    return Refused(lead.id, decision.reason)


def record_attempt(session: Session, campaign: Campaign, lead: Lead, now: datetime,
                   agent: str | None = None) -> Claimed | Refused:
    """Record the next attempt of a claimed, checked lead (before any call is placed) and the
    call to place, with the caller ID it shows; ``agent`` is the agent who must take it
    (preview dialing). Refused (the lead held) when the caller IDs are used up for today."""
    shown = caller_id_or_hold(session, campaign, lead, now)
    if isinstance(shown, Refused):
        return shown
    lead.attempts += 1
    attempt = LeadAttempt(lead_id=lead.id, campaign_id=campaign.id, number=lead.phone,
                          key=f"{campaign.id}:{lead.id}:{lead.attempts}", started_at=now,
                          caller_id=shown)
    session.add(attempt)
    session.flush()
    callbacks.mark_done(session, lead.id, attempt.id, now)
    request = DialRequest(
        attempt_key=attempt.key, campaign=campaign.name, kind=campaign.kind, number=lead.phone,
        caller_id=shown, lead_fields=screen_fields(lead),
        script=script_for(campaign, lead),
        ring_timeout_s=compliance.ring_timeout_s(rules_of(campaign)), flow=campaign.flow,
        queue=campaign.queue, amd=campaign.amd, agent=agent)
    return Claimed(attempt.id, lead.id, request)


def pending_status(lead: Lead) -> str:
    """Where a released lead goes back to: 'retry' once it was called, else 'new'."""
    return "retry" if lead.attempts else "new"


def _hold(session: Session, lead: Lead, decision: compliance.DialDecision,
          now: datetime) -> None:
    """Put a refused lead where the refusal says: DNC, failed, or waiting until allowed (a
    callback it was due for stays pending, and is missed when the lead is closed)."""
    reason = decision.reason
    lead.claimed_by = lead.claimed_at = None
    lead.wait_reason = reason.name
    if reason in _DNC_REFUSALS:
        lead.status = "dnc"
    elif reason in _FINAL_REFUSALS or (reason not in _RATE_REFUSALS
                                       and decision.next_allowed_at is None):
        lead.status = "failed"
    else:
        lead.status = pending_status(lead)
        if decision.next_allowed_at is not None:
            lead.next_attempt_at = decision.next_allowed_at.astimezone(UTC)  # SQLite: UTC only
    if lead.status in ("dnc", "failed"):
        callbacks.mark_missed(session, lead.id, now)


def record_outcome(session: Session, attempt_id: int, outcome: CallOutcome, now: datetime,
                   policy: RetryPolicy | None = None) -> bool:
    """Close the attempt and move its lead on; False when it was closed already."""
    attempt = session.get(LeadAttempt, attempt_id, populate_existing=True)
    if attempt is None or attempt.outcome is not None:
        return False
    lead = session.get(Lead, attempt.lead_id, populate_existing=True)
    assert lead is not None
    if policy is None:
        campaign = session.get(Campaign, attempt.campaign_id)
        assert campaign is not None
        policy = retry_policy_of(campaign)
    result = outcome.result
    attempt.outcome = result.value
    attempt.ended_at = now
    attempt.call_id = outcome.call_id
    attempt.ring_s, attempt.talk_s = outcome.ring_s, outcome.talk_s
    attempt.disposition = outcome.disposition or attempt.disposition
    attempt.detail = outcome.cause[:200]
    if outcome.talk_s is not None:
        attempt.answered_at = now - timedelta(seconds=outcome.talk_s)
    for answer in outcome.answers:
        save_answer(session, attempt_id, answer.question, answer.value, now)
    lead.last_outcome = result.value
    lead.claimed_by = lead.claimed_at = None
    _move_lead(session, attempt, lead, policy, now, opted_out=outcome.opted_out)
    return True


#: Disposition codes that put the number on the internal do-not-call list (the catalogue's
#: ``dnc`` and the retry rules' ``do_not_call``).
DNC_DISPOSITIONS = frozenset({"dnc", "do_not_call"})
CALLBACK = "callback"  # the disposition that may book a time (dialer.callbacks)


def _move_lead(session: Session, attempt: LeadAttempt, lead: Lead, policy: RetryPolicy,
               now: datetime, opted_out: bool = False) -> None:
    """Where the lead goes after ``attempt`` (its outcome and disposition): DNC, retry, done."""
    disposition = attempt.disposition
    if opted_out or disposition in DNC_DISPOSITIONS:
        why = "opt-out key" if opted_out else f"agent disposition {disposition}"
        add_dnc(session, attempt.number, f"{why} (attempt {attempt.key})", now=now)
        lead.status, lead.wait_reason, lead.next_attempt_at = "dnc", "DNC_INTERNAL", None
        callbacks.mark_missed(session, lead.id, now)
        return
    booked = callbacks.pending(session, lead.id) if disposition == CALLBACK else None
    if booked is not None:  # the agent gave a time: it replaces the callback rule's delay
        callbacks.wait_for(lead, booked)
        return
    assert attempt.outcome is not None  # a closed attempt
    result = Result(attempt.outcome)
    as_retry = Outcome.ANSWERED if result is Result.HUMAN else Outcome(result.value)
    same = (LeadAttempt.disposition == disposition if disposition
            else LeadAttempt.outcome == result.value)
    this_round = (LeadAttempt.started_at >= lead.recycled_at if lead.recycled_at is not None
                  else LeadAttempt.id.is_not(None))  # since the lead was last recycled
    earlier = int(session.scalar(select(func.count()).select_from(LeadAttempt).where(
        LeadAttempt.lead_id == lead.id, LeadAttempt.id != attempt.id, same, this_round)) or 0)
    decision = next_attempt(policy, as_retry, disposition, earlier, now)
    if decision.retry:
        at = decision.at.astimezone(UTC) if decision.at else None
        lead.status, lead.next_attempt_at, lead.wait_reason = "retry", at, "retry"
    else:
        lead.status = "failed" if result is Result.FAILED else "done"
        lead.next_attempt_at, lead.wait_reason = None, None


def apply_disposition(session: Session, call_id: str, code: str, now: datetime) -> bool:
    """An agent's disposition set on a campaign call's record (usually in wrap-up, after the
    attempt closed): kept on the attempt, and the lead moved by it (DNC, retry rules by
    disposition) unless a later attempt of the lead has happened since. False when the call
    is no campaign call."""
    attempt = session.scalar(select(LeadAttempt).where(LeadAttempt.call_id == call_id))
    if attempt is None:
        return False
    if attempt.disposition == CALLBACK and code != CALLBACK:
        callbacks.cancel_from(session, attempt.id, now)
    attempt.disposition = code
    if attempt.outcome is None:
        return True  # still open: record_outcome applies it
    lead = session.get(Lead, attempt.lead_id)
    later = session.scalar(select(func.count()).select_from(LeadAttempt).where(
        LeadAttempt.lead_id == attempt.lead_id, LeadAttempt.id > attempt.id))
    if lead is None or later or lead.status in ("dialing", "dnc"):
        return True
    campaign = session.get(Campaign, attempt.campaign_id)
    assert campaign is not None
    _move_lead(session, attempt, lead, retry_policy_of(campaign), now)
    return True


def reconcile(session: Session, campaign_id: int, now: datetime) -> int:
    """Close what a crash left: returns how many leads were stuck in 'dialing'."""
    leads = session.scalars(select(Lead).where(Lead.campaign_id == campaign_id,
                                               Lead.status == "dialing")).all()
    for lead in leads:
        open_attempts = session.scalars(select(LeadAttempt.id).where(
            LeadAttempt.lead_id == lead.id, LeadAttempt.outcome.is_(None))).all()
        for attempt_id in open_attempts:
            record_outcome(session, attempt_id, CallOutcome(Result.FAILED, cause=CRASH), now)
        if not open_attempts:  # claimed, never attempted: nothing was placed
            lead.status, lead.claimed_by, lead.claimed_at = pending_status(lead), None, None
    return len(leads)


# --- Do-not-call list management ----------------------------------------------------------


class DncError(CallCenterError):
    """A do-not-call request that cannot be served as asked (bad number, list or campaign)."""

    exit_code = 2


@dataclass(frozen=True)
class DncList:
    """One do-not-call list: ``internal``, ``national`` or one campaign's."""

    scope: str
    campaign: str | None = None
    campaign_id: int | None = None

    def __str__(self) -> str:
        return f"campaign {self.campaign}" if self.campaign else self.scope


@dataclass(frozen=True)
class DncRow:
    """A number on a list, with why and since when."""

    number: str
    list: DncList
    reason: str
    added_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "list": self.list.scope, "campaign": self.list.campaign,
                "reason": self.reason, "added_at": aware(self.added_at).isoformat()}


@dataclass(frozen=True)
class DncImportReport:
    rows: int
    added: int
    already: int  # on the list before the import
    duplicates: int  # rows repeating a number of the same file
    bad_rows: tuple[BadRow, ...]


def dnc_list(session: Session, scope: str, campaign: str | None = None) -> DncList:
    """The list named by ``scope`` (and ``campaign`` for a campaign's list), checked."""
    if scope not in DNC_SCOPES:
        raise DncError(f"no do-not-call list {scope!r}: use internal, national or campaign")
    if scope == "campaign":
        if not campaign:
            raise DncError("the campaign list needs the campaign's name (--campaign NAME)")
        return DncList(scope, campaign, CampaignRepository(session).get(campaign).id)
    if campaign:
        raise DncError(f"a campaign ({campaign!r}) goes with the campaign list only: "
                       "pass --list campaign, or leave out --campaign")
    return DncList(scope)


def dnc_number(raw: str, region: str = "US") -> str:
    """``raw`` in E.164, as lead and DNC imports normalise it; DncError when invalid."""
    e164 = compliance.normalise(raw, region)
    if e164 is None:
        raise DncError(f"{raw!r} is not a valid phone number (region {region}): give it in "
                       "E.164, e.g. +12125550123, or its region (--region)")
    return e164


def _on(target: DncList) -> ColumnElement[bool]:
    scope = DncEntry.scope == target.scope
    if target.campaign_id is None:
        return scope & DncEntry.campaign_id.is_(None)
    return scope & (DncEntry.campaign_id == target.campaign_id)


def _count(session: Session, target: DncList) -> int:
    return int(session.scalar(select(func.count()).select_from(DncEntry).where(_on(target)))
               or 0)


def import_dnc(session: Session, target: DncList, parsed: NumberList, reason: str,
               now: datetime, progress: Callable[[int], None] | None = None,
               batch: int = 5000) -> DncImportReport:
    """Add every parsed number to ``target``; numbers already there are counted, not doubled.
    Each batch is one multi-row insert that skips numbers already on the list (also those
    an opt-out adds meanwhile), so 100 000 numbers take seconds."""
    before = _count(session, target)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    numbers = parsed.numbers
    for start in range(0, len(numbers), batch):
        rows = [{"number": n, "scope": target.scope, "campaign_id": target.campaign_id,
                 "reason": reason[:200], "added_at": now} for n in numbers[start:start + batch]]
        session.execute(insert(DncEntry).on_conflict_do_nothing(), rows)
        if progress is not None:
            progress(min(start + batch, len(numbers)))
    added = _count(session, target) - before
    return DncImportReport(parsed.rows, added, len(numbers) - added, parsed.duplicates,
                           parsed.bad_rows)


def remove_dnc(session: Session, number: str, target: DncList) -> bool:
    """Take ``number`` off ``target``; False when it was not on it."""
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        delete(DncEntry).where(DncEntry.number == number, _on(target))
        .execution_options(synchronize_session=False))
    return bool(result.rowcount)


def _rows(session: Session, where: ColumnElement[bool], limit: int | None = None,
          offset: int = 0) -> list[DncRow]:
    q = (select(DncEntry.number, DncEntry.scope, Campaign.name, DncEntry.campaign_id,
                DncEntry.reason, DncEntry.added_at)
         .outerjoin(Campaign, Campaign.id == DncEntry.campaign_id).where(where)
         .order_by(DncEntry.number, DncEntry.scope, Campaign.name).offset(offset).limit(limit))
    return [DncRow(number, DncList(scope, name, cid), reason, at)
            for number, scope, name, cid, reason, at in session.execute(q)]


def dnc_holders(session: Session, number: str) -> list[DncRow]:
    """Every list that holds ``number`` (E.164)."""
    return _rows(session, DncEntry.number == number)


def dnc_entries(session: Session, target: DncList, limit: int = 100,
                offset: int = 0) -> list[DncRow]:
    """The numbers on ``target`` in number order, a page at a time."""
    return _rows(session, _on(target), limit, offset)


def dnc_counts(session: Session) -> list[tuple[DncList, int]]:
    """How many numbers each list holds (lists that hold none are left out)."""
    q = (select(DncEntry.scope, Campaign.name, DncEntry.campaign_id, func.count())
         .outerjoin(Campaign, Campaign.id == DncEntry.campaign_id)
         .group_by(DncEntry.scope, Campaign.name, DncEntry.campaign_id)
         .order_by(DncEntry.scope, Campaign.name))
    return [(DncList(scope, name, cid), int(n)) for scope, name, cid, n in session.execute(q)]
