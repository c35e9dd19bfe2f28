"""What the SIP stack reports to the asyncio side: small frozen events, one per happening.

Legs are named by ``leg_id`` (pjsua's call id, unique while the leg lives); playbacks and
recordings by ids the stack hands out.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IncomingCall:
    """A new INVITE that passed admission; answer or reject it with :class:`SipStack`."""

    leg_id: int
    caller: str  # the user part of From (a number or a name)
    caller_uri: str
    dialed: str  # the user part of the request URI
    source: str  # ip:port the INVITE came from
    sip_call_id: str
    keys_in_audio: bool = False  # its SDP offers no telephone-event: listen for tones
    handover: str = ""  # X-CC-Handover: a caller another node hands to this one (the leader)


@dataclass(frozen=True)
class LegRinging:
    leg_id: int


@dataclass(frozen=True)
class LegAnswered:
    """The leg is confirmed (200 OK / ACK): media can flow."""

    leg_id: int


@dataclass(frozen=True)
class LegMediaReady:
    leg_id: int


@dataclass(frozen=True)
class LegEnded:
    leg_id: int
    code: int  # the last SIP status (e.g. 200 after a BYE, 486 busy, 408 no answer)
    reason: str
    result: str = ""  # X-CC-Result of the BYE that ended it (the ACD leader's handover result)


@dataclass(frozen=True)
class DtmfReceived:
    leg_id: int
    digit: str
    method: str  # "rfc4733", "sip-info" or "inband" (tones heard in the audio)


@dataclass(frozen=True)
class PlaybackFinished:
    playback_id: int
    leg_id: int


@dataclass(frozen=True)
class CallRejected:
    """An INVITE turned away before anything was answered (reported for logs and metrics)."""

    source: str
    dialed: str
    code: int
    reason: str


@dataclass(frozen=True)
class LegPlaced:
    """An outgoing leg was placed under ``leg_id``. pjsua reuses call ids: events still
    unclaimed for that id (a refused caller's LegEnded) were an earlier leg's, not this one's."""

    leg_id: int


SipEvent = (
    IncomingCall
    | LegPlaced
    | LegRinging
    | LegAnswered
    | LegMediaReady
    | LegEnded
    | DtmfReceived
    | PlaybackFinished
    | CallRejected
)
