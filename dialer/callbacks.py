"""Scheduled callbacks in the store: set by a disposition, listed, moved, reassigned,
cancelled, and closed when the lead is called.

A callback is a row of ``callbacks`` (one pending per lead) plus the lead's own fields: the
lead waits in ``retry`` with ``next_attempt_at`` = the callback's time and ``wait_reason``
:data:`WAITING`, so the runner's exactly-once claim (:func:`dialer.attempts.claim_lead`)
dials it when due, after the same dial-time compliance check as any lead (a closed window
holds it until the window opens). A callback for its **owner only** is never claimed by the
runner nor offered to another agent (:func:`not_owned`); its owner takes it as a preview
(:func:`dialer.preview.reserve_callback`, and first in line in a preview campaign).

The callback is ``done`` once an attempt is recorded for the lead (:func:`mark_done`),
``missed`` when the rules close the lead first (DNC, attempt limits: :func:`mark_missed`),
``cancelled`` by a supervisor or agent (:func:`cancel`), or when replaced by a new one.

Each function takes a session the caller owns (one transaction); time comes in as ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, select, update
from sqlalchemy.orm import Session

from callcenter.errors import CallCenterError, NotFound
from callcenter.store.models import Agent
from dialer import compliance
from dialer.callback_times import CallbackTime, callback_time
from dialer.campaigns import CampaignRepository, aware, called_party, rules_of
from dialer.store import CALLBACK_STATES, Callback, Campaign, Lead, LeadAttempt

WAITING = "CALLBACK"  # wait_reason of a lead waiting for its scheduled callback
ANYONE = "anyone"  # the owner filter for callbacks any agent may take


class CallbackError(CallCenterError):
    """A change to a callback its state forbids (done, cancelled, the lead on a call)."""

    exit_code = 7
    status = 409


class CallbackRequestError(CallbackError):
    """A callback asked for wrongly (no campaign call, unknown owner or state): 422 with
    what to send."""

    exit_code = 2
    status = 422


@dataclass(frozen=True)
class CallbackView:
    """A callback as the lists show it."""

    id: int
    campaign: str
    lead_id: int
    number: str
    first_name: str
    last_name: str
    due_at: datetime
    owner: str | None
    note: str
    created_by: str
    created_at: datetime
    state: str
    # For a pending one: scheduled (not yet due), waiting_for_window, due, dialing.
    waiting: str | None
    dial_from: datetime | None  # when the lead may be dialed (the window may move it later)

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for key in ("due_at", "created_at", "dial_from"):
            out[key] = out[key].isoformat() if out[key] is not None else None
        return out


def not_owned() -> ColumnElement[bool]:
    """The lead has no pending owner-only callback: the runner and other agents may take it."""
    return ~exists().where(Callback.lead_id == Lead.id, Callback.state == "pending",
                           Callback.owner.is_not(None))


def owned_by(agent: str) -> ColumnElement[bool]:
    """The lead has a pending callback for ``agent`` only."""
    return exists().where(Callback.lead_id == Lead.id, Callback.state == "pending",
                          Callback.owner == agent)


def pending(session: Session, lead_id: int) -> Callback | None:
    return session.scalar(select(Callback).where(Callback.lead_id == lead_id,
                                                 Callback.state == "pending"))


def read_time(campaign: Campaign, lead: Lead, raw: str, now: datetime) -> CallbackTime:
    """``raw`` read for this lead (see :mod:`dialer.callback_times`), where the dial-time
    check finds it lives."""
    rules = rules_of(campaign)
    zones, places = called_party(rules, lead.phone, lead.fields or {})
    return callback_time(raw, zones, now, rules, places=places)


def schedule(session: Session, campaign: Campaign, lead: Lead, when: CallbackTime,
             owner: str | None, note: str, created_by: str, now: datetime,
             source_attempt_id: int | None = None) -> Callback:
    """Book a callback for the lead (a pending one is replaced) and let the lead wait for it;
    a lead on a call waits from the call's end (:func:`dialer.attempts.record_outcome`)."""
    if lead.status == "dnc":
        raise CallbackError(f"lead {lead.id} ({lead.phone}) is on a do-not-call list: it "
                            "cannot be called back")
    _close(session, lead.id, "cancelled", now)
    cb = Callback(campaign_id=campaign.id, lead_id=lead.id, due_at=when.due, owner=owner,
                  note=note[:500], created_by=created_by[:64], created_at=now,
                  source_attempt_id=source_attempt_id, state="pending", updated_at=now)
    session.add(cb)
    session.flush()
    if lead.status != "dialing":
        wait_for(lead, cb)
    return cb


