"""Operating queues and agents over HTTP: what a desktop, a wallboard or an integration uses.

Agents log in, go ready, pause with a reason, log out, end wrap-up or ask for more of it;
supervisors read live queue and agent figures and listen to, whisper to or barge into a
connected call. Every change goes through the ACD like any other event, so it is published
on the bus with its reason.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from callcenter import acd
from callcenter.calls.transfer_targets import InvalidTransferTarget
from callcenter.errors import CallCenterError
from callcenter.web.auth import acting_as, audit, principal

if TYPE_CHECKING:
    from callcenter.calls import AcdService
    from callcenter.engine import Engine

router = APIRouter(prefix="/api", tags=["operations"])


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _acd(request: Request) -> AcdService:
    service = _engine(request).acd
    if service is None:
        raise HTTPException(503, "the ACD is not running yet: retry in a moment")
    return service


def _known_agent(request: Request, code: str) -> None:
    if code not in _engine(request).directory.agents:
        raise HTTPException(404, f"no agent {code!r}: add it with `callcenter agents add`")


class AgentView(BaseModel):
    agent_id: str
    name: str
    state: str
    queues: dict[str, int]
    skills: dict[str, int]
    nailed_up: bool


class PauseBody(BaseModel):
    reason: str = Field("break", max_length=128, description="Why: shown on the wallboard.")


class ActionResult(BaseModel):
    agent_id: str
    state: str


class WrapUpExtendBody(BaseModel):
    extra_s: float = Field(..., ge=1, le=600,
                           description="How many more seconds of wrap-up (1 to 600).")


class WrapUpExtended(ActionResult):
    wrap_up_left_s: float = Field(..., description="Seconds of wrap-up left, the extra included.")


class MonitorBody(BaseModel):
    supervisor: str = Field(..., description="Where to call the supervisor: a SIP URI.")
    mode: Literal["listen", "whisper", "barge"] = "listen"


@router.get("/agents", response_model=list[AgentView], summary="Agents and their live state")
async def list_agents(request: Request) -> list[AgentView]:
    engine = _engine(request)
    service = _acd(request)
    lines = engine.sip.lines if engine.sip is not None else {}
    return [
        AgentView(
            agent_id=code,
            name=entry.name,
            state=service.router.agent_state(code),
            queues=dict(entry.profile.queues),
            skills=dict(entry.profile.skills),
            nailed_up=code in lines,
        )
        for code, entry in sorted(engine.directory.agents.items())
    ]


async def _apply(request: Request, code: str, event: acd.Event) -> ActionResult:
    _known_agent(request, code)
    service = _acd(request)
    try:
        await service.handle(event)
    except acd.ACDError as exc:
        raise HTTPException(409, str(exc)) from None
    state = service.router.agent_state(code)
    who = principal(request)
    if who is not None and who.agent != code:  # a supervisor changed someone else's state
        await audit(request, "agent.state", code, {"event": type(event).__name__, "state": state})
    return ActionResult(agent_id=code, state=state)


@router.post("/agents/{code}/login", response_model=ActionResult)
async def login(request: Request, code: str) -> ActionResult:
    """Log in (paused until ``ready``, as most desktops do)."""
    return await _apply(request, code, acd.AgentLoggedIn(code))


@router.post("/agents/{code}/ready", response_model=ActionResult)
async def ready(request: Request, code: str) -> ActionResult:
    return await _apply(request, code, acd.AgentReady(code))


@router.post("/agents/{code}/pause", response_model=ActionResult)
async def pause(request: Request, code: str, body: PauseBody) -> ActionResult:
    return await _apply(request, code, acd.AgentPaused(code, body.reason))


@router.post("/agents/{code}/logout", response_model=ActionResult)
async def logout(request: Request, code: str) -> ActionResult:
    return await _apply(request, code, acd.AgentLoggedOut(code))


@router.post("/agents/{code}/wrapup-end", response_model=ActionResult)
async def end_wrap_up(request: Request, code: str) -> ActionResult:
    return await _apply(request, code, acd.WrapUpEnded(code))


@router.post("/agents/{code}/wrapup-extend", response_model=WrapUpExtended)
async def extend_wrap_up(request: Request, code: str, body: WrapUpExtendBody) -> WrapUpExtended:
    """More time for the wrap-up under way: it ends ``extra_s`` seconds later than it would
    have (409 when the agent is not in wrap-up)."""
    _known_agent(request, code)
    service = _acd(request)
    if service.router.wrap_up_until(code) is None:
        state = service.router.agent_state(code)
        raise HTTPException(409, f"agent {code!r} is not in wrap-up (state: {state}): there is "
                            "no wrap-up to extend")
    done = await _apply(request, code, acd.WrapUpExtended(code, body.extra_s))
    until = service.router.wrap_up_until(code)
    left = max(0.0, until - service.clock()) if until is not None else 0.0
    return WrapUpExtended(**done.model_dump(), wrap_up_left_s=round(left, 1))


@router.get("/queues", summary="Live statistics of every queue")
async def queues(request: Request) -> list[dict[str, object]]:
    service = _acd(request)
    now = service.clock()
    return [
        dataclasses.asdict(service.router.queue_stats(name, now))
        for name in sorted(_engine(request).directory.queues)
    ]


@router.get("/queues/callbacks",
            summary="Callers who asked to be called back and wait for it (kept places)")
async def queue_callbacks(request: Request) -> list[dict[str, object]]:
    """Oldest first: the place in line is when the caller first waited (``waiting_since``);
    ``calls``: calls to the customer so far; ``node``: the engine that calls back, over
    ``voice_layer`` (sip or twilio)."""
    from callcenter.store.queue_callbacks import pending

    def read(s: Any) -> list[dict[str, object]]:
        return [{"task_id": r.task_id, "queue": r.queue, "number": r.number, "shown": r.shown,
                 "priority": r.priority, "call_id": r.call_id,
                 "waiting_since": r.waiting_since.isoformat(), "status": r.status,
                 "calls": r.calls, "last_cause": r.last_cause, "node": r.node,
                 "voice_layer": r.voice_layer}
                for r in pending(s)]

    return await _engine(request).db.run(read)


class DispositionBody(BaseModel):
    code: str = Field(..., max_length=32, description="A disposition code (see the seeded list).")
    notes: str = Field("", max_length=2000, description="The agent's notes, kept on the call.")
    callback_at: str | None = Field(
        None,
        max_length=64,
        description="With code callback on a campaign call: when to call the lead back, ISO "
        "8601. With an offset (2026-06-16T15:30:00-04:00) that instant; without one "
        "(2026-06-16T15:30) that wall-clock time in the lead's time zone. In the future, at "
        "most 90 days ahead; outside the calling window it waits for the window to open.",
    )
    callback_owner: str | None = Field(
        None,
        max_length=64,
        description="Who takes the callback: me (the call's agent), an agent's code, or none "
        "(any agent of the campaign, the default).",
    )


@router.get("/dispositions", summary="The active disposition codes (what a desktop offers)")
async def dispositions(request: Request) -> list[dict[str, object]]:
    from callcenter.calls.dispositions import active

    return await active(_engine(request).db)


@router.post("/calls/{call_id}/disposition", summary="Set the agent's disposition on a call")
async def disposition(request: Request, call_id: str, body: DispositionBody) -> dict[str, object]:
    """Store the disposition on the call record; an unresolved one (``unresolved``,
    ``complaint``, ``callback`` by default) becomes a back-office ticket, exactly once.
    ``callback`` with ``callback_at`` books a scheduled callback (answered as ``callback``)."""
    from callcenter.calls.dispositions import UnknownDisposition, set_disposition
    from callcenter.calls.escalations import CallEscalations
    from callcenter.errors import NotFound
    from dialer.callback_times import CallbackTimeError
    from dialer.callbacks import CallbackError

    engine = _engine(request)
    try:
        done = await set_disposition(
            engine.db,
            CallEscalations(engine.backoffice),
            call_id,
            body.code,
            body.notes,
            callback_at=body.callback_at,
            callback_owner=body.callback_owner,
        )
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except (UnknownDisposition, CallbackTimeError) as exc:
        raise HTTPException(422, str(exc)) from None
    except CallbackError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    if done.update is not None:
        engine.bus.publish_event(done.update)  # committed: the agent's desk clears the call
    out: dict[str, object] = {
        "call_id": call_id,
        "code": done.code,
        "escalated": not done.resolved,
    }
    if done.callback is not None:
        when = done.callback.when
        out["callback"] = {
            **done.callback.callback.as_dict(),
            "read_as": when.read_as,
            "window_opens": when.window_opens.isoformat() if when.window_opens else None,
            "note": when.note(),
        }
    return out


class TransferBody(BaseModel):
    to: str = Field(
        ...,
        description="queue:NAME, an E.164 number (+15551234567, tel:+1...) or a SIP URI "
        "(sip:user@host, sips:user@host).",
    )
    attended: bool = Field(False, description="Talk to the target first (the caller is held).")


def _control(request: Request, call_id: str, what: object) -> dict[str, object]:
    engine = _engine(request)
    if engine.sip is None:
        raise HTTPException(409, "call control needs the SIP voice layer (sip.enabled)")
    try:
        engine.sip.control(call_id, what)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    return {"call_id": call_id, "requested": type(what).__name__}


@router.post("/calls/{call_id}/hold", status_code=202, summary="Put the caller on hold")
async def hold(request: Request, call_id: str) -> dict[str, object]:
    from callcenter.voice.sip.conversation import Hold

    return _control(request, call_id, Hold())


@router.post("/calls/{call_id}/resume", status_code=202, summary="Take the caller off hold")
async def resume(request: Request, call_id: str) -> dict[str, object]:
    from callcenter.voice.sip.conversation import Resume

    return _control(request, call_id, Resume())


@router.post("/calls/{call_id}/transfer", status_code=202, summary="Transfer the caller")
async def transfer(request: Request, call_id: str, body: TransferBody) -> dict[str, object]:
    """Blind (the engine rings the target and leaves the caller with it) or attended (the
    agent talks to the target first, then ``/transfer/complete`` or ``/transfer/cancel``).
    ``queue:NAME`` puts the caller back in line, keeping their original waiting time.
    Over Twilio a transfer is blind: to ``queue:NAME``, an E.164 number (``+15551234567``,
    ``tel:+1...``) or a SIP URI (``sip:user@host``, ``sips:``); any other target is 422 (the
    message says what to send), ``attended`` to a number or SIP URI 409."""
    if body.to.startswith("queue:") and body.to.removeprefix("queue:") not in (
        _engine(request).directory.queues
    ):
        raise HTTPException(404, f"no queue {body.to.removeprefix('queue:')!r}")
    engine = _engine(request)
    twilio = engine.twilio
    if twilio is not None and (engine.sip is None or twilio.live_call(call_id) is not None):
        try:
            await twilio.transfer(call_id, body.to, attended=body.attended)
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from None
        except InvalidTransferTarget as exc:
            raise HTTPException(422, str(exc)) from None
        except CallCenterError as exc:
            raise HTTPException(409, str(exc)) from None
        return {"call_id": call_id, "requested": "Transfer"}
    from callcenter.voice.sip.conversation import Transfer

    return _control(request, call_id, Transfer(body.to, body.attended))


@router.post("/calls/{call_id}/transfer/complete", status_code=202)
async def complete_transfer(request: Request, call_id: str) -> dict[str, object]:
    from callcenter.voice.sip.conversation import CompleteTransfer

    return _control(request, call_id, CompleteTransfer())


@router.post("/calls/{call_id}/transfer/cancel", status_code=202)
async def cancel_transfer(request: Request, call_id: str) -> dict[str, object]:
    from callcenter.voice.sip.conversation import CancelTransfer

    return _control(request, call_id, CancelTransfer())


class RecordingPauseBody(BaseModel):
    by: str = Field(..., max_length=64, description="Who pauses (kept in the audit trail); "
                    "with authentication on, the logged-in user's name replaces it.")
    reason: str = Field("sensitive data", max_length=255)


class RecordingResumeBody(BaseModel):
    by: str = Field(..., max_length=64)


@router.post(
    "/calls/{call_id}/recording/pause",
    status_code=202,
    summary="Pause the call's recording (audited)",
)
async def pause_recording(
    request: Request, call_id: str, body: RecordingPauseBody
) -> dict[str, object]:
    from callcenter.voice.sip.conversation import PauseRecording

    return _control(request, call_id, PauseRecording(acting_as(request, body.by), body.reason))


@router.post(
    "/calls/{call_id}/recording/resume",
    status_code=202,
    summary="Resume the call's recording (audited)",
)
async def resume_recording(
    request: Request, call_id: str, body: RecordingResumeBody
) -> dict[str, object]:
    from callcenter.voice.sip.conversation import ResumeRecording

    return _control(request, call_id, ResumeRecording(acting_as(request, body.by)))


@router.post("/calls/{call_id}/monitor", status_code=201, summary="Listen, whisper or barge")
async def monitor(request: Request, call_id: str, body: MonitorBody) -> dict[str, object]:
    """Call the supervisor and join them to a connected call: ``listen`` hears both sides,
    ``whisper`` also speaks to the agent only, ``barge`` speaks to both."""
    engine = _engine(request)
    if engine.sip is None:
        raise HTTPException(409, "monitoring needs the SIP voice layer (sip.enabled)")
    try:
        leg = await engine.sip.monitor(call_id, body.supervisor, body.mode)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    await audit(request, f"call.{body.mode}", call_id, {"supervisor": body.supervisor})
    return {"call_id": call_id, "mode": body.mode, "supervisor_leg": leg}
