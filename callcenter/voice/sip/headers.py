"""Headers the engine adds to what it sends and reads from what it receives (pjsua2 types).

The nodes of a cluster talk through two of them (:mod:`callcenter.cluster.handover`):
``X-CC-Handover`` on the INVITE that hands a caller to the ACD leader, ``X-CC-Result`` on the
leader's BYE that hands the caller back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callcenter.cluster.handover import HEADER as HANDOVER_HEADER
from callcenter.cluster.handover import RESULT_HEADER
from callcenter.voice.sip.uris import header_value, wire_text

__all__ = ["HANDOVER_HEADER", "RESULT_HEADER", "add_headers", "bye_result"]


def add_headers(pj: Any, op: Any, headers: Mapping[str, str] | None) -> None:
    """Put ``headers`` in a CallOpParam's request or response."""
    for name, value in (headers or {}).items():
        hdr = pj.SipHeader()
        hdr.hName, hdr.hValue = name, value
        op.txOption.headers.append(hdr)


def bye_result(pj: Any, event: Any) -> str:
    """The ``X-CC-Result`` of the BYE a leg ended with ("" for any other ending): pjsua2
    hands the received BYE with the DISCONNECTED state's transaction event."""
    try:
        if event.type != pj.PJSIP_EVENT_TSX_STATE:
            return ""
        tsx = event.body.tsxState
        if tsx.type != pj.PJSIP_EVENT_RX_MSG:
            return ""
        whole = wire_text(tsx.src.rdata.wholeMsg)
    except AttributeError:
        return ""
    if not whole.startswith("BYE "):
        return ""
    return header_value(whole, RESULT_HEADER)
