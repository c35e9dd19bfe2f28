"""Campaign leases: which engine node runs a campaign, one node at a time.

Several engine nodes share one database. Each running campaign must have exactly one runner
in the whole cluster: two would each pace against their own agents and, worse, each would
take the other's calls in flight for a crash's leftovers (:func:`dialer.attempts.reconcile`).
A lease in the database decides (one row per campaign, ``campaign_leases``):

- :func:`acquire` takes a campaign that nobody holds, or whose holder let its lease expire,
  and bumps the lease's ``term``; exactly one of several nodes trying at once gets it (a
  conditional UPDATE, or an INSERT guarded by the primary key).
- :func:`renew` pushes the expiry on while the node still holds that term; ``None`` means the
  lease is lost (another node took it after it expired) and the node must stop dialing.
- :func:`release` gives it back at once (the campaign paused, the engine shutting down): it
  expires now, so another node need not wait; the row stays, so terms only grow.
- :func:`holds` is the SQL condition a lead's claim checks in the same statement
  (:func:`dialer.attempts.claim_lead`): a node whose lease another node took cannot dial,
  even when its own clock or event loop stalled and it has not noticed yet. A holder also
  stops dialing by itself a few seconds before its unrenewed lease expires (the runner's
  ``fence_at``), so no claim of the old holder is on its way when a new one takes over.

The SQL is :mod:`callcenter.store.leases`' (the ACD's leader is chosen the same way).
Times are the nodes' clocks (UTC); keep the nodes in NTP sync and the lease a few seconds
longer than any skew. SQL only, no asyncio: the runner's service (:class:`dialer.runner.
DialerService`) calls these through :meth:`callcenter.store.Database.run`.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists
from sqlalchemy.orm import Session

from callcenter.store import leases as term_leases
from dialer.store import CampaignLease, Lead

#: How long a lease lasts without renewal (s): a node that died is replaced after this.
DEFAULT_TTL_S = 15.0


def default_node() -> str:
    """This process's name in the cluster when none is configured: host and process id."""
    return f"{socket.gethostname()}-{os.getpid()}"[-64:]


@dataclass(frozen=True)
class Lease:
    """A campaign held by ``node`` in its ``term`` (1 for the first holder) until
    ``expires_at``."""

    campaign_id: int
    node: str
    term: int
    expires_at: datetime


def acquire(session: Session, campaign_id: int, node: str, now: datetime,
            ttl_s: float = DEFAULT_TTL_S) -> Lease | None:
    """Take the campaign's lease for ``node``: the new lease, or ``None`` while another node
    holds an unexpired one. Taking a lease starts a new term, even from the same node (its
    earlier runner is gone; what it left is reconciled under the new term)."""
    term = term_leases.take(session, CampaignLease, {"campaign_id": campaign_id}, node, now,
                            ttl_s)
    return None if term is None else Lease(campaign_id, node, term,
                                           now + timedelta(seconds=ttl_s))


def renew(session: Session, lease: Lease, now: datetime,
          ttl_s: float = DEFAULT_TTL_S) -> Lease | None:
    """Extend a lease still held in its term: the renewed lease, or ``None`` when it was lost
    (another node took it over after it expired, or it was released)."""
    expires = now + timedelta(seconds=ttl_s)
    if not _expire_held(session, lease, expires):
        return None
    return Lease(lease.campaign_id, lease.node, lease.term, expires)


def release(session: Session, lease: Lease, now: datetime) -> bool:
    """Give the lease back (only the term held): it expires now, so any node may take it at
    once, and the next holder's term is still a new one. ``False`` when it was no longer
    held."""
    return _expire_held(session, lease, now)


def _expire_held(session: Session, lease: Lease, expires_at: datetime) -> bool:
    """Set the lease's expiry while it is still held in that term by that node."""
    return term_leases.expire_held(session, CampaignLease, {"campaign_id": lease.campaign_id},
                                   lease.node, lease.term, expires_at)


def holder(session: Session, campaign_id: int, now: datetime) -> Lease | None:
    """Who holds the campaign now (an unexpired lease), if anyone."""
    row = term_leases.unexpired(session, CampaignLease, {"campaign_id": campaign_id}, now)
    return None if row is None else Lease(row.campaign_id, row.node, row.term, row.expires_at)


def holds(lease: Lease) -> ColumnElement[bool]:
    """SQL: the lead's campaign is still held in ``lease``'s term by its node. A claim's
    WHERE clause carries it, so a node whose lease another node took matches no row, even
    when its clock or event loop stalled and it has not noticed yet. (The expiry is not
    checked here: an expired lease nobody took over harms no one; taking it bumps the term.)"""
    return exists().where(and_(CampaignLease.campaign_id == Lead.campaign_id,
                               CampaignLease.node == lease.node,
                               CampaignLease.term == lease.term))
