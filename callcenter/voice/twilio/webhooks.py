"""The webhooks Twilio calls, as a FastAPI router (mounted at ``/twilio``).

Every POST must carry a valid ``X-Twilio-Signature``, computed by Twilio over the URL it
called and the form fields; the engine recomputes it with the twilio library's
:class:`~twilio.request_validator.RequestValidator` over ``twilio.public_base_url`` plus the
path and query it received, so it holds behind a TLS-terminating proxy. A missing or wrong
signature is logged and answered 403. Replies are TwiML (``text/xml``).

=========================== ================================================================
``POST /voice``             incoming call (the number's Voice URL)
``POST /status``            the caller's status callback (the number's Status Callback URL)
``POST /gather``            ``<Gather>`` result; ``/transfer``, ``/record``: their results
``POST /transfer/out``      the ``<Dial>`` of an agent's transfer to a number or SIP URI ended
``POST /queue/wait``        ``<Enqueue>`` wait URL: announcements and music
``POST /queue/key``         a key pressed while waiting; ``/queue/done``: left the queue
``POST /continue``          the reply prepared for a step (after a REST redirect)
``POST /agent/answer``      an agent's leg answered; ``/agent/status``: it ended
``POST /callback/answer``   a call-back's agent answered; ``/callback/agent``: its leg ended
``POST /callback/customer`` the call-back's customer answered; ``/callback/dialed``: the
                            ``<Dial>`` to the customer ended (:mod:`.callbacks`)
``POST /recording``         recording status callback
``POST /outbound/answer``   a dialer call answered; ``/outbound/status``, ``/outbound/amd``
``GET  /media/{key}``       a flow's local prompt file, for ``<Play>``
=========================== ================================================================
"""

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import FileResponse
from sqlalchemy.exc import IntegrityError
from twilio.request_validator import SIGNATURE_SETTINGS_HEADER, get_signature_algorithm

from callcenter.voice.twilio import outbound, queueing, transfers, twiml
from callcenter.voice.twilio.call import FINAL_STATUSES, TwilioCall
from callcenter.voice.twilio.callbacks import TwilioCallback
from callcenter.voice.twilio.recordings import RecordingNotStored, recording_ready

if TYPE_CHECKING:
    from callcenter.voice.twilio.layer import TwilioVoiceLayer

log = logging.getLogger(__name__)

XML = "text/xml"
FORWARDED_BY = "X-CC-Forwarded-By"  # a request another node sent on (callcenter/web/forwarding)


def _xml(body: str) -> Response:
    return Response(content=body, media_type=XML)


