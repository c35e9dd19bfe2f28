"""The campaign runner: one asyncio loop per running campaign, and the service that owns them.

Every ``tick_s`` a :class:`CampaignRunner` reads its campaign, builds a
:class:`~dialer.pacing.DialerSnapshot` (agents from the :class:`~dialer.ports.AgentPool`,
calls in flight from itself, attempt statistics from the database), asks the campaign's pacer
how many calls to place (agentless surveys fill their free lines), and for each call claims a
due lead, checks compliance and records the attempt in one transaction
(:mod:`dialer.attempts`) before it hands the call to the :class:`~dialer.ports.OutboundPort`.
Each call is a task the runner owns; its outcome closes the attempt and applies the retry
rules. Opt-outs and survey answers reported during the call are written at once.

No call is placed while the campaign's abandon rate (overall or over 30 days) is over its
target. When no lead is left to call and no call is in flight, the campaign is completed.

A preview campaign's runner places nothing by itself: agents choose the calls
(:mod:`dialer.preview`), and the calls they dial are placed and closed by the runner
(:meth:`CampaignRunner.place`) like its own. Each tick it puts back the leads whose
reservation expired; a reserved lead counts as not yet called, so the campaign completes only
when no lead is left, reserved or in flight.

:class:`DialerService` watches the ``campaigns`` table: a campaign set to running (by the CLI
or the API, maybe in another process) gets a runner; a paused or stopped one has its runner
finish the calls in flight and end. A runner starts with :func:`dialer.attempts.reconcile`,
so leads a crash left in 'dialing' go back to retry with a 'failed' attempt (and
reservations of preview leads are released). It also owns the :class:`~dialer.preview.
PreviewDesk` through which agents reserve, dial and skip preview leads. In a cluster it runs
campaigns with agents only while this node leads the ACD (``acd_leader``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from callcenter.store import Database
from dialer import attempts, callbacks, compliance, leases, preview
from dialer.campaigns import PENDING, CampaignRepository, runs_on_leader
from dialer.pacing import DialerSnapshot, Pacer, PredictivePacer, ProgressivePacer
from dialer.ports import (
    AgentLoad,
    AgentPool,
    Answered,
    AnswerGiven,
    CallOutcome,
    CallProgress,
    FixedAgents,
    OptedOut,
    OutboundPort,
    Result,
    Ringing,
)
from dialer.store import Campaign, Lead

log = logging.getLogger(__name__)

#: The longest gap between two tellings of a running campaign's figures (s), and the
#: shortest between two that differ.
HEARTBEAT_S = 10.0
#: After a failed database step (busy, away), how long a runner waits before the next one.
RETRY_S = 1.0
TELL_MIN_S = 1.0


def utcnow() -> datetime:
    return datetime.now(UTC)


def pacer_for(dial_mode: str) -> Pacer | None:
    """The pacer of a dial mode; None for agentless (fill the free lines). A preview
    campaign's runner never asks it (agents choose the calls: :mod:`dialer.preview`)."""
    match dial_mode:
        case "predictive":
            return PredictivePacer()
        case "agentless":
            return None
        case _:  # preview and progressive: one line per free agent
            return ProgressivePacer()


@dataclass
class _Call:
    started: float
    answered: float | None = None
    task: asyncio.Task[None] | None = None


@dataclass(frozen=True)
class _View:
    campaign: Campaign
    stats: attempts.CampaignStats
    pending: int


@dataclass(frozen=True)
class CampaignLive:
    """A running campaign as its runner last saw it (for the supervisors' console)."""

    campaign: str
    state: str
    dial_mode: str
    dialed: int
    answered_human: int
    answered_machine: int
    abandoned: int
    abandon_pct: float | None  # abandoned / live answered, over the campaign
    abandon_target_pct: float
    lines_in_flight: int
    max_lines: int
    leads_pending: int  # still to call (waiting, retrying, dialing)
    node: str = ""  # the engine node running it (DialerService.owner)


