"""Hostile SIP for the robustness tests: malformed messages in the spirit of RFC 4475 (the SIP
torture tests; written here, not copied), seeded byte-level mutations of valid requests, and
TCP abuse (idle connections, a byte-at-a-time client, a connection cut mid-message).

Everything is sent from ``HOSTILE_IP``, a loopback address of its own, so the barrage has its
own rate-limit bucket in the engine's admission and the real callers on 127.0.0.1 keep theirs.
"""

from __future__ import annotations

import contextlib
import random
import socket
import time
import uuid
from collections.abc import Iterator

HOSTILE_IP = "127.0.0.2"
JUNK_NUMBER = "999"  # configured nowhere: an INVITE that parses is refused 404 (and counted)

SDP = (
    "v=0\r\no=hostile 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
)


def _headers(method: str, target: str, transport: str, n: str) -> dict[str, str]:
    return {
        "Via": f"SIP/2.0/{transport.upper()} {HOSTILE_IP}:5999;rport;branch=z9hG4bK{n}",
        "Max-Forwards": "70",
        "From": f"<sip:hostile@{HOSTILE_IP}>;tag=f{n}",
        "To": f"<sip:{target}>",
        "Call-ID": f"{n}@hostile",
        "CSeq": f"1 {method}",
        "Contact": f"<sip:hostile@{HOSTILE_IP}:5999;transport={transport}>",
    }


def request(
    engine: str,
    transport: str = "udp",
    method: str = "INVITE",
    user: str = JUNK_NUMBER,
    body: str | None = None,
    drop: tuple[str, ...] = (),
    replace: dict[str, str] | None = None,
    extra: tuple[str, ...] = (),
    length: str | None = None,
    line: str | None = None,
) -> bytes:
    """A request to ``user@engine`` (host:port): valid unless told otherwise. ``drop`` leaves
    headers out, ``replace`` changes their values, ``extra`` adds raw lines, ``length`` is the
    Content-Length written whatever the body, ``line`` replaces the request line."""
    n = uuid.uuid4().hex[:16]
    target = f"{user}@{engine}"
    headers = {**_headers(method, target, transport, n), **(replace or {})}
    if body is None:
        body = SDP if method == "INVITE" else ""
    lines = [line or f"{method} sip:{target} SIP/2.0"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k not in drop]
    lines += list(extra)
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body.encode()) if length is None else length}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode("utf-8", "surrogateescape")


def malformed(engine: str, transport: str, call_id: str) -> list[tuple[str, bytes]]:
    """(name, message) pairs: each breaks one rule of RFC 3261 or carries junk where a value
    belongs. ``call_id`` is the Call-ID of a real call in progress: requests that name it with
    the wrong tags must not touch it."""
    r = lambda **kw: request(engine, transport, **kw)  # noqa: E731 - a short local alias
    sdp = lambda *m: SDP.split("m=audio")[0] + "".join(m)  # noqa: E731
    return [
        ("no Call-ID", r(drop=("Call-ID",))),
        ("no CSeq", r(drop=("CSeq",))),
        ("no Via", r(drop=("Via",))),
        ("no From", r(drop=("From",))),
        ("no To", r(drop=("To",))),
        ("two Call-IDs", r(extra=("Call-ID: second@hostile",))),
        ("two CSeqs", r(extra=("CSeq: 7 INVITE",))),
        ("two Froms", r(extra=(f"From: <sip:other@{HOSTILE_IP}>;tag=x",))),
        ("Content-Length larger than the body", r(length="900")),
        ("Content-Length smaller than the body", r(length="12")),
        ("negative Content-Length", r(length="-5")),
        ("huge Content-Length", r(length="99999999999999999999999")),
        ("non-numeric CSeq", r(replace={"CSeq": "one INVITE"})),
        ("CSeq method not the request's", r(replace={"CSeq": "1 BYE"})),
        ("CSeq number past 2**31", r(replace={"CSeq": "4294967296 INVITE"})),
        ("unknown method", r(method="FROBNICATE", body="")),
        ("request line without URI", r(line="INVITE SIP/2.0")),
        ("SIP version 7", r(line=f"INVITE sip:{JUNK_NUMBER}@{engine} SIP/7.0")),
        ("lower-case method and version", r(line=f"invite sip:200@{engine} sip/2.0")),
        ("not SIP at all", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("only CRLFs", b"\r\n\r\n\r\n\r\n"),
        ("binary junk", bytes(random.Random(7).randrange(256) for _ in range(700))),
        ("300-character SDP connection address (aborts a build with asserts)",
         r(user="200", body=SDP.replace("c=IN IP4 127.0.0.2", "c=IN IP4 " + "a" * 300))),
        ("300-character SDP origin address",
         r(user="200", body=SDP.replace("o=hostile 1 1 IN IP4 127.0.0.2",
                                        "o=hostile 1 1 IN IP4 " + "b" * 300))),
        ("3,000-character Subject", r(extra=("Subject: " + "x" * 3000,))),
        ("1,000-character From display name",
         r(replace={"From": '"' + "n" * 1000 + f'" <sip:hostile@{HOSTILE_IP}>;tag=t'})),
        ("invalid UTF-8 in From",
         r(user="200", replace={"From": f'"\udcff\udcfe\udcc3(" <sip:x@{HOSTILE_IP}>;tag=u'})),
        ("NUL byte in To", r(replace={"To": f"<sip:{JUNK_NUMBER}\x00@{engine}>"})),
        ("NUL byte in the SDP", r(user="200", body=SDP.replace("s=-", "s=\x00\x00"))),
        ("SDP m= line with a word for a port",
         r(user="200", body=sdp("m=audio many RTP/AVP 0\r\n"))),
        ("SDP with an unknown codec only",
         r(user="200", body=sdp("m=audio 40000 RTP/AVP 96\r\na=rtpmap:96 NOPE/8000\r\n"))),
        ("SDP audio on port 0", r(user="200", body=sdp("m=audio 0 RTP/AVP 0\r\n"))),
        ("SDP without any m= line", r(user="200", body=sdp())),
        ("SDP that is not SDP", r(user="200", body="hello, this is not a session\r\n")),
        ("folded headers (legal)",
         r(extra=("Subject: a subject\r\n  folded over\r\n\tthree lines",))),
        ("escaped request URI user", r(line=f"INVITE sip:%39%39%39@{engine} SIP/2.0")),
        ("escaped junk in the URI", r(line=f"INVITE sip:%00%ff%zz@{engine} SIP/2.0")),
        ("200 Via headers",
         r(extra=tuple(f"Via: SIP/2.0/UDP 10.0.{i // 250}.{i % 250}:5060;branch=z9hG4bKv{i}"
                       for i in range(200)))),
        ("a response no transaction waits for",
         ("SIP/2.0 200 OK\r\n" + "\r\n".join(f"{k}: {v}" for k, v in _headers(
             "INVITE", f"1@{engine}", transport, "nobody").items())
          + "\r\nContent-Length: 0\r\n\r\n").encode()),
        ("BYE for no dialog", r(method="BYE", body="", extra=("X: no-dialog",))),
        ("CANCEL for no transaction", r(method="CANCEL", body="")),
        ("ACK out of nowhere", r(method="ACK", body="")),
        ("BYE naming the call in progress with the wrong tags",
         r(method="BYE", body="", replace={"Call-ID": call_id,
                                           "To": f"<sip:200@{engine}>;tag=not-the-engines"})),
        ("re-INVITE naming the call in progress with the wrong tags",
         r(user="200", replace={"Call-ID": call_id, "To": f"<sip:200@{engine}>;tag=nope"})),
    ]


def mutants(base: bytes, count: int, seed: int) -> Iterator[bytes]:
    """``count`` byte-level mutations of ``base``: each flips bits, deletes, duplicates or
    inserts random bytes one to four times. Every mutant first gets its own branch and Call-ID,
    so the engine sees new transactions, not retransmissions of one."""
    rng = random.Random(seed)
    for i in range(count):
        tag = f"{seed:x}m{i:05d}".encode()
        data = bytearray(base.replace(b"z9hG4bK", b"z9hG4bK" + tag).replace(b"@hostile",
                                                                             tag + b"@hostile"))
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data))
            span = rng.randint(1, 16)
            match rng.randrange(4):
                case 0:
                    data[at] ^= 1 << rng.randrange(8)
                case 1:
                    del data[at:at + span]
                case 2:
                    data[at:at] = data[at:at + span]
                case _:
                    data[at:at] = bytes(rng.randrange(256) for _ in range(span))
        yield bytes(data)


def udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOSTILE_IP, 0))
    return sock


def tcp_connect(port: int, timeout: float = 2.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                    source_address=(HOSTILE_IP, 0))
    return sock


def idle_connections(port: int, count: int) -> list[socket.socket]:
    """``count`` TCP connections that send nothing, opened 2 ms apart: pjsip accepts from a
    listen backlog of 5, so connects back to back overflow it and each extra one waits for
    its SYN to be sent again (1 s); paced, 300 open in about a second."""
    socks = []
    for _ in range(count):
        socks.append(tcp_connect(port))
        time.sleep(0.002)
    return socks


def send_udp(port: int, messages: list[bytes], pace_s: float = 0.0) -> int:
    """Send each message as one datagram; returns how many bytes of answers came back."""
    got = 0
    with udp_socket() as sock:
        sock.setblocking(False)
        for msg in messages:
            sock.sendto(msg, ("127.0.0.1", port))
            if pace_s:
                time.sleep(pace_s)
            got += _drain(sock)
    return got


def _drain(sock: socket.socket) -> int:
    got = 0
    while True:
        try:
            got += len(sock.recv(65536))
        except (BlockingIOError, ConnectionRefusedError):
            return got


def send_tcp(port: int, messages: list[bytes], per_connection: int = 10) -> int:
    """Send the messages over TCP, ``per_connection`` on one connection after another; the
    engine may close a connection that carried junk: the rest go on a new one."""
    got = 0
    for start in range(0, len(messages), per_connection):
        try:
            with tcp_connect(port) as sock:
                for msg in messages[start:start + per_connection]:
                    sock.sendall(msg)
                sock.settimeout(0.05)
                with contextlib.suppress(TimeoutError, ConnectionError):
                    got += len(sock.recv(65536))
        except ConnectionError:
            continue
    return got


def options(port: int, transport: str, timeout: float = 3.0) -> str:
    """Send a valid OPTIONS to the engine and return the status line of its answer."""
    msg = request(f"127.0.0.1:{port}", transport, method="OPTIONS", user="ping")
    if transport == "udp":
        with udp_socket() as sock:
            sock.settimeout(timeout)
            sock.sendto(msg, ("127.0.0.1", port))
            return sock.recv(65536).split(b"\r\n", 1)[0].decode()
    with tcp_connect(port, timeout) as sock:
        sock.sendall(msg)
        return sock.recv(65536).split(b"\r\n", 1)[0].decode()


def trickle(port: int, message: bytes, pause_s: float) -> str:
    """A slow client: ``message`` one byte at a time, ``pause_s`` apart; the answer's status."""
    with tcp_connect(port, timeout=5.0) as sock:
        for byte in message:
            sock.sendall(bytes([byte]))
            time.sleep(pause_s)
        return sock.recv(65536).split(b"\r\n", 1)[0].decode()
