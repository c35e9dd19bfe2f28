"""The composition root: builds the adapters the settings ask for and runs them on one loop.

``Engine.start`` opens the database (and brings its schema up to date when
``database.auto_migrate`` is on), starts the bus, then the HTTP server; ``Engine.stop`` undoes
them in reverse order. ``serve`` wires SIGINT / SIGTERM to a clean stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
from collections.abc import Generator
from datetime import UTC, datetime
from typing import Any

import uvicorn

from callcenter import acd
from callcenter.backoffice import BackOffice
from callcenter.bus import EventBus, build_bus
from callcenter.calls import AcdService, CdrWriter, Directory, load_directory
from callcenter.calls.agent_pool import AcdAgentPool
from callcenter.calls.campaign_board_service import CampaignBoardService, publisher
from callcenter.calls.desk_service import DeskService
from callcenter.calls.desktop_presence_service import DesktopPresenceService
from callcenter.calls.escalations import CallEscalations
from callcenter.calls.flows import load_flows
from callcenter.config import Settings
from callcenter.errors import ConfigError
from callcenter.recordings.retention import RetentionPolicy
from callcenter.recordings.service import RetentionService
from callcenter.store import Database, ensure_current, open_database, upgrade
from callcenter.store.models import AgentStateChange
from callcenter.web import create_app
from callcenter.web.auth import WebAuth
from dialer import local_rules

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the engine owns SIGINT / SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class Engine:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db: Database
        self.bus: EventBus
        self._server: _Server | None = None
        self._server_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.http_port: int | None = None
        self.auth: WebAuth | None = None
        self.directory = Directory()
        self.acd: AcdService | None = None
        self.desks: DeskService | None = None
        self.desktop_presence: DesktopPresenceService | None = None
        self.campaigns: CampaignBoardService | None = None
        self.cdr: CdrWriter | None = None
        self.sip: Any = None
        self.twilio: Any = None
        self.backoffice: Any = None
        self.dialer: Any = None
        self.retention: RetentionService | None = None
        #: Which node leads the ACD (cluster.enabled); None: this node alone leads it.
        self.leadership: Any = None
        self.heartbeat: Any = None  # this node's row among the cluster's nodes

    async def start(self) -> None:
        s = self.settings
        local_rules.use_table(s.dialer.local_rules)  # a bad table fails the start
        s.var_dir.mkdir(parents=True, exist_ok=True)
        s.recordings_dir.mkdir(parents=True, exist_ok=True)
        self.db = await asyncio.to_thread(open_database, s.database.url, s.database.echo)
        if s.database.auto_migrate:
            await asyncio.to_thread(upgrade, self.db)
        else:
            await asyncio.to_thread(ensure_current, self.db)
        log.info("database %s ready", self.db.safe_url)
        self.auth = await WebAuth.build(s, self.db)  # refuses an open port nobody can log in to
        self.bus = build_bus(s)
        await self.bus.start()
        log.info("event bus %s started", self.bus.kind)
        self.desks = DeskService(self.bus)  # before the ACD: it sees every agent's first state
        await self.desks.start()
        self.campaigns = CampaignBoardService(self.bus)  # every node's campaigns, for consoles
        await self.campaigns.start()
        await self._start_call_center()
        days = s.recordings.retention_days
        if days is not None:
            self.retention = RetentionService(
                self.db, RetentionPolicy(days), s.recordings.purge_interval_s
            )
            await self.retention.start()
        await self._start_http()

    async def _start_call_center(self) -> None:
        """The ACD, call records and the voice layers the settings enable."""
        s = self.settings
        self.directory = await self.db.run(load_directory)
        self.acd = AcdService(
            self.directory.router(), self.bus, on_agent_state=self._agent_state_changed
        )
        if s.http.desktop_presence_s > 0:
            self.desktop_presence = DesktopPresenceService(self.acd, s.http.desktop_presence_s)
        self.cdr = CdrWriter(self.db, self.bus, self.directory)
        self.cdr.start()
        self.backoffice = BackOffice(s.backoffice, self.db, self.bus)
        await self.backoffice.start()
        escalations = CallEscalations(self.backoffice)
        if s.cluster.enabled:
            await self._start_leadership()
        if s.sip.enabled:
            from callcenter.voice.sip.layer import SipVoiceLayer

            flows = load_flows(s.sip.numbers, set(self.directory.queues), "sip.numbers")
            self.sip = SipVoiceLayer(
                s, self.acd, self.cdr, self.directory, flows, escalations=escalations,
                leadership=self.leadership,
            )
            await self.sip.start()
        if s.twilio.enabled:
            from callcenter.voice.twilio import TwilioVoiceLayer

            flows = load_flows(s.twilio.numbers, set(self.directory.queues), "twilio.numbers")
            self.twilio = TwilioVoiceLayer(
                s, self.acd, self.cdr, self.directory, flows, escalations=escalations,
                leadership=self.leadership,
            )
            await self.twilio.start()
        await self._start_dialer()

    async def _start_leadership(self) -> None:
        """Take the ACD's lead, or learn which node has it (docs/cluster.md)."""
        from callcenter.cluster.leadership import AcdLeadership
        from dialer import leases

        s = self.settings
        host = s.sip.public_host or s.sip.host
        transport = "" if "udp" in s.sip.transports else ";transport=tcp"
        http = s.cluster.http_url or (
            f"http://{s.http.host}:{s.http.port}" if s.http.port else None
        )
        self.leadership = AcdLeadership(
            self.db, s.node or leases.default_node(),
            sip_uri=s.cluster.sip_uri or f"sip:{host}:{s.sip.port}{transport}",
            http_url=http, lease_s=s.cluster.lease_s, on_change=self._leader_changed,
        )
        await self.leadership.start()
        from callcenter.cluster.members import Heartbeat

        self.heartbeat = Heartbeat(self.db, self.leadership.node, s.cluster.lease_s / 3,
                                   self._calls_up, sip_uri=self.leadership.sip_uri,
                                   http_url=http)
        await self.heartbeat.start()
        leader = self.leadership.leader
        log.info("cluster: node %s; the ACD's leader is %s", self.leadership.node,
                 "this node" if self.leadership.is_leader else leader.node if leader else "nobody")

    def _calls_up(self) -> int:
        return sum(len(layer.calls) for layer in (self.sip, self.twilio) if layer is not None)

    async def _leader_changed(self, old: Any, new: Any) -> None:
        log.info("cluster: the ACD's leader is now %s (was %s)",
                 new.node if new else "nobody", old.node if old else "nobody")
        if self.sip is not None and self.sip.handovers is not None:
            await self.sip.handovers.leader_changed(old, new)
        mine = self.leadership is not None and new is not None and new.node == self.leadership.node
        if mine and old is not None and old.node != new.node and self.acd is not None:
            from callcenter.calls.agent_restore import restore_agents

            await restore_agents(self.acd, self.directory, self.db, datetime.now(UTC))
            for layer in (self.sip, self.twilio):  # and the call-backs it kept
                if layer is not None:
                    await layer.places.restore()

    async def _start_dialer(self) -> None:
        """Campaign runners for the voice layers that can place calls (SIP and Twilio)."""
        from dialer import leases
        from dialer.runner import DialerService

        assert self.acd is not None
        ports: dict[str, Any] = {}
        if self.sip is not None:
            from callcenter.voice.sip.outbound import SipOutboundPort

            ports["sip"] = SipOutboundPort(self.sip)
        if self.twilio is not None:
            from callcenter.voice.twilio.outbound_port import TwilioOutboundPort

            ports["twilio"] = TwilioOutboundPort(self.twilio)
        self.dialer = DialerService(self.db, ports, AcdAgentPool(self.acd, self.directory),
                                    owner=self.settings.node or leases.default_node(),
                                    lease_s=self.settings.dialer.lease_s,
                                    on_live=publisher(self.bus),
                                    # campaigns with agents run only on the ACD's leader
                                    acd_leader=(lambda: self.leadership.is_leader)
                                    if self.leadership else None)
        await self.dialer.start()

    async def _agent_state_changed(self, change: acd.AgentStateChanged) -> None:
        await self._record_agent_state(change)
        if self.desktop_presence is not None:  # logins, logouts, ready while it is closed
            await self.desktop_presence.agent_state_changed(change)

    async def _record_agent_state(self, change: acd.AgentStateChanged) -> None:
        agent_id = self.directory.agent_id(change.agent_id)
        if agent_id is None:
            return

        at = datetime.now(UTC)  # when it changed, not when the batch holding it commits

        def write(session: Any) -> None:
            session.add(
                AgentStateChange(
                    agent_id=agent_id, at=at, state=change.state.value,
                    reason=change.reason[:128],
                )
            )

        assert self.cdr is not None
        await self.cdr.write(write)  # batched with the call records: no commit of its own

    async def _start_http(self) -> None:
        s = self.settings.http
        sock = socket.socket(socket.AF_INET6 if ":" in s.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((s.host, s.port))
        except OSError as exc:
            sock.close()
            raise ConfigError(
                f"cannot listen on http {s.host}:{s.port} ({exc.strerror}): stop what uses the "
                "port or set CALLCENTER_HTTP__PORT to another one"
            ) from None
        self.http_port = sock.getsockname()[1]
        config = uvicorn.Config(
            create_app(self),
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        self._server = _Server(config)
        self._server_task = asyncio.create_task(self._server.serve(sockets=[sock]), name="http")
        while not self._server.started:
            if self._server_task.done():
                await self._server_task  # raises what stopped it
                raise RuntimeError("the HTTP server stopped during start-up")
            await asyncio.sleep(0.01)
        log.info("HTTP listening on http://%s:%d", s.host, self.http_port)
        if self.leadership is not None and not self.settings.cluster.http_url:  # port 0
            await self.leadership.advertise_http(f"http://{s.host}:{self.http_port}")
            if self.heartbeat is not None:
                await self.heartbeat.advertise_http(f"http://{s.host}:{self.http_port}")

    async def stop(self) -> None:
        if self.acd is not None:
            self.acd.close_watchers()  # open console streams end, or uvicorn waits for them
        if self.desks is not None:
            self.desks.close_watchers()  # and so do the agent desktops' streams
        if self.desktop_presence is not None:
            await self.desktop_presence.stop()  # closing them now is no agent leaving
        if self.campaigns is not None:
            self.campaigns.close_watchers()
        if self._server is not None and self._server_task is not None:
            self._server.should_exit = True
            await self._server_task
            self._server = self._server_task = None
        if self.retention is not None:
            await self.retention.stop()
            self.retention = None
        if self.dialer is not None:
            await self.dialer.stop()
            self.dialer = None
        if self.leadership is not None:  # another node leads at once: callers go there
            await self.leadership.stop()
            self.leadership = None
        if self.sip is not None:
            await self.sip.stop()
            self.sip = None
        if self.twilio is not None:
            await self.twilio.stop()
            self.twilio = None
        if self.backoffice is not None:
            await self.backoffice.stop()
            self.backoffice = None
        if self.acd is not None:
            await self.acd.stop()
        if self.cdr is not None:
            await self.cdr.stop()  # the last call records, committed before the bus goes
            self.cdr = None
        if self.heartbeat is not None:  # stopped: its calls are over, its records in
            await self.heartbeat.stop()
            self.heartbeat = None
        if self.desks is not None:
            await self.desks.stop()
            self.desks = None
        if self.campaigns is not None:
            await self.campaigns.stop()
            self.campaigns = None
        if hasattr(self, "bus"):
            await self.bus.stop()
        if hasattr(self, "db"):
            self.db.dispose()
        log.info("engine stopped")

    def request_stop(self) -> None:
        self._stopping.set()

    async def serve(self) -> None:
        """Start, run until SIGINT / SIGTERM (or :meth:`request_stop`), then stop cleanly."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_stop)
        try:
            await self.start()
            # What start-up made (modules, mappers, flows, the SIP stack) lives until the end:
            # out of the collector's reach, so full collections under load stay short.
            gc.freeze()
            await self._stopping.wait()
            log.info("stop requested, shutting down")
        finally:
            await self.stop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
