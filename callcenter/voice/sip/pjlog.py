"""pjsua's log lines, made fit for the engine's log: one line each, junk from the wire counted,
and no flood whatever peers send.

pjsip logs at level 1 (an error) much that is a peer's fault, not ours: a request without a
Call-ID, an SDP it cannot parse, a TCP message larger than its buffer. Those lines carry the
whole packet after the first line (60 KB of it for a 60 KB message), and a stream of junk
writes one per packet. :class:`PjLogGate` keeps the first line, calls such lines warnings and
counts them as malformed SIP, and lets at most ``burst`` lines through per ``window_s``; one
line per window says how many it held back. Pure: the time comes in as ``now``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

#: First words of pjsip's last line about a message it refused from a peer (one per message).
MALFORMED = (
    "Error processing packet",  # missing Call-ID/CSeq/Via/From/To, Rx buffer overflow, ...
    "Dropping",  # a syntax error (pjsip's level 2)
    "Bad SDP in incoming",
    "Unknown Content-Type in incoming",
)
#: ... and of the lines that come before it about the same message (not counted again).
PEER_FAULT = (*MALFORMED, "Error parsing")
LEVELS = {0: logging.ERROR, 1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO}


@dataclass
class PjLogGate:
    """Decides what of pjsua's log reaches the engine's log (``take``), and counts junk.
    Lines about peers' junk and pjsua's other warnings have a budget each per window, so a
    flood of junk never hides a warning about something else."""

    burst: int = 20  # lines of each kind let through per window
    window_s: float = 10.0
    malformed: int = 0  # messages from peers that pjsip refused as malformed, ever
    _window_start: float = field(default=-1e18, init=False)
    _passed: dict[bool, int] = field(default_factory=dict, init=False)  # by "is junk"
    _held: int = field(default=0, init=False)

    def take(self, level: int, msg: str, now: float) -> list[tuple[int, str]]:
        """The (logging level, text) lines to log for one pjsua log entry at ``now``."""
        first = msg.strip().split("\n", 1)[0].rstrip(":").strip()
        out: list[tuple[int, str]] = []
        if now - self._window_start >= self.window_s:
            if self._held:
                out.append((logging.WARNING,
                            f"pjsua: {self._held} more log lines held back in the last "
                            f"{self.window_s:g} s (a flood; malformed SIP so far: "
                            f"{self.malformed})"))
            self._window_start, self._passed, self._held = now, {}, 0
        py_level = LEVELS.get(level, logging.DEBUG)
        junk = first.startswith(PEER_FAULT)
        if junk:
            self.malformed += first.startswith(MALFORMED)
            py_level = logging.WARNING
            first = f"malformed SIP from a peer: {first}"
        if py_level < logging.WARNING:
            out.append((py_level, f"pjsua: {first}"))  # debug detail: never held back
        elif self._passed.get(junk, 0) < self.burst:
            self._passed[junk] = self._passed.get(junk, 0) + 1
            out.append((py_level, f"pjsua: {first}"))
        else:
            self._held += 1
        return out
