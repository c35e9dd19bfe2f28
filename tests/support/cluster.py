"""Engine nodes as separate processes (one pjsua2 per process), for the cluster tests."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from callcenter.config import Settings, load_settings
from tests.support.brokers import free_port
from tests.support.sip import free_udp_port

SECRET = "cluster-test-secret"


#: Each node's media ports (sip.rtp_port), apart: two stacks on one host.
RTP_PORTS = {"a": 24000, "b": 26000, "c": 28000}


def cluster_settings(tmp_path: Path, db_url: str, node: str, numbers: dict[str, str],
                     gateway: str | None = None, **extra: object) -> Settings:
    """An engine node's settings: SIP on a free port, the cluster on, ``numbers`` answered,
    calls out through ``gateway`` (host:port) when given."""
    return load_settings(
        node=node,
        database={"url": db_url},
        http={"port": 0},
        var_dir=tmp_path / node / "var",
        recordings_dir=tmp_path / node / "recordings",
        sip={"port": free_udp_port(), "max_calls": 32, "numbers": numbers,
             "rtp_port": RTP_PORTS.get(node, 30000),
             "prompt_cache_dir": str(tmp_path / "prompts"), "presence_interval_s": 0,
             "outbound_gateway": gateway},
        backoffice={"smtp_port": free_port()},
        cluster={"enabled": True, "secret": SECRET, "lease_s": 6.0},
        **extra,
    )


class NodeProcess:
    """``callcenter serve`` in its own process, with the settings of :func:`cluster_settings`
    passed as environment variables; its log in ``<tmp>/<node>.log``."""

    def __init__(self, tmp_path: Path, settings: Settings) -> None:
        self.settings = settings
        self.log = tmp_path / f"{settings.node}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.http_port: int | None = None

    def env(self) -> dict[str, str]:
        s = self.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
        secret = s.cluster.secret.get_secret_value() if s.cluster.secret else ""
        env.update(
            CALLCENTER_NODE=str(s.node),
            CALLCENTER_DATABASE__URL=s.database.url,
            CALLCENTER_VAR_DIR=str(s.var_dir),
            CALLCENTER_RECORDINGS_DIR=str(s.recordings_dir),
            CALLCENTER_SIP__PORT=str(s.sip.port),
            CALLCENTER_SIP__RTP_PORT=str(s.sip.rtp_port),
            CALLCENTER_SIP__NUMBERS=json.dumps(s.sip.numbers),
            CALLCENTER_SIP__PROMPT_CACHE_DIR=str(s.sip.prompt_cache_dir),
            CALLCENTER_SIP__PRESENCE_INTERVAL_S="0",
            CALLCENTER_BACKOFFICE__SMTP_PORT=str(s.backoffice.smtp_port),
            CALLCENTER_CLUSTER__ENABLED="true",
            CALLCENTER_CLUSTER__SECRET=secret,
            CALLCENTER_CLUSTER__LEASE_S=str(s.cluster.lease_s),
            CALLCENTER_SIP__ENABLED=str(s.sip.enabled).lower(),
            CALLCENTER_HTTP__AUTH=s.http.auth,
        )
        if s.sip.outbound_gateway:
            env["CALLCENTER_SIP__OUTBOUND_GATEWAY"] = s.sip.outbound_gateway
        if s.twilio.enabled:
            t = s.twilio
            env.update(
                CALLCENTER_TWILIO__ENABLED="true",
                CALLCENTER_TWILIO__ACCOUNT_SID=t.account_sid,
                CALLCENTER_TWILIO__AUTH_TOKEN=t.auth_token.get_secret_value(),
                CALLCENTER_TWILIO__PUBLIC_BASE_URL=t.public_base_url,
                CALLCENTER_TWILIO__API_BASE_URL=t.api_base_url,
                CALLCENTER_TWILIO__NUMBERS=json.dumps(t.numbers),
            )
        if s.http.session_secret is not None:
            env["CALLCENTER_HTTP__SESSION_SECRET"] = s.http.session_secret.get_secret_value()
        return env

    async def start(self, timeout: float = 40) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "callcenter.cli", "serve", "--port", "0"],
                env=self.env(), stdout=out, stderr=subprocess.STDOUT,
                cwd=self.log.parent,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")
            if m := re.search(r"HTTP listening on http://127\.0\.0\.1:(\d+)", text):
                self.http_port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                break
            await asyncio.sleep(0.1)
        self.kill()
        raise AssertionError(f"node {self.settings.node} did not start:\n{self.text()}")

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as an operator stops a node; its exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if self.proc.poll() is None:
            self.kill()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
