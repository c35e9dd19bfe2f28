"""REST API for the do-not-call lists: import a file, check, add and remove a number, counts.

A list is named by ``?list=internal|national|campaign`` (``internal`` by default) and, for a
campaign's list, ``&campaign=NAME``. Numbers in the path may be E.164 (``+12125550123``) or
national (read in ``?region=``, US by default). An invalid number, list or campaign pairing is
422 with what to change, an unknown campaign 404, a number not on the list 404.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Query, Request, Response
from sqlalchemy.orm import Session

from callcenter.errors import NotFound
from callcenter.web.auth import audit, import_figures
from callcenter.web.campaigns import DELIMITER, ENCODING, run_in_db
from dialer.attempts import (
    add_dnc,
    dnc_counts,
    dnc_entries,
    dnc_holders,
    dnc_list,
    dnc_number,
    import_dnc,
    remove_dnc,
)
from dialer.campaigns import CampaignRepository
from dialer.leads import CsvFormat, parse_numbers_bytes

router = APIRouter(prefix="/api/dnc", tags=["do-not-call"])

LIST = Query("internal", alias="list", description="internal, national or campaign.")
CAMPAIGN = Query(None, description="The campaign, with list=campaign.")
REGION = Query(None, description="Region of national numbers (default: the campaign's, or US).")


def _region(s: Session, region: str | None, campaign: str | None) -> str:
    if region:
        return region
    return CampaignRepository(s).get(campaign).region if campaign else "US"


@router.get("", summary="How many numbers each do-not-call list holds")
async def counts(request: Request) -> dict[str, Any]:
    def work(s: Session) -> dict[str, Any]:
        lists = [{"list": t.scope, "campaign": t.campaign, "count": n} for t, n in dnc_counts(s)]
        return {"lists": lists, "total": sum(item["count"] for item in lists)}

    return await run_in_db(request, work)


@router.get("/lists/{scope}", summary="The numbers of one list, a page at a time")
async def numbers(
    request: Request,
    scope: str,
    campaign: str | None = CAMPAIGN,
    limit: int = Query(100, ge=1, le=10_000),
    offset: int = Query(0, ge=0),
) -> list[dict[str, Any]]:
    return await run_in_db(
        request,
        lambda s: [
            r.as_dict() for r in dnc_entries(s, dnc_list(s, scope, campaign), limit, offset)
        ],
    )


@router.post("/import", summary="Import a CSV (with a phone column) or one number per line")
async def import_numbers(
    request: Request,
    scope: str = LIST,
    campaign: str | None = CAMPAIGN,
    column: str = Query("phone", description="Column of the phone number (CSV)."),
    region: str | None = REGION,
    reason: str | None = Query(None, description="Why; stored with each number."),
    encoding: str | None = ENCODING,
    delimiter: str | None = DELIMITER,
) -> dict[str, Any]:
    """The body is the file itself (``Content-Type: text/csv`` or ``text/plain``). Bad rows
    come back with their line numbers; numbers already on the list are counted, not doubled."""
    if request.headers.get("content-type", "").startswith("multipart/"):
        raise HTTPException(
            415,
            "send the file itself as the request body (Content-Type: text/csv), e.g. "
            "curl --data-binary @dnc.csv -H 'Content-Type: text/csv' ...",
        )
    body = await request.body()
    now = datetime.now(UTC)

    def work(s: Session) -> dict[str, Any]:
        target = dnc_list(s, scope, campaign)
        parsed = parse_numbers_bytes(
            body, column, _region(s, region, campaign), CsvFormat(encoding, delimiter)
        )
        report = import_dnc(s, target, parsed, reason or "imported through the API", now)
        return {
            "list": target.scope,
            "campaign": target.campaign,
            "rows": report.rows,
            "added": report.added,
            "already": report.already,
            "duplicates": report.duplicates,
            "bad_rows": [{"line": b.line, "reason": b.reason} for b in report.bad_rows],
        }

    done = await run_in_db(request, work)
    await audit(request, "dnc.import", _list_name(done),
                import_figures(done, "rows", "added", "already", "bad_rows"))
    return done


def _list_name(out: dict[str, Any]) -> str:
    return f"{out['list']}:{out['campaign']}" if out["campaign"] else str(out["list"])


@router.get("/{number}", summary="Which lists hold a number")
async def check(request: Request, number: str, region: str = "US") -> dict[str, Any]:
    def work(s: Session) -> dict[str, Any]:
        e164 = dnc_number(number, region)
        rows = [r.as_dict() for r in dnc_holders(s, e164)]
        return {"number": e164, "listed": bool(rows), "lists": rows}

    return await run_in_db(request, work)


@router.put("/{number}", summary="Put a number on a list")
async def put(
    request: Request,
    response: Response,
    number: str,
    scope: str = LIST,
    campaign: str | None = CAMPAIGN,
    region: str | None = REGION,
    reason: str = Body("added through the API", embed=True),
) -> dict[str, Any]:
    """201 when the number was added, 200 when it was on the list already."""
    now = datetime.now(UTC)

    def work(s: Session) -> dict[str, Any]:
        target = dnc_list(s, scope, campaign)
        e164 = dnc_number(number, _region(s, region, campaign))
        added = add_dnc(s, e164, reason, target.scope, target.campaign_id, now)
        return {"number": e164, "list": target.scope, "campaign": target.campaign, "added": added}

    out = await run_in_db(request, work)
    response.status_code = 201 if out["added"] else 200
    if out["added"]:
        await audit(request, "dnc.add", out["number"], {"list": _list_name(out), "reason": reason})
    return out


@router.delete("/{number}", summary="Take a number off a list")
async def remove(
    request: Request,
    number: str,
    scope: str = LIST,
    campaign: str | None = CAMPAIGN,
    region: str | None = REGION,
) -> dict[str, Any]:
    def work(s: Session) -> dict[str, Any]:
        target = dnc_list(s, scope, campaign)
        e164 = dnc_number(number, _region(s, region, campaign))
        if not remove_dnc(s, e164, target):
            raise NotFound(
                f"{e164} is not on the {target} list: GET /api/dnc/{e164} shows the lists "
                "that hold it"
            )
        return {"number": e164, "list": target.scope, "campaign": target.campaign, "removed": True}

    out = await run_in_db(request, work)
    await audit(request, "dnc.remove", out["number"], {"list": _list_name(out)})
    return out
