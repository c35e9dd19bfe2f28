"""A small, safe expression language for flow conditions and ``set`` nodes.

Expressions are Python syntax parsed with :mod:`ast` and checked against an
allow-list: literals, names, ``and``/``or``/``not``, comparisons (including
``in``), arithmetic, ``x if c else y`` and calls to the functions in
:data:`FUNCTIONS`. Attribute access, subscripts, lambdas, comprehensions and
every other construct are rejected, so a flow file can never run code.
Nothing here calls :func:`eval`.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from callcenter.ivr.errors import ExpressionError


def _matches(value: object, pattern: object) -> bool:
    return re.fullmatch(str(pattern), str(value)) is not None


def _to_int(value: object) -> int:
    try:
        return int(str(value).strip())
    except ValueError as exc:
        raise ExpressionError(f"int() cannot convert {value!r}") from exc


FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "len": lambda v: len(str(v)) if not isinstance(v, list | tuple) else len(v),
    "int": _to_int,
    "str": lambda v: "" if v is None else str(v),
    "lower": lambda v: str(v).lower(),
    "upper": lambda v: str(v).upper(),
    "startswith": lambda v, prefix: str(v).startswith(str(prefix)),
    "endswith": lambda v, suffix: str(v).endswith(str(suffix)),
    "matches": _matches,
}
"""Functions an expression may call: ``matches(value, regex)`` is a full match."""

_BINARY: Mapping[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_COMPARE: Mapping[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_MAX_LENGTH = 500


@dataclass(frozen=True)
class Expression:
    """A checked expression: its source text, its syntax tree and the names it reads."""

    source: str
    tree: ast.Expression
    names: frozenset[str]

    def evaluate(self, variables: Mapping[str, object]) -> object:
        """Evaluate against ``variables``; raises :class:`ExpressionError` on any failure."""
        try:
            return _eval(self.tree.body, variables)
        except ExpressionError:
            raise
        except (TypeError, ValueError, ZeroDivisionError, re.error, OverflowError) as exc:
            raise ExpressionError(f"{self.source!r} failed: {exc}") from exc


def compile_expression(source: str) -> Expression:
    """Parse and allow-list-check ``source``; raises :class:`ExpressionError` saying why."""
    if len(source) > _MAX_LENGTH:
        raise ExpressionError(f"expression longer than {_MAX_LENGTH} characters")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"invalid syntax in {source!r}: {exc.msg}") from exc
    names: set[str] = set()
    for node in ast.walk(tree):
        _check(node, names)
    return Expression(source, tree, frozenset(names))


def _check(node: ast.AST, names: set[str]) -> None:
    match node:
        case ast.Expression() | ast.Load() | ast.And() | ast.Or() | ast.Not() | ast.USub():
            return
        case ast.Constant(value=value):
            if not isinstance(value, str | int | float | bool | type(None)):
                raise ExpressionError(f"constant {value!r} is not allowed")
        case ast.Name(id=name):
            if name not in FUNCTIONS:
                names.add(name)
        case ast.Call(func=ast.Name(id=name), keywords=[]):
            if name not in FUNCTIONS:
                raise ExpressionError(
                    f"unknown function {name}(); allowed: {', '.join(sorted(FUNCTIONS))}"
                )
        case ast.Call():
            raise ExpressionError("only plain calls of the allowed functions are allowed")
        case ast.BoolOp() | ast.UnaryOp() | ast.IfExp() | ast.List() | ast.Tuple():
            if isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not | ast.USub):
                raise ExpressionError(f"operator {type(node.op).__name__} is not allowed")
        case ast.BinOp(op=op):
            if type(op) not in _BINARY:
                raise ExpressionError(f"operator {type(op).__name__} is not allowed")
        case ast.Compare(ops=ops):
            for cmp in ops:
                if type(cmp) not in _COMPARE:
                    raise ExpressionError(f"comparison {type(cmp).__name__} is not allowed")
        case _ if type(node) in _BINARY or type(node) in _COMPARE:
            return
        case _:
            raise ExpressionError(
                f"{type(node).__name__} is not allowed in flow expressions "
                "(use names, literals, comparisons, and/or/not, arithmetic and "
                f"{', '.join(sorted(FUNCTIONS))})"
            )


def _eval(node: ast.expr, env: Mapping[str, object]) -> Any:
    match node:
        case ast.Constant(value=value):
            return value
        case ast.Name(id=name):
            if name not in env:
                raise ExpressionError(f"unknown name {name!r}")
            return env[name]
        case ast.BoolOp(op=ast.And(), values=values):
            result: Any = True
            for value_node in values:
                result = _eval(value_node, env)
                if not result:
                    return result
            return result
        case ast.BoolOp(values=values):
            result = False
            for value_node in values:
                result = _eval(value_node, env)
                if result:
                    return result
            return result
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            return not _eval(operand, env)
        case ast.UnaryOp(operand=operand):
            return -_eval(operand, env)
        case ast.BinOp(left=left, op=op, right=right):
            lhs, rhs = _eval(left, env), _eval(right, env)
            if isinstance(op, ast.Mult) and (isinstance(lhs, str) or isinstance(rhs, str)):
                raise ExpressionError("multiplying strings is not allowed")
            return _BINARY[type(op)](lhs, rhs)
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            lhs = _eval(left, env)
            for cmp, right_node in zip(ops, comparators, strict=True):
                rhs = _eval(right_node, env)
                if not _COMPARE[type(cmp)](lhs, rhs):
                    return False
                lhs = rhs
            return True
        case ast.IfExp(test=test, body=body, orelse=orelse):
            return _eval(body, env) if _eval(test, env) else _eval(orelse, env)
        case ast.List(elts=elts) | ast.Tuple(elts=elts):
            return [_eval(e, env) for e in elts]
        case ast.Call(func=ast.Name(id=name), args=args):
            return FUNCTIONS[name](*(_eval(a, env) for a in args))
    raise ExpressionError(f"{type(node).__name__} is not allowed")
