"""The safe expression evaluator: what it allows, what it refuses, what it computes."""

from __future__ import annotations

import pytest

from callcenter.ivr import ExpressionError
from callcenter.ivr.expressions import compile_expression

ENV = {
    "caller": "+4930555",
    "count": 3,
    "vip": True,
    "tier": "gold",
    "pin": "1234",
    "time": "09:30",
    "weekday": "tue",
}


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("count + 1", 4),
        ("count * 2 - 1", 5),
        ("count // 2", 1),
        ("count % 2 == 1", True),
        ("-count", -3),
        ("vip and tier == 'gold'", True),
        ("not vip or count > 10", False),
        ("'08:00' <= time < '18:00'", True),
        ("weekday in ['sat', 'sun']", False),
        ("weekday not in ('sat', 'sun')", True),
        ("startswith(caller, '+49')", True),
        ("matches(pin, '[0-9]{4}')", True),
        ("len(pin) == 4", True),
        ("int(pin) + 1", 1235),
        ("upper(tier)", "GOLD"),
        ("'vip' if vip else 'normal'", "vip"),
        ("None", None),
    ],
)
def test_allowed_expressions_evaluate(source: str, value: object) -> None:
    assert compile_expression(source).evaluate(ENV) == value


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("__import__('os')", "unknown function __import__()"),
        ("caller.upper()", "only plain calls"),
        ("caller.__class__", "Attribute is not allowed"),
        ("ENV['x']", "Subscript is not allowed"),
        ("[x for x in 'ab']", "ListComp is not allowed"),
        ("lambda: 1", "Lambda is not allowed"),
        ("2 ** 1000", "Pow is not allowed"),
        ("count is None", "Is is not allowed"),
        ("len(pin, key=1)", "only plain calls"),
        ("1 +", "invalid syntax"),
        ("x" * 600, "longer than 500"),
    ],
)
def test_forbidden_expressions_are_rejected_at_compile_time(source: str, reason: str) -> None:
    with pytest.raises(ExpressionError, match=None) as caught:
        compile_expression(source)
    assert reason in str(caught.value)


def test_names_are_collected_without_function_names() -> None:
    assert compile_expression("len(pin) == 4 and vip").names == {"pin", "vip"}


@pytest.mark.parametrize(
    "source", ["int(tier)", "count / 0", "tier < count", "missing == 1", "tier * 3"]
)
def test_runtime_failures_raise_expression_error(source: str) -> None:
    with pytest.raises(ExpressionError):
        compile_expression(source).evaluate(ENV)
