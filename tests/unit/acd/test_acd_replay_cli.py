"""Replay of an event log, and the two CLI commands run through CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from callcenter.acd import Strategy
from callcenter.acd.replay import ReplayError, read_log, replay
from callcenter.cli.acd import app as acd_app
from callcenter.cli.staffing import staffing


def write_log(path: Path) -> Path:
    lines = [
        {
            "type": "Config",
            "queues": [{"name": "sales", "sl_threshold_s": 20}],
            "agents": [
                {"agent_id": "fast", "queues": {"sales": 0}},
                {"agent_id": "slow", "queues": {"sales": 0}},
            ],
        },
        {"t": 0, "type": "AgentLoggedIn", "agent_id": "fast"},
        {"t": 0, "type": "AgentLoggedIn", "agent_id": "slow"},
    ]
    for i in range(12):
        lines.append(
            {
                "t": 10 + 5 * i,
                "type": "TaskArrived",
                "task_id": f"c{i}",
                "queue": "sales",
                "handle_s": 40,
            }
        )
    lines.append({"t": 45, "type": "TaskAbandoned", "task_id": "c5"})
    # Recorded routing outcomes are not replayed, only used for handle times:
    lines.append({"t": 12, "type": "OfferAccepted", "task_id": "c0", "agent_id": "fast"})
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


def test_replay_reports_sl_asa_abandon(tmp_path: Path) -> None:
    log = read_log(write_log(tmp_path / "ev.jsonl").read_text().splitlines())
    report = replay(log, Strategy.RR_MEMORY)
    assert report.offered == 12
    assert report.answered + report.abandoned == 12
    assert report.abandoned == 1
    assert 0 < report.service_level_pct < 100
    assert report.asa_s > 0
    # Same log, same strategy: same figures.
    assert replay(log, Strategy.RR_MEMORY) == report


def test_replay_rejects_bad_lines(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="no Config"):
        read_log(['{"t": 1, "type": "AgentLoggedIn", "agent_id": "x"}'])
    with pytest.raises(ReplayError, match=":2"):
        read_log(['{"type": "Config", "queues": [{"name": "q"}]}', '{"type": "TaskArrived"}'])


def test_cli_replay(tmp_path: Path) -> None:
    path = write_log(tmp_path / "ev.jsonl")
    result = CliRunner().invoke(acd_app, ["replay", str(path), "--strategy", "ringall"])
    assert result.exit_code == 0, result.output
    assert "strategy ring-all" in result.output and "service level" in result.output
    bad = CliRunner().invoke(acd_app, ["replay", str(path), "--strategy", "telepathy"])
    assert bad.exit_code == 2 and "unknown strategy" in bad.output


def test_cli_staffing_prints_the_table() -> None:
    app = typer.Typer()
    app.command()(staffing)
    args = ["--calls", "360", "--period", "30m", "--aht", "240", "--target", "80/20"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "fewest agents" in x)
    assert line.split()[0] == "54"
    result = CliRunner().invoke(app, [*args, "--patience", "120"])
    assert "Erlang A" in result.output and "abandon %" in result.output
    bad = CliRunner().invoke(app, ["--calls", "360", "--aht", "240", "--target", "eighty"])
    assert bad.exit_code == 2 and "PERCENT/SECONDS" in bad.output
