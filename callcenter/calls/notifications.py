"""IVR notifications (survey answers, tickets, call-backs, do-not-call, variables) as call
events: the kind is the action's name in snake_case, the data its fields as plain JSON values.

Both voice layers record them with ``CdrWriter.event(rec, *notification_event(action))``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from callcenter import ivr


def notification_event(action: ivr.Action) -> tuple[str, dict[str, Any]]:
    """``SurveyAnswer(...)`` -> ``("survey_answer", {"survey": ..., ...})``."""
    data = (
        {f.name: getattr(action, f.name) for f in dataclasses.fields(action)}
        if dataclasses.is_dataclass(action)
        else {}
    )
    return snake_case(type(action).__name__), {k: _plain(v) for k, v in data.items()}


def snake_case(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
