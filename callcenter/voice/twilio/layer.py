"""The Twilio voice layer: the calls Twilio tells us about, the REST client, and the URLs.

:class:`TwilioVoiceLayer` is the Twilio counterpart of the SIP layer, built the same way (from
the settings, the :class:`~callcenter.calls.AcdService`, the :class:`~callcenter.calls.CdrWriter`,
the :class:`~callcenter.calls.Directory` and the flows by dialed number). Its ``router`` is the
FastAPI router of the webhooks (:mod:`.webhooks`) for the HTTP app to include. Live calls are
kept in memory by CallSid; ended ones a while longer, for late recording and status callbacks.
Callers' kept places (fair virtual hold) are called back by ``places`` (:mod:`.callbacks`).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
from twilio.request_validator import RequestValidator

from callcenter import acd, ivr
from callcenter.calls import AcdService, CallLog, CdrWriter, Directory
from callcenter.calls.acd_service import TaskRouting
from callcenter.calls.escalations import CallEscalations
from callcenter.calls.recording_paths import recording_path
from callcenter.calls.transfer_targets import parse_transfer_target
from callcenter.config import Settings
from callcenter.errors import NotFound
from callcenter.logs import call_context
from callcenter.voice.twilio import outbound, transfers
from callcenter.voice.twilio.call import TwilioCall
from callcenter.voice.twilio.callbacks import TwilioKeptPlaces
from callcenter.voice.twilio.outbound import AttemptListener, OutboundAttempt
from callcenter.voice.twilio.recordings import RecordedCall
from callcenter.voice.twilio.rest import TwilioRest, TwilioRestError
from callcenter.voice.twilio.transfers import NotConnected, TransferNotSupported
from dialer.leases import default_node

if TYPE_CHECKING:
    from callcenter.cluster.leadership import AcdLeadership

log = logging.getLogger(__name__)

KEEP_ENDED = 10_000  # ended calls remembered for late callbacks (recordings come after the end)


class CallbackUrls:
    """Absolute URLs of our webhooks as Twilio must call them (and as they are signed)."""

    def __init__(self, public_base_url: str, prefix: str = "/twilio") -> None:
        self.base = public_base_url.rstrip("/") + prefix

    def make(self, path: str, **query: str | int) -> str:
        return f"{self.base}/{path}" + (f"?{urlencode(query)}" if query else "")

    def step(self, path: str, step: int) -> str:
        return self.make(path, step=step)


class TwilioVoiceLayer:
    def __init__(
        self,
        settings: Settings,
        acd_service: AcdService,
        cdr: CdrWriter,
        directory: Directory,
        flows: dict[str, ivr.Flow],
        *,
        crm_transport: httpx.AsyncBaseTransport | None = None,
        escalations: CallEscalations | None = None,
        leadership: AcdLeadership | None = None,
    ) -> None:
        self.settings = settings
        self.leadership = leadership
        self.escalations = escalations or CallEscalations(None)
        t = settings.twilio
        self.acd = acd_service
        self.cdr = cdr
        self.directory = directory
        self.flows = flows
        self.crm_transport = crm_transport  # tests answer the flows' CRM look-ups
        self.urls = CallbackUrls(t.public_base_url)
        self.validator = RequestValidator(t.auth_token.get_secret_value())
        self.rest = TwilioRest(t.account_sid, t.auth_token.get_secret_value(), t.api_base_url)
        self.calls: dict[str, TwilioCall] = {}  # CallSid -> live call
        self.ended: OrderedDict[str, TwilioCall] = OrderedDict()
        self.media: dict[str, Path] = {}
        self.attempts: dict[str, OutboundAttempt] = {}  # engine call id -> outbound attempt
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seq = itertools.count(1)
        #: This engine among the nodes (who holds which kept place), as the SIP layer's.
        self.node = leadership.node if leadership is not None else (
            settings.node or default_node())
        self.places = TwilioKeptPlaces(self)  # call-backs waiting their turn
        from callcenter.voice.twilio.webhooks import build_router

        self.router = build_router(self)

    async def start(self) -> None:
        self.settings.recordings_dir.mkdir(parents=True, exist_ok=True)
        log.info(
            "Twilio webhooks at %s (numbers: %s)",
            self.urls.base,
            ", ".join(sorted(self.flows)) or "none",
        )
        if self.leadership is None or self.leadership.is_leader:
            await self.places.restore()  # call-backs kept before a restart: back in line

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.rest.aclose()

    # ---- calls ------------------------------------------------------------------------
    def new_call(
        self, call_sid: str, flow: ivr.Flow, *, caller: str, dialed: str, direction: str = "inbound"
    ) -> TwilioCall:
        rec = CallLog(
            call_id=uuid.uuid4().hex,
            direction=direction,  # type: ignore[arg-type]
            voice_layer="twilio",
            caller=caller,
            dialed=dialed,
            flow=flow.name,
            external_id=call_sid,
        )
        call = TwilioCall(self, rec, flow)
        self.calls[call_sid] = call
        return call

    def find(self, call_sid: str) -> TwilioCall | None:
        return self.calls.get(call_sid) or self.ended.get(call_sid)

    def retire(self, call: TwilioCall) -> None:
        self.calls.pop(call.call_sid, None)
        self.ended[call.call_sid] = call
        while len(self.ended) > KEEP_ENDED:
            self.ended.popitem(last=False)

    def live_call(self, call_id: str) -> TwilioCall | None:
        """The live call whose engine call id (the CDR's, not the CallSid) is ``call_id``."""
        return next((c for c in self.calls.values() if c.rec.call_id == call_id), None)

    async def transfer(self, call_id: str, to: str, *, attended: bool = False) -> None:
        """The agent desktop's blind transfer of a connected call (``POST /api/calls/{id}/
        transfer``) to ``queue:NAME``, an E.164 number or a SIP URI (see :mod:`.transfers`).

        Raises, before anything about the call changes:
        :class:`~callcenter.calls.transfer_targets.InvalidTransferTarget` for a target that
        is none of these, :class:`~callcenter.errors.NotFound` for an unknown queue,
        :class:`~.transfers.TransferNotSupported` for an attended transfer to a number or SIP
        URI (SIP-only), :class:`~.transfers.NotConnected` (a ``LookupError``) for a call not
        connected to an agent on this node."""
        queue, target = "", None
        if to.startswith("queue:"):
            queue = to.removeprefix("queue:")
            if queue not in self.directory.queues:
                raise NotFound(f"no queue {queue!r}: check the name (GET /api/queues)")
        else:
            target = parse_transfer_target(to)
            if attended:
                raise TransferNotSupported(
                    "over Twilio a transfer to a number or SIP URI is blind only: send "
                    '"attended": false (or use the SIP layer for an attended transfer)'
                )
        call = self.live_call(call_id)
        if call is None:
            raise NotConnected(f"call {call_id} is not a live Twilio call on this node")
        async with call.lock:
            with call_context(call.rec.call_id):
                if target is None:
                    await transfers.transfer_to_queue(call, queue)
                else:
                    await transfers.transfer_out(call, target)

    def agent_address(self, agent_id: str) -> str | None:
        """How Twilio reaches the agent: ``client:NAME``, ``sip:...`` or an E.164 number."""
        entry = self.directory.agents.get(agent_id)
        uri = (entry.sip_uri or "").strip() if entry else ""
        if uri.startswith(("client:", "sip:", "sips:")):
            return uri
        number = uri.removeprefix("tel:")
        if number.startswith("+") and number[1:].isdigit():
            return number
        return None

    async def dial(
        self,
        to: str,
        flow: ivr.Flow,
        *,
        caller_id: str,
        queue: str | None = None,
        drop_flow: ivr.Flow | None = None,
        machine_flow: ivr.Flow | None = None,
        variables: Mapping[str, object] | None = None,
        ring_timeout_s: int = 15,
        listener: AttemptListener | None = None,
        amd: bool = True,
        routing: TaskRouting | None = None,
    ) -> TwilioCall:
        """An outbound call for the dialer (see :mod:`.outbound`)."""
        return await outbound.dial(
            self,
            to,
            flow,
            caller_id=caller_id,
            queue=queue,
            drop_flow=drop_flow,
            machine_flow=machine_flow,
            variables=variables,
            ring_timeout_s=ring_timeout_s,
            listener=listener,
            amd=amd,
            routing=routing,
        )

    # ---- media and recordings ---------------------------------------------------------
    def media_url(self, file: str) -> str:
        """A URL Twilio can fetch a flow's local prompt file from (see ``GET /media``)."""
        path = Path(file)
        key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24] + path.suffix
        self.media[key] = path
        return self.urls.make(f"media/{key}")

    def recording_file(self, call: RecordedCall, kind: str) -> Path:
        """A new file for one of the call's recordings, also unlike the ones promised to
        Twilio before and not downloaded yet (a transferred caller's second conversation)."""
        path = recording_path(
            self.settings.recordings_dir, call.rec.call_id, kind, taken=call.recording_files
        )
        call.recording_files.add(path)
        return path

    def recording_status_url(self, call: RecordedCall, kind: str, path: Path) -> str:
        relative = path.relative_to(self.settings.recordings_dir).as_posix()
        return self.urls.make("recording", call=call.call_sid, kind=kind, file=relative)

    def recorded_call(self, call_sid: str) -> RecordedCall | None:
        """The call a recording callback names: a caller's CallSid, or the agent's leg of a
        call-back (the leg that dialed the customer)."""
        return self.find(call_sid) or self.places.legs.get(call_sid)

    def recording_target(self, relative: str) -> Path | None:
        """The file a signed recording callback names, if it stays inside recordings_dir."""
        root = self.settings.recordings_dir.resolve()
        path = (root / relative).resolve()
        return path if path.is_relative_to(root) and path.suffix == ".wav" else None

    # ---- background work --------------------------------------------------------------
    def spawn(self, work: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                await work
            except Exception:
                log.exception("Twilio background work failed")

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def delete_queue(self, queue_sid: str) -> None:
        """The caller's own Twilio queue is not needed once it left it."""
        try:
            await self.rest.client.queues(queue_sid).delete_async()
        except Exception as exc:  # best effort: an unused queue costs nothing but a name
            log.info("deleting Twilio queue %s: %s", queue_sid, exc)

    async def hang_up(self, call: TwilioCall, reason: str) -> None:
        call.rec.hangup_by, call.rec.hangup_cause = "engine", reason
        try:
            await self.rest.end_call(call.call_sid, answered=True)
        except TwilioRestError as exc:
            log.warning("hanging up %s: %s", call.call_sid, exc)

    def agent_free(self, queue: str) -> bool:
        """Is an agent of ``queue`` ready right now (the dialer's last check before a drop)?"""
        router = self.acd.router
        for a in self.directory.agents.values():
            if queue in a.profile.queues:
                try:
                    if router.agent_state(a.code) == "available":
                        return True
                except acd.UnknownAgent:  # added to the database after start-up
                    continue
        return False
