"""Opening the database: SQLite (WAL, foreign keys on) by default, PostgreSQL by URL.

:func:`open_database` checks the connection at once, so a bad URL or a server that is down
stops start-up with one line that says what to fix instead of failing on the first call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from callcenter.errors import DatabaseError

T = TypeVar("T")


def parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(
            f"database URL {url!r} cannot be parsed: use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST:PORT/DB (CALLCENTER_DATABASE__URL)"
        ) from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # the driver we ship
    return parsed


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, echo: bool = False) -> Engine:
    """An Engine for ``url``; SQLite files get their folder created and WAL switched on."""
    parsed = parse_url(url)
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False}
    else:
        kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=20)
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ArgumentError, ImportError) as exc:
        raise DatabaseError(
            f"database URL {parsed.render_as_string(hide_password=True)} names a driver we "
            f"cannot load ({exc}): use sqlite:/// or postgresql+psycopg://"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class Database:
    """The engine's connection pool and session factory."""

    def __init__(self, url: str, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def backend(self) -> str:
        return self.engine.url.get_backend_name()

    def check(self) -> None:
        """Run ``SELECT 1``; raise :class:`DatabaseError` saying what to do when it fails."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise DatabaseError(
                f"cannot connect to the database {self.safe_url} ({reason}): check "
                "CALLCENTER_DATABASE__URL and that the database server is running"
            ) from None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work(session)`` in a worker thread so the event loop never waits on the DB."""

        def in_thread() -> T:
            with self.session() as session:
                return work(session)

        return await asyncio.to_thread(in_thread)

    async def healthy(self) -> tuple[bool, str]:
        try:
            await asyncio.to_thread(self.check)
        except (DatabaseError, SQLAlchemyError) as exc:
            return False, str(exc)
        return True, "ok"

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str, echo: bool = False) -> Database:
    db = Database(url, echo)
    db.check()
    return db
