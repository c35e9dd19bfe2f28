import json
import logging

import pytest

from callcenter.logs import CallIdFilter, JsonFormatter, TextFormatter, call_context


def _record(msg: str) -> logging.LogRecord:
    record = logging.LogRecord("callcenter.test", logging.INFO, __file__, 1, msg, None, None)
    CallIdFilter().filter(record)
    return record


def test_text_lines_carry_the_call_id_inside_a_call() -> None:
    with call_context("c-42"):
        line = TextFormatter().format(_record("caller pressed 2"))
    assert "[call c-42] caller pressed 2" in line
    assert "[call" not in TextFormatter().format(_record("idle"))


def test_json_lines_are_json_with_call_id() -> None:
    with call_context("c-7"):
        entry = json.loads(JsonFormatter().format(_record("queued")))
    assert entry["call_id"] == "c-7"
    assert entry["message"] == "queued"
    assert entry["level"] == "INFO"


@pytest.mark.parametrize("json_lines", [False, True])
def test_configure_logging_routes_root(
    json_lines: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    from callcenter.logs import configure_logging

    configure_logging("INFO", json_lines)
    with call_context("c-9"):
        logging.getLogger("callcenter.x").info("hello")
    err = capsys.readouterr().err.strip().splitlines()[-1]
    if json_lines:
        assert json.loads(err)["call_id"] == "c-9"
    else:
        assert err.endswith("[call c-9] hello")
