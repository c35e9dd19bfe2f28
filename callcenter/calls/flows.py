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
