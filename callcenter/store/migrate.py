"""Schema migrations with Alembic, driven from code (``callcenter db upgrade``).

The migration scripts live in ``callcenter/store/migrations``; no alembic.ini is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import OperationalError

from callcenter.errors import DatabaseError
from callcenter.store.database import Database

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", db.engine.url.render_as_string(hide_password=False))
    cfg.attributes["engine"] = db.engine
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    _run(db, lambda cfg: command.upgrade(cfg, revision))


def downgrade(db: Database, revision: str) -> None:
    _run(db, lambda cfg: command.downgrade(cfg, revision))


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def ensure_current(db: Database) -> None:
    """Refuse to serve a database whose schema is behind the code."""
    have, want = current_revision(db), head_revision()
    if have != want:
        raise DatabaseError(
            f"the database {db.safe_url} is at schema revision {have or 'none (empty)'} but this "
            f"engine needs {want}: run `callcenter db upgrade`"
        )


def _run(db: Database, action: Callable[[Config], None]) -> None:
    try:
        action(alembic_config(db))
    except OperationalError as exc:
        raise DatabaseError(
            f"migration failed on {db.safe_url}: {str(exc.orig or exc).splitlines()[0]}; check "
            "the URL and that the database server is running"
        ) from None
