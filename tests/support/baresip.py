"""baresip as a real agent softphone: auto-answers, sends a tone, dumps what it hears to WAV.
Over UDP by default; given a PEM certificate (with its key) it also listens on TLS, at its SIP
port + 1, and :attr:`Baresip.uri` is its TLS address."""

from __future__ import annotations

import asyncio
import socket
import wave
from pathlib import Path

import numpy as np

from tests.support.audio import tone, write_wav
from tests.support.sip import free_udp_port


class Baresip:
    def __init__(self, workdir: Path, name: str = "baresip", tls_pem: Path | None = None) -> None:
        self.dir = workdir / name
        self.snd = self.dir / "snd"
        self.snd.mkdir(parents=True, exist_ok=True)
        self.port = _port_with_next_free()
        write_wav(self.dir / "tone.wav", tone(30, 600))
        (self.dir / "config").write_text(
            f"sip_listen\t127.0.0.1:{self.port}\n"
            + (f"sip_certificate\t{tls_pem}\n" if tls_pem else "") +
            "audio_player\taubridge,x\n"
            f"audio_source\taufile,{self.dir / 'tone.wav'}\n"
            "audio_alert\taubridge,x\n"
            "module_path\t/usr/lib/baresip/modules\n"
            "module\tg711.so\nmodule\taufile.so\nmodule\taubridge.so\nmodule\tsndfile.so\n"
            "module_app\taccount.so\nmodule_app\tmenu.so\n"
            f"snd_path\t{self.snd}\n"
        )
        (self.dir / "accounts").write_text(
            f"<sip:agent@127.0.0.1:{self.port}>;regint=0;answermode=auto;audio_codecs=PCMU\n"
        )
        self.uri = (f"sip:agent@127.0.0.1:{self.port + 1};transport=tls" if tls_pem
                    else f"sip:agent@127.0.0.1:{self.port}")
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            "baresip",
            "-f",
            str(self.dir),
            stdin=asyncio.subprocess.PIPE,
            stdout=(self.dir / "out.log").open("wb"),
            stderr=asyncio.subprocess.STDOUT,
        )
        for _ in range(50):
            if "baresip is ready" in (self.dir / "out.log").read_text(errors="replace"):
                return
            await asyncio.sleep(0.1)
        raise RuntimeError("baresip did not start: " + (self.dir / "out.log").read_text())

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()

    def heard_rms(self) -> float:
        """Loudness of what the softphone decoded (the caller's voice) across its dumps."""
        levels = []
        for path in self.snd.glob("*dec*.wav"):
            with wave.open(str(path)) as w:
                audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
            if audio.size:
                levels.append(float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))))
        return max(levels, default=0.0)


def _port_with_next_free() -> int:
    """A free UDP port whose TCP port and the TCP port above are free too (baresip listens on
    UDP and TCP at its port and on TLS one above)."""
    for _ in range(100):
        port = free_udp_port()
        try:
            for p in (port, port + 1):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", p))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for baresip on 127.0.0.1")
