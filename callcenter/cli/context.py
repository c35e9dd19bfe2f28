"""What every CLI command shares: the settings (from --config and the environment) and the
database, opened lazily so that ``--help`` never touches either."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from callcenter.config import Settings, load_settings
from callcenter.logs import configure_logging
from callcenter.store import Database, open_database
from dialer import local_rules


@dataclass
class CliState:
    config_file: Path | None = None
    json_logs: bool | None = None
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_file)
            local_rules.use_table(self._settings.dialer.local_rules)
            log = self._settings.log
            configure_logging(
                log.level, self.json_logs if self.json_logs is not None else log.json_lines
            )
        return self._settings

    def database(self) -> Database:
        return open_database(self.settings.database.url, self.settings.database.echo)


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):
        obj = ctx.find_root().obj = CliState()
    return obj


def print_rows(rows: Sequence[Mapping[str, Any]], as_json: bool, line: Callable[[Any], str],
               none: str) -> None:
    """A listing: one JSON object a line (``--json``), else ``line(row)`` a row, or ``none``
    when there is nothing to show."""
    if not rows and not as_json:
        typer.echo(none)
    for row in rows:
        typer.echo(json.dumps(row, sort_keys=True) if as_json else line(row))
