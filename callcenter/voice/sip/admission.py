"""Who may place a call into the engine: trusted sources, known numbers, a rate per source.

Pure and fast (it runs on the pj thread for every INVITE, before anything is answered):
``Admission.check(source_ip, dialed, now) -> (status_code, reason)``; 0 means admitted.
While ``overloaded`` holds a reason every new call gets 503 (see overload.py).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

FORBIDDEN = 403
NOT_FOUND = 404
BUSY = 503


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class Admission:
    """``trusted``: CIDRs allowed to send INVITEs (empty: anyone); ``numbers``: the dialed
    numbers the engine answers; ``rate``/``burst``: INVITEs per second per source IP."""

    trusted: tuple[str, ...] = ()
    numbers: frozenset[str] = frozenset()
    rate: float = 50.0
    burst: float = 100.0
    #: Why new calls are refused for now ("" when they are not): set by the SIP layer's
    #: overload watch (callcenter/voice/sip/overload.py), read here on the pj thread.
    overloaded: str = ""
    shed: int = 0  # calls refused while overloaded (the watch reports and resets it)
    _nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = field(init=False)
    _buckets: dict[str, _Bucket] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        try:
            self._nets = [ipaddress.ip_network(c, strict=False) for c in self.trusted]
        except ValueError as exc:
            raise ValueError(f"sip.trusted_sources: {exc}: write CIDRs like 10.0.0.0/8") from None

    def with_numbers(self, numbers: Iterable[str]) -> Admission:
        return Admission(self.trusted, frozenset(numbers), self.rate, self.burst)

    def check(self, source: str, dialed: str, now: float) -> tuple[int, str]:
        host = source.rsplit(":", 1)[0].strip("[]")
        if self._nets:
            try:
                ip = ipaddress.ip_address(host)
            except ValueError:
                return FORBIDDEN, f"source {source!r} is not an IP address"
            if not any(ip in net for net in self._nets):
                return FORBIDDEN, f"source {host} is not a trusted source"
        if self.overloaded:
            self.shed += 1
            return BUSY, self.overloaded
        if not self._take(host, now):
            return BUSY, f"source {host} exceeds {self.rate:g} calls/s"
        if dialed not in self.numbers:
            return NOT_FOUND, f"number {dialed!r} is not configured"
        return 0, "admitted"

    def _take(self, host: str, now: float) -> bool:
        bucket = self._buckets.get(host)
        if bucket is None:
            if len(self._buckets) > 10_000:  # forget idle sources, bounded memory
                self._buckets = {h: b for h, b in self._buckets.items() if now - b.at < 60}
            bucket = self._buckets[host] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True
