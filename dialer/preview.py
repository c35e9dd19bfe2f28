"""Preview dialing: the agent sees the next lead first, then dials it or skips it.

A preview campaign's runner places nothing by itself. An agent asks for the next lead
(:func:`reserve`): the next due lead that passes the same dial-time compliance check as the
runner's (:func:`dialer.attempts.check_claimed`: window, DNC, attempt limits, abandon ceiling)
is *reserved* for them: status ``dialing``, ``claimed_by = "preview:<agent>"``,
``claimed_at = now``. No other agent gets it and the runner never dials it. The agent then:

- :func:`dial`: one conditional ``UPDATE`` turns the reservation into a call
  (``claimed_by = "preview-call:<agent>"``), so a second dial (a double click, a retried
  request, another process) finds nothing to turn and fails; the compliance check runs again
  (the window may have closed while the agent read) and the attempt is recorded exactly once
  (:func:`dialer.attempts.record_attempt`) with the agent in its
  :class:`~dialer.ports.DialRequest`: the voice layer connects the answer to that agent;
- :func:`skip`: the lead goes back to the list, at the back of the due leads
  (``next_attempt_at = now``), its ``wait_reason`` saying it was skipped;
- neither within ``hold_s``: the reservation expires; :func:`release_expired` (the runner,
  every tick) puts the lead back, and a late dial is refused.

An agent may skip at most ``max_skips`` leads in a row before they dial one. The count is in
the database (``preview_skips``, one row per campaign and agent), so that every engine process
sees the same count and a restart keeps it: a skip adds one with a conditional ``UPDATE ...
WHERE in_a_row < max_skips`` in the same transaction as the lead's release (two skips at once,
in one process or two, cannot both pass the limit: the second waits for the first's row lock,
or SQLite's write lock, and then finds the limit reached); a recorded dial sets it back to 0.

A crash leaves reservations as leads claimed but never attempted: the runner's
:func:`dialer.attempts.reconcile` releases them on its next start, as it does for the runner's
own claims.

Each function takes a session the caller owns (one transaction); the time comes in as ``now``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, CursorResult, and_, case, exists, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from callcenter.errors import CallCenterError, NotFound
from callcenter.store import Database
from dialer import attempts, callbacks, compliance, leases
from dialer.campaigns import CampaignRepository, aware
from dialer.store import Callback, Campaign, Lead, PreviewSkips

RESERVED = "preview:"  # claimed_by of a reserved lead: preview:<agent>
CALLING = "preview-call:"  # claimed_by once dialed: preview-call:<agent>
HOLD_S = 120.0  # how long a reservation lasts
MAX_SKIPS = 5  # leads an agent may skip in a row before they must dial one
SKIPPED = "PREVIEW_SKIPPED"
EXPIRED = "PREVIEW_EXPIRED"


class PreviewError(CallCenterError):
    """A preview request that cannot be served as asked; the message says what to do."""

    exit_code = 2
    status = 409  # the HTTP status the API answers with


class NotPreviewCampaign(PreviewError):
    pass


class NoLeadDue(PreviewError):
    status = 404


class NotReserved(PreviewError):
    pass


class SkipLimit(PreviewError):
    pass


class DialRefused(PreviewError):
    """The compliance check refused the reserved lead at dial time."""

    def __init__(self, message: str, reason: compliance.Reason) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Reservation:
    """A lead shown to one agent: what the screen pop shows, and until when it is theirs."""

    campaign: str
    lead_id: int
    agent: str
    number: str
    first_name: str
    last_name: str
    external_id: str
    fields: dict[str, Any]
    attempts: int  # calls made to this lead so far
    last_outcome: str | None
    expires_at: datetime
    skips_in_a_row: int  # leads this agent skipped in a row in this campaign, before this one
    script: str = ""  # the campaign's agent script with this lead's fields in

    def as_dict(self) -> dict[str, Any]:
        return {"campaign": self.campaign, "lead_id": self.lead_id, "agent": self.agent,
                "number": self.number, "first_name": self.first_name,
                "last_name": self.last_name, "external_id": self.external_id,
                "fields": self.fields, "attempts": self.attempts,
                "last_outcome": self.last_outcome,
                "expires_at": self.expires_at.isoformat(),
                "skips_in_a_row": self.skips_in_a_row, "script": self.script}


def preview_campaign(session: Session, name: str, callbacks_too: bool = False) -> Campaign:
    """The campaign ``name``, which must be a running preview campaign (``callbacks_too``:
    or any running campaign with agents, whose agents take their own callbacks as previews)."""
    c = CampaignRepository(session).get(name)
    if callbacks_too and c.kind == "telemarketing":
        pass
    elif c.dial_mode != "preview":
        raise NotPreviewCampaign(
            f"campaign {name} dials in {c.dial_mode} mode: its calls are placed by the dialer, "
            "not chosen by agents; use a preview campaign (dial_mode preview)")
    if c.state != "running":
        raise NotPreviewCampaign(
            f"campaign {name} is {c.state}, not running: start it "
            f"(`callcenter campaign start {name}` or POST /api/campaigns/{name}/start)")
    return c


def _reservation(session: Session, c: Campaign, lead: Lead, agent: str,
                 hold_s: float) -> Reservation:
    assert lead.claimed_at is not None
    return Reservation(c.name, lead.id, agent, lead.phone, lead.first_name, lead.last_name,
                       lead.external_id, dict(lead.fields or {}), lead.attempts,
                       lead.last_outcome, aware(lead.claimed_at) + timedelta(seconds=hold_s),
                       skips_in_a_row(session, c.id, agent), attempts.script_for(c, lead))


def skips_in_a_row(session: Session, campaign_id: int, agent: str) -> int:
    """Leads ``agent`` skipped in a row in the campaign since their last dial."""
    return int(session.scalar(select(PreviewSkips.in_a_row).where(
        PreviewSkips.campaign_id == campaign_id, PreviewSkips.agent == agent)) or 0)


def reserve(session: Session, campaign: str, agent: str, now: datetime,
            hold_s: float = HOLD_S) -> Reservation | NoLeadDue:
    """Reserve the next due lead for ``agent`` (the one they hold already, if any), or say
    why there is none: returned, not raised, so the transaction still commits where the
    compliance check put the leads it refused (DNC, failed, waiting for the window)."""
    c = preview_campaign(session, campaign)
    held = session.scalar(select(Lead).where(
        Lead.campaign_id == c.id, Lead.status == "dialing",
        Lead.claimed_by == RESERVED + agent, Lead.claimed_at > now - timedelta(seconds=hold_s)))
    if held is not None:  # asked twice (a reload): the same lead, not a second one
        return _reservation(session, c, held, agent, hold_s)
    abandons = attempts.campaign_stats(session, c, now).abandons
    over = compliance.abandon_rate_over(abandons, c.abandon_target)
    if over is not None:
        return NoLeadDue(
            f"campaign {campaign} may place no call now: its abandon rate is over the target "
            f"({over.name}); wait for it to fall, or ask a supervisor to review the campaign")
    # The agent's own callbacks that are due come first: they were promised to this agent.
    mine = _first_claimed(session, c, agent, callbacks.due_for(session, c.id, agent, now), now,
                          abandons, hold_s, for_agent=agent)
    if mine is not None:
        return mine
    tried: set[int] = set()
    while True:
        ids = attempts.due_leads(session, c.id, now, 20, tried)
        if not ids:
            return NoLeadDue(
                f"no lead of campaign {campaign} may be called now (all called, reserved by "
                "other agents, waiting for a retry or outside the calling window): ask again "
                "in a minute")
        tried.update(ids)
        got = _first_claimed(session, c, agent, ids, now, abandons, hold_s)
        if got is not None:
            return got


def _first_claimed(session: Session, c: Campaign, agent: str, ids: list[int], now: datetime,
                   abandons: compliance.AbandonCounts, hold_s: float,
                   for_agent: str | None = None) -> Reservation | None:
    """Reserve the first of ``ids`` that can be claimed and passes the dial-time check."""
    for lead_id in ids:
        if not attempts.claim_lead(session, lead_id, now, RESERVED + agent, for_agent):
            continue  # another agent (or process) took it first
        lead = session.get(Lead, lead_id, populate_existing=True)
        assert lead is not None
        if (attempts.check_claimed(session, c, lead, now, abandons) is None
                and not isinstance(attempts.caller_id_or_hold(session, c, lead, now),
                                   attempts.Refused)):
            lead.wait_reason = None
            return _reservation(session, c, lead, agent, hold_s)
    return None


def reserve_callback(session: Session, campaign: str, callback_id: int, agent: str,
                     now: datetime, hold_s: float = HOLD_S) -> Reservation | NoLeadDue:
    """Reserve the lead of a due callback for ``agent``, its owner (or anyone's callback), in
    any running campaign with agents: the screen pop of a preview, then :func:`dial` or
    :func:`skip` as for a preview lead. Returned, not raised, as :func:`reserve` does."""
    c = preview_campaign(session, campaign, callbacks_too=True)
    cb = session.get(Callback, callback_id)
    if cb is None or cb.campaign_id != c.id:
        raise NotFound(f"campaign {campaign} has no callback {callback_id}: see GET "
                       f"/api/campaigns/{campaign}/callbacks?agent={agent}")
    if cb.state != "pending":
        raise NotReserved(f"callback {callback_id} is {cb.state}: nothing to call")
    if cb.owner not in (None, agent):
        raise NotReserved(f"callback {callback_id} is agent {cb.owner}'s only, not {agent}'s: "
                          "a supervisor may reassign it (PATCH .../callbacks/{id})")
    held = session.scalar(select(Lead).where(_held(cb.lead_id, agent, now, hold_s)))
    if held is not None:
        return _reservation(session, c, held, agent, hold_s)
    abandons = attempts.campaign_stats(session, c, now).abandons
    got = _first_claimed(session, c, agent, [cb.lead_id], now, abandons, hold_s,
                         for_agent=cb.owner)
    if got is not None:
        return got
    lead = session.get(Lead, cb.lead_id, populate_existing=True)
    assert lead is not None
    if lead.status == "dialing":
        why = "it is being called, or reserved by another agent"
    elif lead.next_attempt_at is not None and aware(lead.next_attempt_at) > now:
        why = (f"it is due at {aware(lead.next_attempt_at).isoformat()} "
               f"({lead.wait_reason or 'scheduled'})")
    else:
        why = f"the rules closed the lead ({lead.status}, {lead.wait_reason})"
    return NoLeadDue(f"callback {callback_id} may not be called now: {why}")


def _held(lead_id: int, agent: str, now: datetime, hold_s: float) -> ColumnElement[bool]:
    """``agent`` holds a live reservation on the lead."""
    return and_(Lead.id == lead_id, Lead.status == "dialing",
                Lead.claimed_by == RESERVED + agent,
                Lead.claimed_at > now - timedelta(seconds=hold_s))


def _change(session: Session, lead_id: int, agent: str, now: datetime, hold_s: float,
            values: dict[str, Any]) -> bool:
    """Change the lead if ``agent`` holds a live reservation on it (one conditional UPDATE:
    exactly one of two concurrent requests succeeds)."""
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Lead).where(_held(lead_id, agent, now, hold_s))
        .values(**values).execution_options(synchronize_session=False))
    return bool(result.rowcount == 1)


def _count_skip(session: Session, campaign_id: int, lead_id: int, agent: str,
                max_skips: int | None, now: datetime, hold_s: float) -> int | None:
    """One more skip for ``agent``, who must hold the lead: the new count, or None (nothing
    counted) when they do not hold it or skipped ``max_skips`` in a row already. The row
    exists first (an insert that does nothing when it does), then one conditional
    ``UPDATE``: of two concurrent skips the second waits for the first's row lock
    (PostgreSQL) or write lock (SQLite) and then sees its count."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(PreviewSkips).values(
        campaign_id=campaign_id, agent=agent, in_a_row=0, updated_at=now,
    ).on_conflict_do_nothing())
    stmt = update(PreviewSkips).where(
        PreviewSkips.campaign_id == campaign_id, PreviewSkips.agent == agent,
        exists().where(_held(lead_id, agent, now, hold_s)))
    if max_skips is not None:
        stmt = stmt.where(PreviewSkips.in_a_row < max_skips)
    done = session.scalar(stmt.values(in_a_row=PreviewSkips.in_a_row + 1, updated_at=now)
                          .returning(PreviewSkips.in_a_row)
                          .execution_options(synchronize_session=False))
    return None if done is None else int(done)


