"""Who may place a call into the engine: trusted sources, known numbers, a rate per source.

Pure and fast (it runs on the pj thread for every INVITE, before anything is answered):
``Admission.check(source_ip, dialed, now, handover) -> (status_code, reason)``; 0 means
admitted. While ``overloaded`` holds a reason every new call gets 503 (see overload.py).

A caller another node of the cluster hands to this one (the ACD's leader) is not new load: it
was answered and admitted where it arrived, and refusing it would leave it waiting in a queue
with no agents. So an INVITE whose ``X-CC-Handover`` header ``vouch`` accepts (signed with the
cluster's secret, fresh) passes the overload shedding, the rate per source and the
unacknowledged bound; the trusted sources and the numbers still apply.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

FORBIDDEN = 403
NOT_FOUND = 404
BUSY = 503
#: Calls one untrusted source may have answered and not yet acknowledged (ACK). A peer that
#: never ACKs (junk, a fuzzer, a spoofed source) holds each call slot for pjsip's 32 s ACK
#: timeout: without this bound one source within its rate could fill every slot. A phone's
#: ACK comes within a round trip; the overload watch sheds long before 100 are pending.
UNACKNOWLEDGED_PER_SOURCE = 100


def source_host(source: str) -> str:
    """``1.2.3.4:5060`` or ``[::1]:5060`` -> the IP address alone."""
    return source.rsplit(":", 1)[0].strip("[]")


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
    #: Whether an ``X-CC-Handover`` value is a genuine handover from a node of the cluster
    #: (None: no cluster, every call is new).
    vouch: Callable[[str], bool] | None = None
    _nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = field(init=False)
    _buckets: dict[str, _Bucket] = field(init=False, default_factory=dict)
    _unacknowledged: dict[str, int] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        try:
            self._nets = [ipaddress.ip_network(c, strict=False) for c in self.trusted]
        except ValueError as exc:
            raise ValueError(f"sip.trusted_sources: {exc}: write CIDRs like 10.0.0.0/8") from None

    def with_numbers(self, numbers: Iterable[str]) -> Admission:
        return Admission(self.trusted, frozenset(numbers), self.rate, self.burst,
                         vouch=self.vouch)

    def check(self, source: str, dialed: str, now: float, handover: str = "") -> tuple[int, str]:
        host = source_host(source)
        if self._nets:
            try:
                ip = ipaddress.ip_address(host)
            except ValueError:
                return FORBIDDEN, f"source {source!r} is not an IP address"
            if not any(ip in net for net in self._nets):
                return FORBIDDEN, f"source {host} is not a trusted source"
        if handover and self.vouch is not None and self.vouch(handover):
            return (0, "admitted: handed over") if dialed in self.numbers else (
                NOT_FOUND, f"number {dialed!r} is not configured")
        if self.overloaded:
            self.shed += 1
            return BUSY, self.overloaded
        if not self._take(host, now):
            return BUSY, f"source {host} exceeds {self.rate:g} calls/s"
        if not self._nets and self._unacknowledged.get(host, 0) >= UNACKNOWLEDGED_PER_SOURCE:
            return BUSY, (f"source {host} has {UNACKNOWLEDGED_PER_SOURCE} answered calls it "
                          "has not acknowledged (no ACK)")
        if dialed not in self.numbers:
            return NOT_FOUND, f"number {dialed!r} is not configured"
        return 0, "admitted"

    def answering(self, host: str) -> None:
        """An admitted call from ``host`` is being answered: pending until :meth:`settled`."""
        self._unacknowledged[host] = self._unacknowledged.get(host, 0) + 1

    def settled(self, host: str) -> None:
        """That call got its ACK, or ended."""
        left = self._unacknowledged.get(host, 0) - 1
        if left > 0:
            self._unacknowledged[host] = left
        else:
            self._unacknowledged.pop(host, None)

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
