"""Authoring tools: the diagram and the `callcenter flow` commands."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from typer.testing import CliRunner

from callcenter.cli.flow import app
from callcenter.ivr import flow_to_dot, render_svg
from tests.unit.ivr.ivr_support import FIXTURES, SHIPPED, shipped

runner = CliRunner()


def test_dot_has_every_node_and_labelled_routes() -> None:
    flow = shipped("main")
    dot = flow_to_dot(flow)
    for node_id in flow.spec.nodes:
        assert f'"{node_id}" [shape=' in dot
    assert '"department_menu" -> "sales" [label="press 1"]' in dot
    assert '"queue_sales" -> "all_busy" [label="overflow"]' in dot
    assert '"route_call" -> "queue_sales" [label="department == \\"sales\\""]' in dot


def test_svg_is_drawn_by_graphviz() -> None:
    svg = render_svg(shipped("csat_survey"))
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    titles = {el.text for el in root.iter() if el.tag.endswith("title")}
    assert {"rate", "complaint", "goodbye", "rate->check_score"} <= titles


def test_cli_validate_ok_and_errors() -> None:
    result = runner.invoke(
        app, ["validate", *map(str, SHIPPED.glob("*.yaml")), "--queues", "sales,support,billing"]
    )
    assert result.exit_code == 0, result.output
    assert "5 flow file(s) valid" in result.output
    bad = FIXTURES / "invalid" / "unknown_target.yaml"
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"{bad}:5: node 'hello': `next` goes to unknown node 'goodbey'; did you mean 'goodbye'?"
    ]


def test_cli_render(tmp_path: Path) -> None:
    out = tmp_path / "flow.svg"
    result = runner.invoke(app, ["render", str(SHIPPED / "main.yaml"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().lstrip().startswith(b"<?xml")
    result = runner.invoke(
        app, ["render", str(FIXTURES / "invalid" / "dead_end.yaml"), "-o", str(tmp_path / "x.svg")]
    )
    assert result.exit_code == 1 and not (tmp_path / "x.svg").exists()


def test_cli_try_walks_the_survey() -> None:
    result = runner.invoke(
        app,
        ["try", str(SHIPPED / "csat_survey.yaml"), "--at", "2025-03-04T10:00+01:00"],
        input="7\n2\n",
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "SAY [en-US] Please press a key from 1 to 5." in result.output
    assert "SURVEY csat.satisfaction = 2" in result.output
    assert any(
        line.startswith("TICKET complaint/high: Caller +15550100 rated call try 2")
        for line in lines
    )
    assert lines[-1] == "END: survey finished"


def test_cli_try_timeouts_and_end_of_input_hang_up() -> None:
    result = runner.invoke(
        app,
        [
            "try",
            str(SHIPPED / "survey_outbound.yaml"),
            "--at",
            "2025-03-04T10:00+01:00",
            "--var",
            "customer_name=Bob",
        ],
        input="\n1\n",
    )
    assert result.exit_code == 0, result.output
    assert "Hello Bob," in result.output
    assert "GATHER up to 1 key(s), timeout 5s" in result.output
    assert "Sorry, I did not hear a choice." in result.output
    assert result.output.splitlines()[-1].endswith("END: caller hung up")
