"""Listening for keys in a leg's audio: the live audio of :mod:`callcenter.voice.sip.
live_audio` through :class:`~callcenter.voice.inband_dtmf.DtmfDetector`, each key delivered
as a :class:`~callcenter.voice.sip.events.DtmfReceived` (method ``inband``), as pjsua delivers
RFC 4733 and SIP INFO keys. Used for callers and agent lines whose phones offered no
``telephone-event``.

The scratch recording is started afresh every ``rotate_s`` (a nailed-up agent line lasts
hours: one file would grow by 57 MB an hour); a key pressed across the change may be lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

from callcenter.voice.inband_dtmf import DtmfDetector
from callcenter.voice.sip import events as ev
from callcenter.voice.sip.live_audio import Recorder, leg_audio

log = logging.getLogger(__name__)


async def hear_keys(stack: Recorder, leg_id: int, scratch: Path,
                    deliver: Callable[[ev.DtmfReceived], None], poll_s: float = 0.05,
                    rotate_s: float = 600.0) -> None:
    """Listen until cancelled; a failure is logged and ends the listening, not the call."""
    detector: DtmfDetector | None = None
    try:
        while True:
            until = time.monotonic() + rotate_s
            async with leg_audio(stack, leg_id, scratch) as tail:
                while time.monotonic() < until:
                    samples = tail.read()
                    if detector is None and tail.rate is not None:
                        detector = DtmfDetector(tail.rate)
                    if detector is not None and samples.size:
                        for key in detector.feed(samples):
                            deliver(ev.DtmfReceived(leg_id, key, "inband"))
                    await asyncio.sleep(poll_s)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("listening for keys in leg %d's audio failed", leg_id)
