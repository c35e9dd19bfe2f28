"""Where a call's recording is kept: ``<recordings_dir>/YYYY/MM/DD/<call id>-<kind>.wav``."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from pathlib import Path


def recording_dir(root: Path, when: datetime) -> Path:
    path = root / f"{when:%Y}" / f"{when:%m}" / f"{when:%d}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def recording_path(
    root: Path,
    call_id: str,
    kind: str,
    when: datetime | None = None,
    taken: Collection[Path] = (),
) -> Path:
    """A new file for ``kind``: ``call`` (agent conversation), ``voicemail`` or ``rec`` (a
    flow's record node). A call's second recording of a kind (the caller requeued to another
    agent, a flow recording twice) gets ``-2``, ``-3``... instead of overwriting the first.
    ``taken``: files promised already but not written yet (Twilio's recordings arrive after
    they end, so a second conversation starts before the first one's file exists)."""
    directory = recording_dir(root, when or datetime.now())
    path = directory / f"{call_id}-{kind}.wav"
    n = 1
    while path.exists() or path in taken:
        n += 1
        path = directory / f"{call_id}-{kind}-{n}.wav"
    return path


def side_paths(path: Path) -> tuple[Path, Path]:
    """The caller's and the agent's parts of a stereo recording while it is being made
    (``X.caller.wav``, ``X.agent.wav`` next to ``X.wav``); joined into ``path`` at the end."""
    return path.with_suffix(".caller.wav"), path.with_suffix(".agent.wav")