@dataclass
class CampaignRunner:
    db: Database
    campaign: str
    port: OutboundPort
    agents: AgentPool = field(default_factory=FixedAgents)
    pacer: Pacer | None = None
    clock: Callable[[], datetime] = utcnow
    monotonic: Callable[[], float] = time.monotonic
    tick_s: float = 1.0
    owner: str = "dialer"
    preview_hold_s: float = preview.HOLD_S
    # The campaign's lease this runner dials under (dialer.leases; None: no fencing), and the
    # monotonic time after which, not renewed, it must stop dialing (set by DialerService).
    lease: leases.Lease | None = None
    fence_at: float | None = None
    fence_reason: str = ("this node's lease was not renewed in time (is the database "
                         "reachable?)")
    # Told the campaign's figures when they change (at most every TELL_MIN_S) and at least
    # every heartbeat_s, and once more when it stops running here: the engine publishes them
    # on the bus (campaign.stats) for every node's console and for wallboards.
    on_live: Callable[[CampaignLive], None] | None = None
    heartbeat_s: float = HEARTBEAT_S
    _told: tuple[CampaignLive, float] | None = field(default=None, init=False)
    _calls: dict[int, _Call] = field(default_factory=dict, init=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set, init=False)
    _rings: deque[float] = field(default_factory=lambda: deque(maxlen=200), init=False)
    _pacer_ready: bool = field(default=False, init=False)
    _stopped: bool = field(default=False, init=False)  # stop_dialing(): for good
    live: CampaignLive | None = field(default=None, init=False)  # as of the last step

    def _now(self) -> datetime:
        return self.clock().astimezone(UTC)  # stored and compared in UTC (SQLite has no zones)

    @property
    def in_flight(self) -> int:
        return len(self._calls)

    def fenced(self) -> bool:
        """True once the lease went unrenewed too long, or this node must not run the
        campaign any more (:meth:`stop_dialing`): another node may run it, so this one must
        not dial."""
        return self._stopped or (self.fence_at is not None
                                 and self.monotonic() >= self.fence_at)

    def stop_dialing(self, reason: str) -> None:
        """Place nothing more, for good (a later renewal of the lease does not undo it): at
        its next tick the runner hangs up its ringing calls and ends once its answered calls
        have (:meth:`_fence`), whatever its lease says."""
        self.fence_reason, self._stopped = reason, True

    async def reconcile(self) -> int:
        now = self._now()

        def work(s: Session) -> int:
            return attempts.reconcile(s, CampaignRepository(s).get(self.campaign).id, now)

        stuck = await self.db.run(work)
        if stuck:
            log.warning("campaign %s: %d lead(s) left dialing by a crash reconciled",
                        self.campaign, stuck)
        return stuck

    async def _view(self) -> _View:
        now = self._now()

        def work(s: Session) -> _View:
            c = CampaignRepository(s).get(self.campaign)
            pending = s.scalar(select(func.count()).select_from(Lead).where(
                Lead.campaign_id == c.id, Lead.status.in_((*PENDING, "dialing"))))
            return _View(c, attempts.campaign_stats(s, c, now), int(pending or 0))

        return await self.db.run(work)

    def _live(self, view: _View) -> CampaignLive:
        c, st = view.campaign, view.stats
        return CampaignLive(
            campaign=c.name, state=c.state, dial_mode=c.dial_mode, dialed=st.dialed,
            answered_human=st.abandons.live_answered, answered_machine=st.machine,
            abandoned=st.abandoned,
            abandon_pct=(round(100.0 * st.abandoned / st.abandons.live_answered, 2)
                         if st.abandons.live_answered else None),
            abandon_target_pct=round(100.0 * c.abandon_target, 2),
            lines_in_flight=self.in_flight, max_lines=c.max_lines, leads_pending=view.pending,
            node=self.owner)

    def _tell(self, live: CampaignLive, force: bool = False) -> None:
        if self.on_live is None:
            return
        now = self.monotonic()
        if not force and self._told is not None:
            last, at = self._told
            if now - at < (self.heartbeat_s if last == live else TELL_MIN_S):
                return
        self._told = (live, now)
        try:
            self.on_live(live)
        except Exception:
            log.exception("campaign %s: telling its figures failed", self.campaign)

    def snapshot(self, view: _View, load: AgentLoad) -> DialerSnapshot:
        now = self.monotonic()
        st = view.stats
        return DialerSnapshot(
            now=now, agents_available=load.available, agents_busy_elapsed=load.busy_elapsed,
            agents_wrapup_elapsed=load.wrapup_elapsed,
            calls_ringing_elapsed=tuple(now - c.started for c in self._calls.values()
                                        if c.answered is None),
            abandon_target=view.campaign.abandon_target, dialed=st.dialed,
            answered_human=st.abandons.live_answered, answered_machine=st.machine,
            abandoned=st.abandoned, mean_talk_s=st.mean_talk_s, mean_wrap_s=load.mean_wrap_s,
            ring_to_answer_s=tuple(self._rings) or st.ring_to_answer_s)

    def calls_wanted(self, view: _View) -> int:
        """How many calls to place now: the pacer's answer within the free lines."""
        c = view.campaign
        if c.dial_mode == "preview":  # agents choose the calls (dialer.preview)
            return 0
        if compliance.abandon_rate_over(view.stats.abandons, c.abandon_target) is not None:
            return 0
        room = max(0, c.max_lines - self.in_flight)
        if not self._pacer_ready:
            self.pacer = self.pacer or pacer_for(c.dial_mode)
            self._pacer_ready = True
        if self.pacer is None or c.dial_mode == "agentless":
            return room
        load = self.agents.load(c.queue or "")
        return min(room, max(0, self.pacer.calls_to_place(self.snapshot(view, load))))

    async def step(self, view: _View | None = None) -> int:
        """One pacing decision: claim, check and place calls; returns how many were placed."""
        view = view or await self._view()
        self.live = self._live(view)
        self._tell(self.live)
        if view.campaign.state != "running" or self.fenced():
            return 0
        # Preview reservations: a preview campaign's leads, or any campaign's callbacks that
        # their owners took as previews (dialer.preview.reserve_callback).
        await self.release_expired(view.campaign.id)
        await self.release_owner_callbacks(view.campaign)
        if view.campaign.dial_mode == "preview":
            return 0
        wanted = self.calls_wanted(view)
        placed = 0
        tried: set[int] = set()
        cid = view.campaign.id
        while placed < wanted:
            ids = await self.db.run(partial(attempts.due_leads, campaign_id=cid,
                                            now=self._now(), limit=wanted - placed,
                                            exclude=tried))
            if not ids:
                break
            for lead_id in ids:
                tried.add(lead_id)
                got = await self.db.run(partial(
                    attempts.claim_and_record, campaign=view.campaign, lead_id=lead_id,
                    now=self._now(), owner=self.owner, abandons=view.stats.abandons,
                    lease=self.lease))
                if isinstance(got, attempts.Claimed):
                    self._spawn(got)
                    placed += 1
                    if placed == wanted:
                        break
                elif isinstance(got, attempts.Refused):
                    log.info("campaign %s: lead %d not dialed: %s", self.campaign,
                             got.lead_id, got.reason.value)
                    if got.reason is compliance.Reason.CALLER_ID_CAP:
                        return placed  # no lead can be dialed before the caps' next day
        return placed

    async def release_expired(self, campaign_id: int) -> int:
        """Put back the preview leads whose reservation expired."""
        now = self._now()
        n = await self.db.run(lambda s: preview.release_expired(s, campaign_id, now,
                                                                self.preview_hold_s))
        if n:
            log.info("campaign %s: %d preview reservation(s) expired, lead(s) put back",
                     self.campaign, n)
        return n

    async def release_owner_callbacks(self, campaign: Campaign) -> list[int]:
        """Owner-only callbacks their agents left too long become anyone's."""
        if not campaign.callback_owner_wait_min:
            return []
        now = self._now()
        ids = await self.db.run(lambda s: callbacks.release_to_anyone(s, campaign, now))
        if ids:
            log.info("campaign %s: callback(s) %s not taken by their agents within %d min "
                     "of their time, now anyone's", self.campaign, ids,
                     campaign.callback_owner_wait_min)
        return ids

    def place(self, claimed: attempts.Claimed) -> None:
        """Place a call whose attempt is recorded (a preview agent's choice): the runner
        owns it from here, as its own calls, and records its outcome."""
        self._spawn(claimed)

    def _spawn(self, claimed: attempts.Claimed) -> None:
        call = self._calls[claimed.attempt_id] = _Call(self.monotonic())
        task = asyncio.create_task(self._call(claimed), name=f"dial-{claimed.request.attempt_key}")
        call.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _call(self, claimed: attempts.Claimed) -> None:
        attempt_id = claimed.attempt_id
        call = self._calls[attempt_id]

        async def report(event: CallProgress) -> None:
            match event:
                case Ringing():
                    pass
                case Answered():
                    call.answered = self.monotonic()
                    if event.human:
                        self._rings.append(call.answered - call.started)
                case OptedOut():
                    await self.db.run(lambda s: attempts.opt_out(s, attempt_id, self._now()))
                case AnswerGiven(question=q, value=v):
                    await self.db.run(lambda s: attempts.save_answer(
                        s, attempt_id, q, v, self._now()))

        try:
            try:
                outcome = await self.port.place(claimed.request, report)
            except asyncio.CancelledError:
                raise  # the attempt stays open: reconcile() closes it on the next start
            except Exception as exc:  # the adapter failed: the attempt must still end
                log.exception("campaign %s: placing %s failed", self.campaign,
                              claimed.request.attempt_key)
                outcome = CallOutcome(Result.FAILED, cause=f"voice layer error: {exc}"[:200])
            await self.db.run(lambda s: attempts.record_outcome(
                s, attempt_id, outcome, self._now(), None))
        finally:
            self._calls.pop(attempt_id, None)

    async def wait_idle(self) -> None:
        """Wait for the calls in flight to end."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def run(self) -> str:
        """Reconcile, then pace until the campaign is no longer running; returns its state."""
        await self.reconcile()
        try:
            while True:
                if self.fenced():
                    state = self._fence()
                    break
                try:
                    view = await self._view()
                    state = view.campaign.state
                    if state != "running":
                        break
                    if view.pending == 0 and not self._calls:
                        state = await self._complete()
                        break
                    await self.step(view)
                except DBAPIError as exc:
                    # Busy (SQLite locked) or away: the runner lives on (its calls in flight
                    # too) and tries again; the lease's fence stops it if it lasts.
                    log.warning("campaign %s: the database failed (%s); trying again in %g s "
                                "(if it goes on, check CALLCENTER_DATABASE__URL and the "
                                "database server)", self.campaign,
                                str(exc.orig or exc).splitlines()[0], RETRY_S)
                    await asyncio.sleep(RETRY_S)
                    continue
                await asyncio.sleep(self.tick_s)
        finally:
            await self.wait_idle()
        if self.live is not None and state != "fenced":  # fenced: the new holder tells
            self._tell(dataclasses.replace(self.live, state=state, lines_in_flight=0),
                       force=True)
        return state

    def _fence(self) -> str:
        """The lease lapsed (or :meth:`stop_dialing`): hang up the calls still ringing (no one
        answered them yet) and place nothing more; answered calls run to their end. Returns
        ``"fenced"``."""
        ringing = [c.task for c in self._calls.values()
                   if c.answered is None and c.task is not None]
        log.error("campaign %s: %s: this node stops dialing, hangs up %d ringing call(s) "
                  "and lets %d answered call(s) end; another node runs the campaign",
                  self.campaign, self.fence_reason, len(ringing), len(self._calls) - len(ringing))
        for task in ringing:
            task.cancel()
        return "fenced"

    async def _complete(self) -> str:
        now = self._now()

        def work(s: Session) -> str:
            return CampaignRepository(s).transition(self.campaign, "completed", now).state

        log.info("campaign %s: no lead left to call, completed", self.campaign)
        return await self.db.run(work)

    async def close(self) -> None:
        """Cancel the calls in flight (their attempts are reconciled on the next start)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)


