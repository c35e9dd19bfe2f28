"""Errors raised by the IVR package: flow-file problems and interpreter misuse."""

from __future__ import annotations

from collections.abc import Iterable


class FlowError(Exception):
    """One problem in a flow file: where it is and what to do about it.

    ``line`` is 1-based; 0 means the problem concerns the file as a whole.
    ``str(error)`` is the ``file:line: message`` form the CLI prints.
    """

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(file, line, message)
        self.file = file
        self.line = line
        self.message = message

    def _key(self) -> tuple[str, int, str]:
        return (self.file, self.line, self.message)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FlowError) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"FlowError({self.file!r}, {self.line}, {self.message!r})"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class FlowErrors(Exception):
    """Every problem found in one or more flow files, sorted by file and line."""

    def __init__(self, errors: Iterable[FlowError]) -> None:
        self.errors: tuple[FlowError, ...] = tuple(
            sorted(set(errors), key=lambda e: (e.file, e.line, e.message))
        )
        super().__init__("\n".join(str(e) for e in self.errors))


class ExpressionError(ValueError):
    """An expression is not allowed (at load time) or failed to evaluate (at run time)."""


class FlowStateError(RuntimeError):
    """The adapter fed the interpreter an event it cannot accept in its current state
    (for example digits before ``CallStarted``, or a naive ``now``)."""