def wait_for(lead: Lead, cb: Callback) -> None:
    """Put the lead in line for its callback's time."""
    lead.status, lead.next_attempt_at, lead.wait_reason = "retry", cb.due_at, WAITING


def _close(session: Session, lead_id: int, state: str, now: datetime,
           attempt_id: int | None = None) -> None:
    values: dict[str, Any] = {"state": state, "updated_at": now}
    if attempt_id is not None:
        values["attempt_id"] = attempt_id
    session.execute(update(Callback).where(Callback.lead_id == lead_id,
                                           Callback.state == "pending")
                    .values(**values).execution_options(synchronize_session=False))


def mark_done(session: Session, lead_id: int, attempt_id: int, now: datetime) -> None:
    """An attempt is recorded for the lead: its pending callback is served."""
    _close(session, lead_id, "done", now, attempt_id)


def mark_missed(session: Session, lead_id: int, now: datetime) -> None:
    """The rules closed the lead (DNC, limits) before its callback was served."""
    _close(session, lead_id, "missed", now)


def cancel_from(session: Session, attempt_id: int, now: datetime) -> None:
    """The disposition that booked a callback was changed: the callback goes."""
    session.execute(update(Callback).where(Callback.source_attempt_id == attempt_id,
                                           Callback.state == "pending")
                    .values(state="cancelled", updated_at=now)
                    .execution_options(synchronize_session=False))


def release_to_anyone(session: Session, campaign: Campaign, now: datetime) -> list[int]:
    """Owner-only callbacks left untaken ``campaign.callback_owner_wait_min`` minutes past
    their time become anyone's (VICIdial's "callback useronly move minutes"): the dialer
    calls them like any due lead. The note keeps whose they were. Returns their ids."""
    wait = campaign.callback_owner_wait_min
    if not wait:
        return []
    overdue = session.scalars(select(Callback).where(
        Callback.campaign_id == campaign.id, Callback.state == "pending",
        Callback.owner.is_not(None), Callback.due_at <= now - timedelta(minutes=wait),
    ).with_for_update()).all()
    for cb in overdue:
        moved = f"({cb.owner}'s only until {wait} min past its time)"
        cb.note = f"{cb.note} {moved}"[-500:] if cb.note else moved
        cb.owner, cb.updated_at = None, now
    return [cb.id for cb in overdue]


def _view(cb: Callback, lead: Lead, campaign: str, now: datetime) -> CallbackView:
    waiting = None
    dial_from = None
    if cb.state == "pending":
        dial_from = aware(lead.next_attempt_at) if lead.next_attempt_at else aware(cb.due_at)
        if lead.status == "dialing":
            waiting = "dialing"
        elif dial_from > now:
            window = lead.wait_reason in {r.name for r in compliance.WINDOW_REASONS}
            waiting = "waiting_for_window" if window else "scheduled"
        else:
            waiting = "due"
    return CallbackView(cb.id, campaign, lead.id, lead.phone, lead.first_name, lead.last_name,
                        aware(cb.due_at), cb.owner, cb.note, cb.created_by,
                        aware(cb.created_at), cb.state, waiting, dial_from)


def list_callbacks(session: Session, now: datetime, campaign: str | None = None,
                   owner: str | None = None, state: str | None = "pending",
                   limit: int = 500) -> list[CallbackView]:
    """Callbacks by due time; ``owner`` an agent code or :data:`ANYONE`, ``state`` one of
    :data:`CALLBACK_STATES` or None for all."""
    q = (select(Callback, Lead, Campaign.name).join(Lead, Lead.id == Callback.lead_id)
         .join(Campaign, Campaign.id == Callback.campaign_id))
    if campaign is not None:
        q = q.where(Callback.campaign_id == CampaignRepository(session).get(campaign).id)
    if owner == ANYONE:
        q = q.where(Callback.owner.is_(None))
    elif owner is not None:
        q = q.where(Callback.owner == owner)
    if state is not None:
        if state not in CALLBACK_STATES:
            raise CallbackRequestError(f"no callback state {state!r}: use one of "
                                f"{', '.join(CALLBACK_STATES)}")
        q = q.where(Callback.state == state)
    q = q.order_by(Callback.due_at, Callback.id).limit(limit)
    return [_view(cb, lead, name, now) for cb, lead, name in session.execute(q)]


