"""Text templates (``"Hello {customer_name}"``) and sensitive values.

A template names variables in braces; nothing else is interpreted, so a
template cannot reach attributes or call anything (unlike ``str.format``).
Values gathered with ``sensitive: true`` are held in :class:`Sensitive`, whose
``str`` and ``repr`` are masked: they render as ``****`` in prompts, logs,
action reprs and the IVR path. Only :func:`reveal` returns the digits, which an
adapter calls when it sends an HTTP body.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

MASK = "****"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Sensitive:
    """A secret the caller typed; masked wherever it is printed."""

    value: str = field(repr=False)

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Sensitive({MASK!r})"


def reveal(value: object) -> object:
    """The real value behind a :class:`Sensitive` (recursively inside dicts and lists)."""
    if isinstance(value, Sensitive):
        return value.value
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [reveal(v) for v in value]
    return value


def template_names(text: str) -> set[str]:
    """The variable names a template refers to."""
    return set(_PLACEHOLDER.findall(text))


def render_template(
    text: str,
    variables: Mapping[str, object],
    quote: Callable[[str], str] | None = None,
) -> str:
    """Fill ``{name}`` placeholders; unknown or ``None`` values render as ``""``.

    Sensitive values render masked. ``quote`` escapes each value (URL quoting).
    """

    def fill(found: re.Match[str]) -> str:
        value = variables.get(found.group(1))
        text_value = "" if value is None else str(value)
        return quote(text_value) if quote else text_value

    return _PLACEHOLDER.sub(fill, text)


def render_value(value: object, variables: Mapping[str, object]) -> object:
    """Render a structured value (an HTTP body): a string that is exactly one
    placeholder keeps the variable's own value (so a sensitive value stays
    :class:`Sensitive` and a number stays a number); other strings are templates."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole:
            return variables.get(whole.group(1))
        return render_template(value, variables)
    if isinstance(value, dict):
        return {k: render_value(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, variables) for v in value]
    return value


def collect_template_names(value: object) -> set[str]:
    """Every placeholder name inside a structured value."""
    if isinstance(value, str):
        return template_names(value)
    if isinstance(value, dict):
        return set().union(*(collect_template_names(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(collect_template_names(v) for v in value))
    return set()
