"""The IVR flows the voice layers serve: dialed number -> validated flow, loaded at start-up."""

from __future__ import annotations

from pathlib import Path

from callcenter import ivr
from callcenter.errors import ConfigError


def load_flows(numbers: dict[str, str], known_queues: set[str], key: str) -> dict[str, ivr.Flow]:
    """Load and validate each number's flow; every problem of every file in one error."""
    flows: dict[str, ivr.Flow] = {}
    problems: list[str] = []
    for number, file in numbers.items():
        if not Path(file).is_file():
            problems.append(f"{key}: number {number} names {file}, which does not exist")
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
