"""Topic names of the event bus and MQTT-style topic-filter matching.

Every topic is ``cc/<tenant>/<kind>/...``; subscribers may use the MQTT wildcards ``+`` (one
level) and ``#`` (the rest), with the same meaning on the in-process bus as on the broker.
"""

from __future__ import annotations

import re

ROOT = "cc"
_LEVEL = re.compile(r"^[^/+#\x00]+$")


def topic(tenant: str, *levels: str) -> str:
    """``topic("acme", "agents", "1001", "state") == "cc/acme/agents/1001/state"``."""
    for level in (tenant, *levels):
        if not _LEVEL.match(level):
            raise ValueError(
                f"topic level {level!r} is empty or contains '/', '+', '#' or NUL: "
                "use ids made of letters, digits, '-', '_' or '.'"
            )
    return "/".join((ROOT, tenant, *levels))


def matches(topic_filter: str, name: str) -> bool:
    """Whether topic ``name`` matches the MQTT ``topic_filter`` (``+`` and ``#`` wildcards)."""
    want = topic_filter.split("/")
    have = name.split("/")
    for i, part in enumerate(want):
        if part == "#":
            return True
        if i >= len(have):
            return False
        if part != "+" and part != have[i]:
            return False
    return len(want) == len(have)


def validate_filter(topic_filter: str) -> None:
    parts = topic_filter.split("/")
    for i, part in enumerate(parts):
        if part == "#" and i != len(parts) - 1:
            raise ValueError(f"topic filter {topic_filter!r}: '#' must be the last level")
        if part not in ("+", "#") and ("+" in part or "#" in part):
            raise ValueError(f"topic filter {topic_filter!r}: a wildcard must fill a whole level")
