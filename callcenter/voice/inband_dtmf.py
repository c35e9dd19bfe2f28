"""Keys heard in the audio: DTMF tones detected in a call's samples (numpy, pure).

Most phones send keys as RFC 4733 events or SIP INFO, which pjsua reports. Some gateways and
old phones offer no ``telephone-event`` in their SDP and play the tones in the voice stream;
Asterisk's ``dtmf_mode=auto`` listens to the audio then, and so does the SIP layer
(:mod:`callcenter.voice.sip.inbound`) with :class:`DtmfDetector`.

The detector follows the classic receiver design (ITU-T Q.24's limits): blocks of 25.6 ms
(205 samples at 8 kHz), the power at the eight DTMF frequencies by a DFT at exactly those
frequencies (Goertzel's sums, vectorised), and a key when, in a block loud enough,

- the strongest row and the strongest column tone carry most of the block's energy (speech
  and music spread theirs: this is what keeps them from "talking off" keys),
- every other row and column tone is at least 8 dB under the strongest of its group,
- the two differ by at most 8 dB (twist).

A key is reported once when two blocks in a row agree (at least about 50 ms of tone; phones
send 70-100 ms), and again only after a block without it (the pause between two presses).
"""

from __future__ import annotations

import numpy as np

ROWS = (697.0, 770.0, 852.0, 941.0)
COLS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYS = ("123A", "456B", "789C", "*0#D")
BLOCK_S = 205 / 8000  # 25.6 ms
MIN_RMS = 60.0  # about -55 dBFS on the int16 scale: quieter is no key
MIN_SHARE = 0.7  # the two tones' share of the block's energy
PEAK_DB = 8.0  # how far under the strongest of its group every other tone must be
TWIST_DB = 8.0  # how far the row and column tones may differ


class DtmfDetector:
    """Feed 16-bit samples at ``rate`` as they arrive; :meth:`feed` returns the keys heard."""

    def __init__(self, rate: int = 8000) -> None:
        self.rate = rate
        self.block = max(1, round(rate * BLOCK_S))
        n = np.arange(self.block)
        freqs = np.array(ROWS + COLS)
        self._basis = np.exp(-2j * np.pi * np.outer(freqs, n) / rate)  # 8 x block
        self._rest = np.zeros(0, dtype=np.float64)
        self._candidate: str | None = None  # the key of the last block
        self._reported: str | None = None  # the key reported and still sounding

    def feed(self, samples: np.ndarray) -> str:
        """The keys completed in ``samples`` (with what earlier calls left over), in order."""
        data = np.concatenate([self._rest, samples.astype(np.float64)])
        whole = len(data) // self.block
        self._rest = data[whole * self.block:]
        keys = []
        for block in data[: whole * self.block].reshape(whole, self.block):
            key = self.key_in(block)
            if key != self._reported:  # a pause or another key ends the one reported
                self._reported = None
            if key is not None and key == self._candidate and self._reported is None:
                keys.append(key)
                self._reported = key
            self._candidate = key
        return "".join(keys)

    def key_in(self, block: np.ndarray) -> str | None:
        """The key one block holds, if any."""
        energy = float(np.dot(block, block))
        if energy <= 0 or np.sqrt(energy / len(block)) < MIN_RMS:
            return None
        power = np.abs(self._basis @ block) ** 2 * (2.0 / len(block))  # ~ tone energy
        rows, cols = power[:4], power[4:]
        r, c = int(np.argmax(rows)), int(np.argmax(cols))
        if (rows[r] + cols[c]) < MIN_SHARE * energy:
            return None
        peak = 10 ** (-PEAK_DB / 10)
        if (np.any(np.delete(rows, r) > rows[r] * peak)
                or np.any(np.delete(cols, c) > cols[c] * peak)):
            return None
        twist = 10 ** (TWIST_DB / 10)
        if not (1 / twist <= cols[c] / rows[r] <= twist):
            return None
        return KEYS[r][c]
