"""Refusing an incoming call with a final response: reason phrase, and Retry-After on 503."""

from __future__ import annotations

from typing import Any

REASONS = {403: "Forbidden", 404: "Not Found", 503: "Service Unavailable"}
RETRY_AFTER_S = 2  # what a refused caller's proxy is told to wait before trying again


def refuse(pj: Any, leg: Any, code: int) -> None:
    """Send ``code`` as the final response to ``leg``'s INVITE (on the pj thread).

    A 503 carries ``Retry-After``: busy or overloaded, try again shortly (without it a 503
    tells a proxy the server is down). It goes out as a final *answer*: inside the incoming
    call callback pjsua defers a hangup and drops its headers, a deferred answer keeps them.
    """
    op = pj.CallOpParam()
    op.statusCode = code
    op.reason = REASONS.get(code, "")
    if code != 503:
        leg.hangup(op)
        return
    retry = pj.SipHeader()
    retry.hName, retry.hValue = "Retry-After", str(RETRY_AFTER_S)
    headers = op.txOption.headers
    headers.append(retry)
    op.txOption.headers = headers
    leg.answer(op)
