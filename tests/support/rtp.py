"""An RTP sink: a UDP socket that counts packets and measures the audio it receives (PCMU)."""

from __future__ import annotations

import asyncio
import socket

import numpy as np


def ulaw_decode(data: bytes) -> np.ndarray:
    u = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = ((mantissa << 3) + 0x84) << exponent
    return np.where(sign, 0x84 - magnitude, magnitude - 0x84).astype(np.int16)


class RtpSink(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.packets = 0
        self.samples: list[np.ndarray] = []

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) > 12 and data[1] & 0x7F == 0:  # PCMU payload after the 12-byte header
            self.packets += 1
            self.samples.append(ulaw_decode(data[12:]))

    def rms(self) -> float:
        if not self.samples:
            return 0.0
        audio = np.concatenate(self.samples).astype(np.float64)
        return float(np.sqrt(np.mean(audio**2)))


async def open_sink() -> tuple[RtpSink, int, asyncio.DatagramTransport]:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    transport, sink = await loop.create_datagram_endpoint(RtpSink, sock=sock)
    return sink, int(sock.getsockname()[1]), transport
