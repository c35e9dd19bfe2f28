"""List recycling: leads whose retries ran out go back into the list for another round
(VICIdial's lead recycling and "reset the list"), on a supervisor's word.

A lead is recycled when it was closed (``done`` or ``failed``) on an outcome where no person
took the call (busy, no answer, machine, failed, abandoned: never a person who answered, nor
a disposition), its last call is at least ``older_than`` ago, and it is under the campaign's
lifetime attempt limit. It goes back to ``retry``, due now; its retry counters start again
from that moment (``leads.recycled_at``: earlier attempts no longer count against a rule's
retries). Everything the dial-time check enforces still holds: the total attempt limit,
DNC, the 72 h after an abandoned call, calling windows and local caps. A completed campaign
with leads recycled is ``paused`` again, for a supervisor to start.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.errors import CallCenterError
from dialer.campaigns import CampaignRepository, aware
from dialer.retry import Outcome, recycle_due
from dialer.store import Lead, LeadAttempt

#: Outcomes a lead may be recycled on: nobody took the call.
RECYCLABLE = frozenset({Outcome.BUSY, Outcome.NO_ANSWER, Outcome.MACHINE, Outcome.FAILED,
                        Outcome.ABANDONED})
DEFAULT_OUTCOMES = frozenset({Outcome.BUSY, Outcome.NO_ANSWER, Outcome.MACHINE})
RECYCLED = "recycled"  # the wait reason of a recycled lead


class RecycleError(CallCenterError):
    """A recycling request that cannot be carried out."""

    exit_code = 2


@dataclass(frozen=True)
class RecycleReport:
    campaign: str
    recycled: int  # back in the list (or would be, on a dry run)
    by_outcome: dict[str, int]
    at_attempt_limit: int  # would qualify, but the lifetime attempt limit is reached
    too_recent: int  # would qualify, but their last call is not old enough yet
    dry_run: bool
    campaign_state: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def outcomes_from(names: list[str] | None) -> frozenset[Outcome]:
    """The outcomes named (default: busy, no answer, machine); a clear error for others."""
    if not names:
        return DEFAULT_OUTCOMES
    chosen = set()
    for name in names:
        try:
            outcome = Outcome(name.strip().lower())
        except ValueError:
            outcome = None
        if outcome not in RECYCLABLE:
            allowed = ", ".join(sorted(o.value for o in RECYCLABLE))
            raise RecycleError(f"cannot recycle on outcome {name!r}: only leads nobody took "
                               f"are recycled ({allowed})")
        chosen.add(outcome)
    return frozenset(chosen)


def recycle(session: Session, name: str, outcomes: frozenset[Outcome], older_than: timedelta,
            now: datetime, dry_run: bool = False) -> RecycleReport:
    """Put the campaign's closed, unanswered leads back in the list (see the module)."""
    if older_than < timedelta(0):
        raise RecycleError(f"older_than must not be negative (got {older_than})")
    campaign = CampaignRepository(session).get(name)
    if campaign.state == "stopped":
        raise RecycleError(f"campaign {name!r} is stopped, which is final: create a new "
                           "campaign and import the leads to call them again")
    last_call = (select(LeadAttempt.lead_id, func.max(LeadAttempt.started_at).label("at"))
                 .group_by(LeadAttempt.lead_id).subquery())
    rows: list[tuple[Lead, datetime]] = [(row[0], row[1]) for row in session.execute(
        select(Lead, last_call.c.at).join(last_call, last_call.c.lead_id == Lead.id)
        .where(Lead.campaign_id == campaign.id, Lead.status.in_(("done", "failed")),
               Lead.last_outcome.in_([o.value for o in outcomes])))]
    by_outcome: Counter[str] = Counter()
    limit = too_recent = 0
    for lead, last_at in rows:
        if lead.attempts >= campaign.max_attempts_total:
            limit += 1
            continue
        if not recycle_due(aware(last_at), now, older_than):
            too_recent += 1
            continue
        by_outcome[lead.last_outcome or ""] += 1
        if not dry_run:
            lead.status, lead.next_attempt_at, lead.wait_reason = "retry", None, RECYCLED
            lead.recycled_at = now
    recycled = sum(by_outcome.values())
    if recycled and not dry_run and campaign.state == "completed":
        campaign.state, campaign.ended_at = "paused", None
    session.flush()
    return RecycleReport(campaign.name, recycled, dict(sorted(by_outcome.items())), limit,
                         too_recent, dry_run, campaign.state)