def _set_skips(session: Session, campaign_id: int, agent: str, now: datetime,
               in_a_row: ColumnElement[int] | int) -> None:
    session.execute(update(PreviewSkips).where(
        PreviewSkips.campaign_id == campaign_id, PreviewSkips.agent == agent)
        .values(in_a_row=in_a_row, updated_at=now)
        .execution_options(synchronize_session=False))


def _not_reserved(session: Session, c: Campaign, lead_id: int, agent: str,
                  hold_s: float) -> CallCenterError:
    """Why ``agent`` holds no live reservation on the lead, and what to do."""
    lead = session.get(Lead, lead_id, populate_existing=True)
    if lead is None or lead.campaign_id != c.id:
        return NotFound(f"campaign {c.name} has no lead {lead_id}: ask for the next lead "
                        f"(POST /api/campaigns/{c.name}/preview?agent={agent})")
    who = lead.claimed_by or ""
    if who == CALLING + agent:
        return NotReserved(f"lead {lead_id} is being called already (you dialed it): wait for "
                           "the call, then ask for the next lead")
    if who == RESERVED + agent and lead.claimed_at is not None:
        expired = aware(lead.claimed_at) + timedelta(seconds=hold_s)
        return NotReserved(f"your reservation of lead {lead_id} expired at "
                           f"{expired.isoformat()} ({int(hold_s)} s to dial or skip): ask for "
                           "the next lead")
    if who.startswith((RESERVED, CALLING)):
        other = who.split(":", 1)[1]
        return NotReserved(f"lead {lead_id} is reserved by agent {other}, not {agent}: ask "
                           "for your own next lead")
    return NotReserved(f"lead {lead_id} is not reserved for {agent} (it is {lead.status}; a "
                       "reservation expires or is released on a restart): ask for the next lead")


