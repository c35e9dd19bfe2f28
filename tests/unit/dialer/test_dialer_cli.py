"""``callcenter dialer simulate`` prints the figures and is deterministic by seed."""

from __future__ import annotations

from typer.testing import CliRunner

from callcenter.cli.dialer import app


def test_simulate_prints_occupancy_abandon_and_calls_per_agent_hour() -> None:
    args = [
        "simulate",
        "--agents",
        "8",
        "--duration",
        "600",
        "--pacer",
        "progressive",
        "--seed",
        "3",
    ]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    for label in ("occupancy", "abandon rate          0.00 %", "calls per agent-hour"):
        assert label in first.output
    assert CliRunner().invoke(app, args).output == first.output
