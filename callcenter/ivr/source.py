"""A loaded flow: its schema model, where it came from, and a line number for every key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml  # type: ignore[import-untyped,unused-ignore]

from callcenter.ivr.business_hours import BusinessHours
from callcenter.ivr.model import FlowSpec


class SourceMap:
    """Line numbers of a YAML document, looked up by the path pydantic reports.

    Path parts that are not keys in the file (such as the discriminator tag
    pydantic adds for a union member) are skipped, so the deepest line that
    exists in the file is returned.
    """

    def __init__(self, root: yaml.Node | None) -> None:
        self._root = root

    def line(self, path: Sequence[str | int]) -> int:
        node = self._root
        if node is None:
            return 1
        found = node.start_mark.line + 1
        for part in path:
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if str(key.value) == str(part):
                        found, node = key.start_mark.line + 1, value
                        break
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                node = node.value[part]
                found = node.start_mark.line + 1
        return found


@dataclass(frozen=True, eq=False)
class Flow:
    """A parsed flow file; sub-flows it calls are parsed with it."""

    spec: FlowSpec
    file: str
    """The path as the user gave it; used in error messages."""
    source: SourceMap
    subflows: Mapping[str, Flow] = field(default_factory=dict)
    """By the ``flow:`` string of the subflow nodes that call them."""

    @property
    def name(self) -> str:
        return self.spec.name or Path(self.file).stem

    @property
    def directory(self) -> Path:
        return Path(self.file).resolve().parent

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.spec.timezone)

    @property
    def calendar(self) -> BusinessHours | None:
        if self.spec.business_hours is None:
            return None
        return self.spec.business_hours.calendar(self.timezone)

    def line(self, *path: str | int) -> int:
        return self.source.line(path)

    def node_line(self, node_id: str, *path: str | int) -> int:
        return self.source.line(("nodes", node_id, *path))

    def resolve(self, relative: str) -> Path:
        """An audio file or sub-flow path, relative to this flow's directory."""
        return self.directory / relative
