"""The IVR flows the voice layers serve: dialed number -> validated flow, loaded at start-up."""

from __future__ import annotations

from pathlib import Path

from callcenter import ivr
from callcenter.errors import ConfigError

SHIPPED = Path(__file__).resolve().parents[2]  # the checkout that holds ivr_flows/


def resolve_flow_path(name: str) -> Path | None:
    """A flow file as given, else relative to the checkout (so ``ivr_flows/main.yaml`` works
    from any working directory)."""
    for candidate in (Path(name), SHIPPED / name):
        if candidate.is_file():
            return candidate
    return None


def load_flows(numbers: dict[str, str], known_queues: set[str], key: str) -> dict[str, ivr.Flow]:
    """Load and validate each number's flow; every problem of every file in one error."""
    flows: dict[str, ivr.Flow] = {}
    problems: list[str] = []
    for number, name in numbers.items():
        file = resolve_flow_path(name)
        if file is None:
            problems.append(f"{key}: number {number} names {name}, which does not exist")
            continue
        try:
            flows[number] = ivr.load_flow(file, known_queues=known_queues)
        except ivr.FlowErrors as exc:
            problems.extend(str(e) for e in exc.errors)
    if problems:
        raise ConfigError(
            f"{len(problems)} problem(s) in the IVR flows: "
            + "; ".join(problems)
            + " (fix the flow, add the queue with `callcenter queues add`, or change "
            + key
            + ")"
        )
    return flows


class FlowCache:
    """Campaign flows by name, loaded (and validated) once: what the dialer's ports share."""

    def __init__(self) -> None:
        self._flows: dict[str, ivr.Flow] = {}

    def get(self, name: str | None) -> ivr.Flow | None:
        if not name:
            return None
        if name not in self._flows:
            path = resolve_flow_path(name)
            if path is None:
                raise ConfigError(f"campaign flow {name} does not exist: fix the campaign's flow")
            self._flows[name] = ivr.load_flow(path)
        return self._flows[name]
