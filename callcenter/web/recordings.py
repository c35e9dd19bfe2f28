"""REST API for recordings' compliance: list them, put one on legal hold, release it.

A recording on hold is never deleted by the retention policy (docs/recordings.md). Hold and
release need a reason; both are written to the recording's audit trail (who: the logged-in
user) and to the audit log. An unknown recording is 404, a deleted one 409, no reason 422.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Body, HTTPException, Query, Request
from sqlalchemy.orm import Session

from callcenter.errors import NotFound
from callcenter.recordings.purge import RecordingStateError, as_dict, recordings, set_hold
from callcenter.store.recordings import Recording
from callcenter.web.auth import acting_as, audit
from callcenter.web.campaigns import _db

router = APIRouter(prefix="/api/recordings", tags=["recordings"])
T = TypeVar("T")


_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (NotFound, 404), (RecordingStateError, 409), (ValueError, 422))


async def _run(request: Request, work: Callable[[Session], T]) -> T:
    """Run ``work`` in one transaction; what it refuses becomes 404, 409 or 422."""
    try:
        return await _db(request).run(work)
    except (NotFound, RecordingStateError, ValueError) as exc:
        status = next(code for kind, code in _STATUS if isinstance(exc, kind))
        raise HTTPException(status, str(exc)) from None


@router.get("", summary="Recordings, newest first: of one call, or those on legal hold")
async def list_recordings(
    request: Request,
    call: str | None = Query(None, description="Only this call's recordings."),
    held: bool = Query(False, description="Only recordings on legal hold."),
    limit: int = Query(100, ge=1, le=10_000),
) -> list[dict[str, Any]]:
    return await _run(request, lambda s: [
        as_dict(r) for r in recordings(s, call_id=call, held=held, limit=limit)])


async def _hold(request: Request, recording_id: int, held: bool, reason: str) -> dict[str, Any]:
    by = acting_as(request, "api")

    def work(s: Session) -> dict[str, Any]:
        changed = set_hold(s, recording_id, held, by, reason)
        rec = s.get(Recording, recording_id)
        assert rec is not None
        return {**as_dict(rec), "changed": changed}

    out = await _run(request, work)
    if out["changed"]:
        await audit(request, "recording.hold" if held else "recording.release",
                    str(recording_id), {"call": out["call_id"], "reason": reason})
    return out


@router.post("/{recording_id}/hold", summary="Put a recording on legal hold (never purged)")
async def hold(request: Request, recording_id: int,
               reason: str = Body(..., embed=True, min_length=1)) -> dict[str, Any]:
    return await _hold(request, recording_id, True, reason)


@router.post("/{recording_id}/release", summary="Take a recording off legal hold")
async def release(request: Request, recording_id: int,
                  reason: str = Body(..., embed=True, min_length=1)) -> dict[str, Any]:
    return await _hold(request, recording_id, False, reason)