def dial(session: Session, campaign: str, lead_id: int, agent: str, now: datetime,
         hold_s: float = HOLD_S) -> attempts.Claimed | DialRefused:
    """Turn ``agent``'s reservation into a recorded attempt and the call to place (once),
    and set the agent's skips in a row back to 0; a refusal of the compliance check is
    returned (the transaction keeps where the check put the lead; the count stays)."""
    c = preview_campaign(session, campaign, callbacks_too=True)
    if not _change(session, lead_id, agent, now, hold_s, {"claimed_by": CALLING + agent}):
        raise _not_reserved(session, c, lead_id, agent, hold_s)
    lead = session.get(Lead, lead_id, populate_existing=True)
    assert lead is not None
    abandons = attempts.campaign_stats(session, c, now).abandons
    got = (attempts.check_claimed(session, c, lead, now, abandons)
           or attempts.record_attempt(session, c, lead, now, agent=agent))
    if isinstance(got, attempts.Refused):
        return DialRefused(f"lead {lead_id} may not be called now ({got.reason.name}); "
                          "it was put back where the rules say: ask for the next lead",
                          got.reason)
    _set_skips(session, c.id, agent, now, 0)
    return got


def skip(session: Session, campaign: str, lead_id: int, agent: str, now: datetime,
         hold_s: float = HOLD_S, max_skips: int | None = MAX_SKIPS) -> int:
    """Put ``agent``'s reserved lead back, behind the leads due now; returns the agent's
    skips in a row. Refused (:class:`SkipLimit`) once they skipped ``max_skips`` in a row
    (None: no limit). A refusal leaves the lead and the count as they were, whether the
    caller commits or not."""
    c = preview_campaign(session, campaign, callbacks_too=True)
    done = _count_skip(session, c.id, lead_id, agent, max_skips, now, hold_s)
    if done is None:
        if session.scalar(select(Lead.id).where(_held(lead_id, agent, now, hold_s))) is None:
            raise _not_reserved(session, c, lead_id, agent, hold_s)
        raise SkipLimit(
            f"agent {agent} skipped {max_skips} leads in a row, the limit: dial lead "
            f"{lead_id} (POST /api/campaigns/{campaign}/preview/{lead_id}/dial?agent={agent}), "
            "or ask a supervisor")
    back = case((Lead.attempts > 0, "retry"), else_="new")
    if not _change(session, lead_id, agent, now, hold_s, {
            "status": back, "claimed_by": None, "claimed_at": None, "next_attempt_at": now,
            "wait_reason": SKIPPED}):
        # Dialed or expired since it was counted (a concurrent request): take the skip back.
        _set_skips(session, c.id, agent, now, PreviewSkips.in_a_row - 1)
        raise _not_reserved(session, c, lead_id, agent, hold_s)
    return done