@dataclass
class DialerService:
    """Owns one :class:`CampaignRunner` task per running campaign this node holds the lease
    of (:mod:`dialer.leases`): with several nodes on one database each campaign runs on one.

    Every ``poll_s`` it renews the leases of its runners (a runner whose lease could not be
    renewed for ``lease_s`` minus a margin stops dialing by itself, and one whose lease
    another node took is stopped), gives back the leases of runners that ended, and tries to
    take each running campaign nobody holds.

    In a cluster, campaigns with agents, and every campaign over Twilio
    (:func:`dialer.campaigns.runs_on_leader`), run only on the node leading the ACD, where
    their agents log in and Twilio's webhooks are sent: ``acd_leader()`` says whether this
    node leads it (``None``: no cluster, this node's own ACD, always led). A node that does
    not lead takes no lease of such a campaign; a node that stops leading stops their
    runners as a lost lease does (ringing calls hung up, answered calls run to their end,
    their outcomes recorded here) and gives each lease back once its runner ended, so the
    leader takes the campaign at its next poll and reconciles the calls hung up.
    Agentless campaigns (surveys) over SIP run on any node.
    """

    db: Database
    ports: Mapping[str, OutboundPort]  # by voice layer: "sip", "twilio"
    agents: AgentPool = field(default_factory=FixedAgents)
    poll_s: float = 2.0
    tick_s: float = 1.0
    owner: str = "dialer"  # this node's name (CampaignLease.node, Lead.claimed_by)
    clock: Callable[[], datetime] = utcnow
    preview_hold_s: float = preview.HOLD_S
    lease_s: float = leases.DEFAULT_TTL_S
    lease_clock: Callable[[], datetime] = utcnow  # the nodes' shared wall time, never a test's
    on_live: Callable[[CampaignLive], None] | None = None  # each runner's CampaignRunner.on_live
    monotonic: Callable[[], float] = time.monotonic
    acd_leader: Callable[[], bool] | None = None  # cluster: AcdLeadership.is_leader
    _runners: dict[str, tuple[CampaignRunner, asyncio.Task[str]]] = field(
        default_factory=dict, init=False)
    _on_leader: set[str] = field(default_factory=set, init=False)  # of the runners
    _left_to_leader: set[str] = field(default_factory=set, init=False)  # logged once
    _watch: asyncio.Task[None] | None = field(default=None, init=False)
    preview_desk: preview.PreviewDesk = field(init=False)

    def __post_init__(self) -> None:
        if self.lease_s < 3 * self.poll_s:
            raise ValueError(f"the campaign lease ({self.lease_s:g} s) must last at least "
                             f"three polls ({3 * self.poll_s:g} s) to be renewed in time")
        # The clock is read through the service, so a test's clock set later applies.
        self.preview_desk = preview.PreviewDesk(self.db, self.live_runner,
                                                lambda: self.clock(), self.preview_hold_s)

    @property
    def _fence_margin_s(self) -> float:
        """How long before its lease expires a runner stops dialing: room for clock skew
        between nodes and for a claim already on its way to the database."""
        return min(5.0, self.lease_s / 3)

    def _lease_now(self) -> datetime:
        return self.lease_clock().astimezone(UTC)

    def _leads_acd(self) -> bool:
        return self.acd_leader is None or self.acd_leader()

    async def start(self) -> None:
        self._watch = asyncio.create_task(self._watch_loop(), name="dialer-service")

    async def poll(self) -> None:
        """Renew, give back and take leases; start a runner for each campaign taken."""
        await self._keep_leases()

        def running(s: Session) -> list[tuple[str, int, str, bool]]:
            return [(c.name, c.id, c.voice_layer, runs_on_leader(c))
                    for c in CampaignRepository(s).list() if c.state == "running"]

        leads_acd = self._leads_acd()
        if leads_acd:
            self._left_to_leader.clear()
        for name, campaign_id, layer, on_leader in await self.db.run(running):
            if name in self._runners:
                continue  # a new runner only after the old one ended: reconcile is safe
            if on_leader and not leads_acd:
                if name not in self._left_to_leader:
                    self._left_to_leader.add(name)
                    log.info("campaign %s has agents or calls over Twilio: the ACD's leader "
                             "runs it, not this node (%s)", name, self.owner)
                continue
            port = self.ports.get(layer)
            if port is None:
                log.error("campaign %s uses the %s voice layer, which is not enabled", name,
                          layer)
                continue
            started = self.monotonic()
            lease = await self.db.run(partial(leases.acquire, campaign_id=campaign_id,
                                              node=self.owner, now=self._lease_now(),
                                              ttl_s=self.lease_s))
            if lease is None:
                continue  # another node runs it
            log.info("campaign %s: this node (%s) runs it, lease term %d", name, self.owner,
                     lease.term)
            runner = CampaignRunner(self.db, name, port, self.agents, tick_s=self.tick_s,
                                    owner=self.owner, clock=self.clock,
                                    preview_hold_s=self.preview_hold_s, lease=lease,
                                    fence_at=self._fence_time(started), on_live=self.on_live)
            self._runners[name] = (runner, asyncio.create_task(runner.run(),
                                                               name=f"campaign-{name}"))
            if on_leader:
                self._on_leader.add(name)

    def _fence_time(self, renewal_started: float) -> float:
        return renewal_started + self.lease_s - self._fence_margin_s

    async def _keep_leases(self) -> None:
        leads_acd = self._leads_acd()
        for name, (runner, task) in list(self._runners.items()):
            lease = runner.lease
            if task.done():  # ended (paused, stopped, completed, fenced, failed)
                del self._runners[name]
                self._on_leader.discard(name)
                if lease is not None:
                    await self.db.run(partial(leases.release, lease=lease,
                                              now=self._lease_now()))
                continue
            if name in self._on_leader and not leads_acd and not runner.fenced():
                # Its answered calls end here under the lease, renewed meanwhile: given back
                # at once, the leader's reconcile would close them as crashed and could dial
                # their leads again while they talk.
                log.warning("campaign %s: this node (%s) no longer leads the ACD, where the "
                            "campaign's agents are (and Twilio's webhooks go): its runner "
                            "stops and gives the campaign to the ACD's leader", name,
                            self.owner)
                runner.stop_dialing("this node no longer leads the ACD")
            if lease is None:
                continue
            started = self.monotonic()
            try:
                renewed = await self.db.run(partial(leases.renew, lease=lease,
                                                    now=self._lease_now(), ttl_s=self.lease_s))
            except Exception:
                log.exception("campaign %s: renewing this node's lease failed; it stops "
                              "dialing if that lasts %.0f s", name,
                              max(0.0, (runner.fence_at or started) - started))
                continue
            if renewed is None:
                log.error("campaign %s: another node took it over (this node's lease term %d "
                          "expired): stopping this node's runner", name, lease.term)
                runner.stop_dialing("another node took the campaign over")  # at once
                continue
            runner.lease, runner.fence_at = renewed, self._fence_time(started)

    async def _watch_loop(self) -> None:
        while True:
            try:
                await self.poll()
            except Exception:
                log.exception("dialer: polling the campaigns failed")
            await asyncio.sleep(self.poll_s)

    def runner(self, name: str) -> CampaignRunner | None:
        entry = self._runners.get(name)
        return entry[0] if entry else None

    def live(self) -> list[CampaignLive]:
        """The running campaigns of this node as their runners last saw them, by name."""
        return sorted((r.live for r, task in self._runners.values()
                       if not task.done() and r.live is not None), key=lambda c: c.campaign)

    def live_runner(self, name: str) -> CampaignRunner | None:
        """The campaign's runner while it runs (not one that ended)."""
        entry = self._runners.get(name)
        return entry[0] if entry and not entry[1].done() else None

    async def stop(self) -> None:
        """Cancel the runners and their calls, and give their leases back so that another
        node takes the campaigns over at once (the calls cut short are reconciled there)."""
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        for runner, task in self._runners.values():
            task.cancel()
            await runner.close()
        await asyncio.gather(*(t for _, t in self._runners.values()), return_exceptions=True)
        for runner, _ in self._runners.values():
            if runner.lease is not None:
                try:
                    await self.db.run(partial(leases.release, lease=runner.lease,
                                              now=self._lease_now()))
                except Exception:
                    log.exception("campaign %s: giving back the lease failed; another node "
                                  "takes the campaign over when it expires", runner.campaign)
        self._runners.clear()

