"""Invalid flows produce the documented errors, each with its file and line."""

from __future__ import annotations

import pytest

from callcenter.ivr import FlowError, FlowErrors, check_flows, load_flow
from tests.unit.ivr.ivr_support import FIXTURES, QUEUES

INVALID = FIXTURES / "invalid"

# file -> every expected error as (line, a fragment of the message)
EXPECTED: dict[str, list[tuple[int, str]]] = {
    "unknown_target": [(5, "`next` goes to unknown node 'goodbey'; did you mean 'goodbye'?")],
    "unreachable": [(6, "node 'orphan' is unreachable from the start node 'hello'")],
    "dead_end": [
        (2, "dead end: no path from node 'first' ever ends the call"),
        (7, "dead end: no path from node 'second' ever ends the call"),
    ],
    "loop_without_input": [(4, "loop without caller input: hello -> bump -> check -> hello")],
    "unknown_queue": [(4, "unknown queue 'marketing'; configured queues: billing, sales, support")],
    "missing_audio": [
        (4, "audio file 'sounds/welcome.wav' not found"),
        (9, "audio file 'sounds/menu.wav' not found"),
    ],
    "bad_expression": [(5, "only plain calls of the allowed functions are allowed")],
    "attribute_expression": [(5, "Attribute is not allowed in flow expressions")],
    "unknown_name": [
        (5, "unknown name 'vip'; declare it under `variables:`"),
        (10, "unknown name 'custmer_name'"),
    ],
    "unknown_type": [(2, "node 'hello': unknown type 'dial'; use one of: say, play, menu")],
    "missing_next": [(2, "node 'hello' (say): `next` is required; say where the call goes")],
    "misspelled_field": [(2, "`options` is required"), (5, "unknown field `optons`")],
    "duplicate_node": [(6, "duplicate key 'hello'")],
    "yaml_syntax": [(6, "YAML syntax error")],
    "sensitive_leak": [(11, "sensitive variable 'pin' would be masked here")],
    "no_business_hours": [(5, "unknown name 'is_open'; add a `business_hours:` section")],
    "bad_pattern": [(6, "pattern '[0-9{6' is not a valid regular expression")],
    "missing_subflow": [(4, "subflow file 'does_not_exist.yaml' not found")],
    "bad_hours": [
        (1, "unknown time zone 'Europe/Berlln'"),
        (4, "'18:00-08:00' ends before it starts"),
    ],
}


def test_every_fixture_is_covered() -> None:
    assert {p.stem for p in INVALID.glob("*.yaml")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_flow_reports_documented_errors(name: str) -> None:
    path = INVALID / f"{name}.yaml"
    with pytest.raises(FlowErrors) as caught:
        load_flow(path, QUEUES)
    got = [(e.line, e.message) for e in caught.value.errors]
    assert len(got) == len(EXPECTED[name]), got
    for (line, fragment), (got_line, message) in zip(EXPECTED[name], got, strict=True):
        assert fragment in message
        assert got_line == line, f"{fragment!r} reported at line {got_line}, expected {line}"
    assert all(e.file == str(path) for e in caught.value.errors)


def test_error_prints_as_file_line_message() -> None:
    error = FlowError("flows/a.yaml", 7, "node 'x': something is wrong")
    assert str(error) == "flows/a.yaml:7: node 'x': something is wrong"


def test_queues_are_only_checked_when_known_queues_are_given() -> None:
    assert check_flows([INVALID / "unknown_queue.yaml"]) == []


def test_check_flows_collects_errors_of_many_files_sorted() -> None:
    errors = check_flows([INVALID / "unreachable.yaml", INVALID / "dead_end.yaml"])
    assert [(e.file.rsplit("/", 1)[-1], e.line) for e in errors] == [
        ("dead_end.yaml", 2),
        ("dead_end.yaml", 7),
        ("unreachable.yaml", 6),
    ]


def test_missing_file_is_one_error() -> None:
    errors = check_flows([INVALID / "nope.yaml"])
    assert len(errors) == 1 and errors[0].line == 0 and "cannot read" in errors[0].message


def test_subflow_errors_are_reported_in_the_subflow_file(tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "main.yaml").write_text(
        "nodes:\n  go:\n    type: subflow\n    flow: sub.yaml\n    next: end\n"
        "  end:\n    type: hangup\n"
    )
    (tmp_path / "sub.yaml").write_text("nodes:\n  a:\n    type: say\n    text: hi\n    next: b\n")
    errors = check_flows([tmp_path / "main.yaml"])
    assert [(e.file.rsplit("/", 1)[-1], e.line) for e in errors] == [("sub.yaml", 5)]
    assert "unknown node 'b'" in errors[0].message


def test_recursive_subflows_are_rejected(tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "a.yaml").write_text(
        "nodes:\n  go:\n    type: subflow\n    flow: a.yaml\n    next: end\n"
        "  end:\n    type: hangup\n"
    )
    errors = check_flows([tmp_path / "a.yaml"])
    assert [e.line for e in errors] == [4] and "recursive" in errors[0].message
