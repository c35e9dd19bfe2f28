"""Agent scripts: what the agent reads to the person a campaign reaches, with the lead's own
data in it (VICIdial's scripts, ``--A--first_name--B--``; here ``{{first_name}}``). Pure.

A script is plain text. ``{{name}}`` is replaced by the lead's field of that name: the
standard ones (``first_name``, ``last_name``, ``external_id``, ``number``) or a column of its
CSV, matched as the import matches header names (case, spaces, underscores and hyphens do
not matter: ``{{Plan Name}}`` finds ``plan_name``). A field the lead lacks becomes empty. The
text is shown with ``textContent`` by the desktop: lead data cannot inject markup.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from dialer.csv_source import header_key

MAX_SCRIPT_CHARS = 8000
_FIELD = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")


def check_script(text: str) -> str:
    """The script as stored, or ValueError saying which line is malformed and how to fix it."""
    if len(text) > MAX_SCRIPT_CHARS:
        raise ValueError(f"the script has {len(text)} characters; at most {MAX_SCRIPT_CHARS}")
    for number, line in enumerate(text.splitlines(), 1):
        rest = _FIELD.sub("", line)
        if "{{" in rest or "}}" in rest:
            raise ValueError(f"script line {number}: unbalanced '{{{{' or '}}}}' in {line!r}: "
                             "write a field as {{first_name}}")
    return text


def fields_used(text: str) -> list[str]:
    """The field names the script refers to, in order, each once."""
    return list(dict.fromkeys(m.group(1) for m in _FIELD.finditer(text)))


def render_script(text: str, fields: Mapping[str, object]) -> str:
    """The script with the lead's fields in place."""
    keyed = {header_key(str(k)): v for k, v in fields.items()}

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        found = fields.get(name, keyed.get(header_key(name)))
        return "" if found is None else str(found)

    return _FIELD.sub(value, text)