def build_router(layer: "TwilioVoiceLayer") -> APIRouter:
    # No ``from __future__ import annotations`` here: FastAPI must see the local ``Params``.
    async def signed(request: Request) -> dict[str, str]:
        """The form fields of a request Twilio signed; 403 for anything else."""
        form = _Form(
            parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        )
        url = layer.urls.base.removesuffix("/twilio") + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        signature = request.headers.get("X-Twilio-Signature", "")
        algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
        if not signature or not layer.validator.validate(url, form, signature, algorithm):
            via = request.headers.get(FORWARDED_BY)
            log.warning(
                "refused %s from %s: %s X-Twilio-Signature (checked against %s)%s",
                request.url.path,
                request.client.host if request.client else "?",
                "wrong" if signature else "no",
                url,
                f"; sent on by node {via}: if Twilio signed it, give every node the same "
                "twilio.public_base_url (the address Twilio calls) and twilio.auth_token"
                if via else "",
            )
            raise HTTPException(403, "invalid Twilio signature")
        return {k: v[-1] for k, v in form.items()}

    Params = Annotated[dict[str, str], Depends(signed)]
    router = APIRouter(prefix="/twilio", tags=["twilio"])

    def live(params: dict[str, str]) -> TwilioCall | None:
        return layer.calls.get(params.get("CallSid", ""))

    def not_live(params: dict[str, str], request: Request) -> Response:
        """The answer about a caller's call this node has no live call for: it ended here
        (hang up), or this node never knew it. Then it began at another node: the one that
        led the ACD before (it stopped, died or lost the lead; its calls were in its memory)
        or one restarted since. The caller hears why, rather than silence and a hang-up."""
        sid = params.get("CallSid", "")
        if layer.find(sid) is not None or params.get("CallStatus") in FINAL_STATUSES:
            return _xml(twiml.hangup())
        log.warning(
            "%s about call %s, which this node (%s) does not know: it began at the node that "
            "led the ACD before, or before this node restarted; the caller is told to call "
            "again and hung up", request.url.path, sid, layer.node,
        )
        return _xml(twiml.lost_call(layer.settings.twilio.language))

    async def step(
        params: dict[str, str], request: Request,
        event: Callable[[TwilioCall], Awaitable[str]],
    ) -> Response:
        call = live(params)
        if call is None:
            return not_live(params, request)
        n = _step(request)
        async with call.lock:
            cached = call.replay(n)
            return _xml(cached if cached is not None else await event(call))

    @router.post("/voice")
    async def voice(params: Params) -> Response:
        sid = params.get("CallSid", "")
        known = layer.find(sid)
        if known is not None:  # Twilio repeated the webhook
            async with known.lock:
                return _xml(known.replies.get(0, twiml.hangup()))
        flow = layer.flows.get(params.get("To", ""))
        if flow is None:
            log.warning("call %s to %r: no flow for this number", sid, params.get("To"))
            resp = twiml.VoiceResponse()
            resp.reject()
            return _xml(str(resp))
        call = layer.new_call(sid, flow, caller=params.get("From", ""), dialed=params.get("To", ""))
        async with call.lock:
            try:
                return _xml(await call.start())
            except IntegrityError:  # already recorded before an engine restart
                layer.calls.pop(sid, None)
                return _xml(twiml.hangup())

    @router.post("/status")
    async def status(params: Params) -> Response:
        call = live(params)
        if call is not None and params.get("CallStatus") in FINAL_STATUSES:
            async with call.lock:
                await call.finish(params["CallStatus"])
        return _xml(twiml.empty())

    @router.post("/gather")
    async def gather(params: Params, request: Request) -> Response:
        return await step(
            params, request, lambda c: c.advance(c.gathered(params.get("Digits", "")))
        )

    @router.post("/transfer")
    async def transfer(params: Params, request: Request) -> Response:
        async def event(c: TwilioCall) -> str:
            return await c.advance(await c.transferred(params.get("DialCallStatus", "")))

        return await step(params, request, event)

    @router.post("/transfer/out")
    async def transfer_out(params: Params, request: Request) -> Response:
        return await step(
            params,
            request,
            lambda c: transfers.dial_ended(
                c,
                params.get("DialCallStatus", ""),
                params.get("DialCallSid", ""),
                params.get("DialCallDuration", ""),
                caller_gone=params.get("CallStatus") in FINAL_STATUSES,
            ),
        )

    @router.post("/record")
    async def record(params: Params, request: Request) -> Response:
        return await step(
            params,
            request,
            lambda c: c.advance(c.recorded(params.get("RecordingDuration", ""))),
        )

    @router.post("/continue")
    async def continue_(params: Params, request: Request) -> Response:
        async def nothing_new(c: TwilioCall) -> str:
            return twiml.empty()

        return await step(params, request, nothing_new)

    @router.post("/queue/wait")
    async def queue_wait(params: Params, request: Request) -> Response:
        call = live(params)
        if call is None:
            return not_live(params, request)
        return _xml(queueing.wait_twiml(call, params.get("QueueSid")))

    @router.post("/queue/key")
    async def queue_key(params: Params, request: Request) -> Response:
        call = live(params)
        if call is None:
            return not_live(params, request)
        async with call.lock:
            return _xml(await queueing.queue_key(call, params.get("Digits", "")))

    @router.post("/queue/done")
    async def queue_done(params: Params, request: Request) -> Response:
        return await step(
            params,
            request,
            lambda c: queueing.queue_left(c, params.get("QueueResult", ""), params.get("QueueSid")),
        )

    @router.post("/agent/answer")
    async def agent_answer(params: Params, request: Request) -> Response:
        call = layer.calls.get(request.query_params.get("call", ""))
        if call is None:
            return _xml(twiml.hangup())
        async with call.lock:
            return _xml(await queueing.agent_answered(call, params.get("CallSid", "")))

    @router.post("/agent/status")
    async def agent_status(params: Params, request: Request) -> Response:
        call = layer.find(request.query_params.get("call", ""))
        if call is not None and params.get("CallStatus") in FINAL_STATUSES:
            async with call.lock:
                await queueing.agent_status(call, params.get("CallSid", ""), params["CallStatus"])
        return _xml(twiml.empty())

    async def kept(
        request: Request, work: Callable[[TwilioCallback], Awaitable[str | None]],
        missing: str = twiml.empty(),
    ) -> Response:
        """A webhook about a call-back (``?task=``), under its lock; ``missing`` when it is
        over (or unknown)."""
        cb = layer.places.kept.get(request.query_params.get("task", ""))
        if cb is None:
            return _xml(missing)
        async with cb.lock:
            return _xml(await work(cb) or twiml.empty())

    @router.post("/callback/answer")
    async def callback_answer(params: Params, request: Request) -> Response:
        sid = params.get("CallSid", "")
        return await kept(request, lambda cb: cb.agent_answered(sid), twiml.hangup())

    @router.post("/callback/agent")
    async def callback_agent(params: Params, request: Request) -> Response:
        sid, status = params.get("CallSid", ""), params.get("CallStatus", "")
        return await kept(request, lambda cb: cb.agent_status(sid, status))

    @router.post("/callback/customer")
    async def callback_customer(params: Params, request: Request) -> Response:
        attempt, status = _int(request.query_params.get("attempt")), params.get("CallStatus", "")
        return await kept(request, lambda cb: cb.customer_answered(attempt, status))

    @router.post("/callback/dialed")
    async def callback_dialed(params: Params, request: Request) -> Response:
        attempt = _int(request.query_params.get("attempt"))
        return await kept(request, lambda cb: cb.dial_ended(
            attempt, params.get("DialCallStatus", ""), params.get("DialCallSid", ""),
            params.get("DialCallDuration", "")), twiml.hangup())

    @router.post("/recording")
    async def recording(params: Params, request: Request) -> Response:
        q = request.query_params
        try:
            await recording_ready(
                layer, q.get("call", ""), q.get("kind", "rec"), q.get("file", ""), params
            )
        except RecordingNotStored as exc:
            log.warning("recording not stored yet, Twilio will retry: %s", exc)
            return Response(status_code=503)
        return Response(status_code=204)

    @router.post("/outbound/answer")
    async def outbound_answer(params: Params, request: Request) -> Response:
        attempt = layer.attempts.get(request.query_params.get("attempt", ""))
        if attempt is None:
            return _xml(twiml.hangup())
        async with attempt.call.lock:
            return _xml(await outbound.answered(layer, attempt))

    @router.post("/outbound/status")
    async def outbound_status(params: Params, request: Request) -> Response:
        attempt = layer.attempts.get(request.query_params.get("attempt", ""))
        if attempt is None:
            return _xml(twiml.empty())
        async with attempt.call.lock:
            return _xml(
                await outbound.status(
                    layer, attempt, params.get("CallStatus", ""), params.get("AnsweredBy")
                )
            )

    @router.post("/outbound/amd")
    async def outbound_amd(params: Params, request: Request) -> Response:
        attempt = layer.attempts.get(request.query_params.get("attempt", ""))
        if attempt is not None:
            async with attempt.call.lock:
                await outbound.machine_detected(layer, attempt, params)
        return _xml(twiml.empty())

    @router.get("/media/{key}")
    async def media(key: str) -> FileResponse:
        path = layer.media.get(key)
        if path is None or not path.is_file():
            raise HTTPException(404, "no such prompt")
        return FileResponse(path)

    return router


class _Form(dict[str, list[str]]):
    """Twilio's ``application/x-www-form-urlencoded`` fields, repeated keys kept (the
    validator signs every value); parsed here so the engine needs no multipart library."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__()
        for key, value in pairs:
            self.setdefault(key, []).append(value)

    def getlist(self, key: str) -> list[str]:
        return self[key]


def _step(request: Request) -> int:
    return _int(request.query_params.get("step"))


def _int(value: str | None) -> int:
    try:
        return int(value or "-1")
    except ValueError:
        return -1