def release_expired(session: Session, campaign_id: int, now: datetime,
                    hold_s: float = HOLD_S) -> int:
    """Put back the leads whose reservation expired; returns how many."""
    back = case((Lead.attempts > 0, "retry"), else_="new")
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Lead).where(Lead.campaign_id == campaign_id, Lead.status == "dialing",
                           Lead.claimed_by.like(RESERVED + "%"),
                           Lead.claimed_at <= now - timedelta(seconds=hold_s))
        .values(status=back, claimed_by=None, claimed_at=None, wait_reason=EXPIRED)
        .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)


class CallPlacer(Protocol):
    """Who places a dialed preview call and records its outcome: the campaign's runner."""

    def place(self, claimed: attempts.Claimed) -> None: ...


@dataclass
class PreviewDesk:
    """The agents' side of preview dialing in the engine: reserve, dial through the
    campaign's runner, skip with a limit of ``max_skips`` leads in a row per agent (counted
    in the database: shared by every engine process, kept across restarts)."""

    db: Database
    runner: Callable[[str], CallPlacer | None]  # the campaign's runner on this node
    clock: Callable[[], datetime]
    hold_s: float = HOLD_S
    max_skips: int = MAX_SKIPS

    def _now(self) -> datetime:
        return self.clock().astimezone(UTC)

    async def _placer(self, campaign: str) -> CallPlacer:
        placer = self.runner(campaign)
        if placer is not None:
            return placer
        now = datetime.now(UTC)  # leases are on the nodes' wall clock, not the campaign's

        def holder(s: Session) -> str | None:
            lease = leases.holder(s, CampaignRepository(s).get(campaign).id, now)
            return lease.node if lease is not None else None

        node = await self.db.run(holder)
        if node is not None:
            raise NotPreviewCampaign(
                f"campaign {campaign} is run by engine node {node}, not this one: send the "
                "agent's preview requests to that node (or through a balancer that routes "
                "them there)")
        raise NotPreviewCampaign(
            f"campaign {campaign} has no runner yet: it starts within a few seconds of the "
            "campaign starting, if its voice layer is enabled; retry in a moment")

    async def next_for(self, campaign: str, agent: str) -> Reservation:
        await self._placer(campaign)
        now = self._now()
        got = await self.db.run(lambda s: reserve(s, campaign, agent, now, self.hold_s))
        if isinstance(got, NoLeadDue):
            raise got
        return got

    async def callback_for(self, campaign: str, callback_id: int, agent: str) -> Reservation:
        """Reserve a due callback's lead for ``agent`` (see :func:`reserve_callback`)."""
        await self._placer(campaign)
        now = self._now()
        got = await self.db.run(lambda s: reserve_callback(s, campaign, callback_id, agent,
                                                           now, self.hold_s))
        if isinstance(got, NoLeadDue):
            raise got
        return got

    async def dial(self, campaign: str, lead_id: int, agent: str) -> attempts.Claimed:
        placer = await self._placer(campaign)
        now = self._now()
        claimed = await self.db.run(lambda s: dial(s, campaign, lead_id, agent, now,
                                                   self.hold_s))
        if isinstance(claimed, DialRefused):
            raise claimed
        placer.place(claimed)
        return claimed

    async def skips(self, campaign: str, agent: str) -> int:
        """Leads ``agent`` skipped in a row in ``campaign`` since their last dial."""

        def read(s: Session) -> int:
            return skips_in_a_row(s, CampaignRepository(s).get(campaign).id, agent)

        return await self.db.run(read)

    async def skip(self, campaign: str, lead_id: int, agent: str) -> int:
        """Skip; returns the agent's skips in a row."""
        now = self._now()
        return await self.db.run(lambda s: skip(s, campaign, lead_id, agent, now, self.hold_s,
                                                self.max_skips))
