"""Where a call's recording is kept: ``<recordings_dir>/YYYY/MM/DD/<call id>-<kind>.wav``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path


def recording_dir(root: Path, when: datetime) -> Path:
    path = root / f"{when:%Y}" / f"{when:%m}" / f"{when:%d}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def recording_path(root: Path, call_id: str, kind: str, when: datetime | None = None) -> Path:
    """``kind``: ``call`` (agent conversation), ``voicemail`` or ``rec`` (a flow's record node)."""
    return recording_dir(root, when or datetime.now()) / f"{call_id}-{kind}.wav"
