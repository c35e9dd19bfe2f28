"""The ``callcenter`` command as a user runs it: a real process, real signals, real HTTP."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from callcenter.store.migrate import head_revision
from tests.support.brokers import free_port
from tests.support.sip import free_udp_port

CLI = [sys.executable, "-m", "callcenter.cli"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    env.update(
        CALLCENTER_DATABASE__URL=f"sqlite:///{tmp_path}/var/cc.db",
        CALLCENTER_VAR_DIR=str(tmp_path / "var"),
        CALLCENTER_RECORDINGS_DIR=str(tmp_path / "recordings"),
        CALLCENTER_SIP__PORT=str(free_udp_port()),
        CALLCENTER_BACKOFFICE__SMTP_PORT=str(free_port()),
        CALLCENTER_SIP__PROMPT_CACHE_DIR=str(tmp_path / "var" / "prompts"),
    )
    env.update(extra)
    return env


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env=_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )


def _start_serve(tmp_path: Path, **env: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", "0"],
        env=_env(tmp_path, **env),
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    lines = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        if m := re.search(r"HTTP listening on http://127\.0\.0\.1:(\d+)", line):
            return proc, int(m.group(1))
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError("serve did not start:\n" + "".join(lines))


@pytest.mark.parametrize("bus", ["inprocess", "mqtt"])
def test_serve_answers_healthz_and_stops_cleanly_on_sigterm(tmp_path: Path, bus: str) -> None:
    proc, port = _start_serve(tmp_path, CALLCENTER_BUS__KIND=bus)
    try:
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert health.status_code == 200
        body = health.json()
        assert body["status"] == "ok"
        assert body["checks"]["database"]["ok"] and body["checks"]["bus"]["kind"] == bus
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert "callcenter_bus_published_total" in metrics
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).json()["paths"]
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(15)
    assert rc == 0
    err = proc.stderr.read() if proc.stderr else ""
    assert "engine stopped" in err and "SIP stack stopped" in err
    assert (tmp_path / "var" / "cc.db").exists()


def test_sigint_stops_too(tmp_path: Path) -> None:
    proc, _ = _start_serve(tmp_path)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(15) == 0


def test_healthz_is_degraded_when_the_broker_goes_away(tmp_path: Path) -> None:
    from tests.support.brokers import Broker

    broker = Broker(tmp_path)
    broker.start()
    proc, port = _start_serve(
        tmp_path,
        CALLCENTER_BUS__KIND="mqtt",
        CALLCENTER_BUS__MQTT__PORT=str(broker.port),
        CALLCENTER_BUS__RECONNECT_MIN_S="0.1",
    )
    try:
        broker.stop()
        time.sleep(0.5)
        body = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
        assert body["status"] == "degraded" and not body["checks"]["bus"]["ok"]
        broker.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            body = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
            if body["status"] == "ok":
                break
            time.sleep(0.2)
        assert body["status"] == "ok", body
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        broker.stop()


@pytest.mark.parametrize(
    ("env", "code", "fragment"),
    [
        (
            {"CALLCENTER_DATABASE__URL": "postgresql+psycopg://nobody@127.0.0.1:1/x"},
            3,
            "cannot connect to the database",
        ),
        (
            {"CALLCENTER_BUS__KIND": "mqtt", "CALLCENTER_BUS__MQTT__PORT": "1"},
            4,
            "cannot reach the MQTT broker",
        ),
        ({"CALLCENTER_HTTP__PORT": "http"}, 2, "invalid configuration http.port='http'"),
    ],
)
def test_bad_start_up_is_one_line_and_non_zero(
    tmp_path: Path, env: dict[str, str], code: int, fragment: str
) -> None:
    result = run(tmp_path, "serve", **env)
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1 and fragment in lines[0]
    assert "Traceback" not in result.stderr


def test_malformed_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "cc.toml"
    cfg.write_text("[http]\nport = = 1\n")
    result = run(tmp_path, "--config", str(cfg), "config", "show")
    assert result.returncode == 2
    assert "not valid TOML" in result.stderr and "Traceback" not in result.stderr


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "config",
        "show",
        CALLCENTER_DATABASE__URL="postgresql+psycopg://cc:pw1234@127.0.0.1/cc",
        CALLCENTER_BUS__MQTT__PASSWORD="topsecret",
    )
    assert result.returncode == 0, result.stderr
    assert "pw1234" not in result.stdout and "topsecret" not in result.stdout
    assert "***" in result.stdout


def test_agents_and_queues_commands(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade").returncode == 0
    r = run(tmp_path, "agents", "add", "1001", "--name", "Ann", "--skill", "english:7")
    assert r.returncode == 0, r.stderr
    assert run(tmp_path, "agents", "add", "1001", "--name", "Ann").returncode == 6
    added = run(
        tmp_path, "queues", "add", "presales", "--strategy", "round_robin", "--ring-timeout", "8"
    )
    assert added.returncode == 0, added.stderr
    bad = run(tmp_path, "queues", "add", "x", "--strategy", "nope")
    assert bad.returncode == 2 and "allowed" in bad.stderr
    assert (
        run(tmp_path, "queues", "add-member", "presales", "1001", "--penalty", "1").returncode == 0
    )
    listing = run(tmp_path, "queues", "list").stdout
    assert "presales" in listing and "1001(p1)" in listing and "billing" in listing
    assert "ring 8s  members 1001(p1)" in listing
    assert "english:7" in run(tmp_path, "agents", "list").stdout
    assert run(tmp_path, "agents", "remove", "1001").returncode == 0
    missing = run(tmp_path, "agents", "remove", "1001")
    assert missing.returncode == 5 and "agents list" in missing.stderr


def test_db_upgrade_downgrade_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    for args in (["db", "upgrade"], ["db", "downgrade", "base"], ["db", "upgrade"]):
        r = run(tmp_path, *args, CALLCENTER_DATABASE__URL=pg_url)
        assert r.returncode == 0, r.stderr
    assert (
        f"database: {head_revision()}"
        in run(tmp_path, "db", "current", CALLCENTER_DATABASE__URL=pg_url).stdout
    )


def test_every_command_has_help(tmp_path: Path) -> None:
    for args in (
        [],
        ["serve"],
        ["db"],
        ["db", "upgrade"],
        ["agents"],
        ["agents", "add"],
        ["queues"],
        ["queues", "add"],
        ["config", "show"],
        ["bus", "catalogue"],
    ):
        r = run(tmp_path, *args, "--help")
        assert r.returncode == 0 and "Usage" in r.stdout, (args, r.stderr)
