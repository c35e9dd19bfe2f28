"""Exactly once across a crash: the engine process dies between escalation and commit (and
between commit and announce); restarting and retrying leaves exactly one ticket."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import func, select

from callcenter.store import open_database, upgrade
from callcenter.store.tickets import EscalationKey, Ticket, TicketLink
from tests.unit.tickets.tickets_support import add_call

ROOT = Path(__file__).parents[2]

ENGINE = textwrap.dedent("""
    import asyncio, json, os, sys
    from datetime import UTC, datetime
    from callcenter.backoffice import BackOffice
    from callcenter.config import BackofficeSettings
    from callcenter.store import open_database
    from callcenter.tickets import EscalationRules, IvrEscalated, Priority, escalate
    from tests.unit.tickets.tickets_support import recording_bus

    url, crash_at = sys.argv[1], sys.argv[2]

    def checkpoint(stage):
        if stage == crash_at:
            os._exit(17)  # the process dies right here, nothing is cleaned up

    async def main():
        bus = recording_bus()
        office = BackOffice(BackofficeSettings(smtp_port=0), open_database(url), bus,
                            checkpoint=checkpoint)
        now = datetime.now(UTC)
        event = IvrEscalated("call-x", "+4930999", "billing", Priority.HIGH, "press 2", now)
        filed = await office.service.file_escalation(escalate(event, EscalationRules(), now))
        print(json.dumps({"number": filed.number, "created": filed.created,
                          "announced": [m.topic for m in bus.sent]}))

    asyncio.run(main())
""")


def run_engine(tmp_path: Path, url: str, crash_at: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "engine.py"
    script.write_text(ENGINE)
    return subprocess.run(
        [sys.executable, str(script), url, crash_at],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def counts(url: str) -> tuple[int, int, int]:
    db = open_database(url)
    with db.session() as s:
        out = tuple(
            s.scalar(select(func.count()).select_from(t)) or 0
            for t in (Ticket, EscalationKey, TicketLink)
        )
    db.dispose()
    return out  # type: ignore[return-value]


def test_killed_between_escalation_and_commit_then_restarted_gives_one_ticket(
    db_url: str, tmp_path: Path
) -> None:
    db = open_database(db_url)
    upgrade(db)
    with db.session() as s:
        add_call(s, "call-x", "+4930999")
    db.dispose()

    died = run_engine(tmp_path, db_url, "flushed")  # ticket rows written, not committed
    assert died.returncode == 17, died.stderr
    assert counts(db_url) == (0, 0, 0)  # nothing half-done survives

    died = run_engine(tmp_path, db_url, "committed")  # committed, never announced
    assert died.returncode == 17, died.stderr
    assert counts(db_url) == (1, 1, 1)

    restarted = run_engine(tmp_path, db_url, "never")  # the retry after the restart
    assert restarted.returncode == 0, restarted.stderr
    result = json.loads(restarted.stdout)
    assert result["created"] is False
    assert result["announced"] == [f"cc/t1/tickets/T-{result['number']}"]  # now announced
    assert counts(db_url) == (1, 1, 1)