def _get(session: Session, campaign: str, callback_id: int) -> tuple[Campaign, Callback, Lead]:
    c = CampaignRepository(session).get(campaign)
    cb = session.get(Callback, callback_id, populate_existing=True)
    if cb is None or cb.campaign_id != c.id:
        raise NotFound(f"campaign {campaign} has no callback {callback_id}: see GET "
                       f"/api/campaigns/{campaign}/callbacks")
    if cb.state != "pending":
        raise CallbackError(f"callback {callback_id} is {cb.state}: only a pending callback "
                            "can be moved, reassigned or cancelled")
    lead = session.get(Lead, cb.lead_id, populate_existing=True)
    assert lead is not None
    if lead.status == "dialing":
        raise CallbackError(f"lead {lead.id} is being called (or reserved by an agent) now: "
                            "try again when the call ends")
    return c, cb, lead


_KEEP: Any = object()  # change() leaves the owner as it is


def change(session: Session, campaign: str, callback_id: int, now: datetime,
           due: str | None = None, owner: str | None = _KEEP) -> CallbackView:
    """Move the callback to ``due`` (read as :func:`read_time` does) and/or give it to
    ``owner`` (an agent code, or None for anyone)."""
    c, cb, lead = _get(session, campaign, callback_id)
    if due is not None:
        cb.due_at = read_time(c, lead, due, now).due
    if owner is not _KEEP:
        cb.owner = owner
    cb.updated_at = now
    wait_for(lead, cb)
    session.flush()
    return _view(cb, lead, c.name, now)


def cancel(session: Session, campaign: str, callback_id: int, now: datetime,
           requeue: bool = False) -> CallbackView:
    """Cancel the callback: the lead is closed (``done``), or with ``requeue`` goes back to
    the list as a lead due now."""
    c, cb, lead = _get(session, campaign, callback_id)
    cb.state, cb.updated_at = "cancelled", now
    if requeue:
        lead.status, lead.next_attempt_at, lead.wait_reason = "retry", now, None
    else:
        lead.status, lead.next_attempt_at, lead.wait_reason = "done", None, None
    session.flush()
    return _view(cb, lead, c.name, now)


def due_for(session: Session, campaign_id: int, agent: str, now: datetime) -> list[int]:
    """Lead ids of ``agent``'s own callbacks that are due, oldest first."""
    q = (select(Lead.id).join(Callback, and_(Callback.lead_id == Lead.id,
                                             Callback.state == "pending"))
         .where(Lead.campaign_id == campaign_id, Callback.owner == agent,
                Lead.status.in_(("new", "retry")), Lead.next_attempt_at <= now)
         .order_by(Lead.next_attempt_at, Lead.id))
    return list(session.scalars(q))


def owner_code(session: Session, raw: str | None, me: str | None) -> str | None:
    """``callback_owner`` as sent: ``me`` (the call's agent), an agent code, or ``none`` /
    nothing (anyone); the agent must exist."""
    if raw is None or raw.strip().lower() in ("", "none", ANYONE):
        return None
    code = raw.strip()
    if code.lower() == "me":
        if me is None:
            raise CallbackRequestError("callback_owner 'me' needs a call taken by an agent; "
                                       "this call has none: send an agent's code or none")
        return me
    if session.scalar(select(Agent.id).where(Agent.code == code)) is None:
        raise CallbackRequestError(f"callback_owner {code!r} is no agent: send me, an agent's "
                                   "code, or none (any agent)")
    return code


@dataclass(frozen=True)
class Booked:
    callback: CallbackView
    when: CallbackTime


def book(session: Session, call_id: str, raw: str, owner: str | None, note: str,
         created_by: str, now: datetime) -> Booked:
    """Book the callback an agent asked for while dispositioning the campaign call
    ``call_id`` (see :func:`schedule`)."""
    attempt = session.scalar(select(LeadAttempt).where(LeadAttempt.call_id == call_id))
    if attempt is None:
        raise CallbackRequestError(f"call {call_id} is no campaign call: callback_at books a "
                                   "campaign lead's next call; leave it out here")
    lead = session.get(Lead, attempt.lead_id, populate_existing=True)
    campaign = session.get(Campaign, attempt.campaign_id)
    assert lead is not None and campaign is not None
    when = read_time(campaign, lead, raw, now)
    cb = schedule(session, campaign, lead, when, owner, note, created_by, now, attempt.id)
    return Booked(_view(cb, lead, campaign.name, now), when)
