"""Shared fixtures: real PostgreSQL and SQLite databases, a real Mosquitto broker, Chromium.

PostgreSQL and Mosquitto are required, never skipped: the test command starts them when they
are not running (scripts/test.sh). Override their addresses with CALLCENTER_TEST_PG_URL and
CALLCENTER_TEST_MQTT (host:port). Chromium is required too: a browser test without it fails
saying what to install (scripts/test.sh installs it), for a skipped test would pass for nothing.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_URL = os.environ.get(
    "CALLCENTER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MQTT = os.environ.get("CALLCENTER_TEST_MQTT", "127.0.0.1:1883")


@pytest.fixture(autouse=True)
def _clean_callcenter_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own CALLCENTER_* variables must not leak into the tests."""
    for name in list(os.environ):
        if name.startswith("CALLCENTER_") and not name.startswith("CALLCENTER_TEST_"):
            monkeypatch.delenv(name)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"cc_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite:///{tmp_path}/var/callcenter.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """Each storage test runs on both backends, for real."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/var/callcenter.db"
    return request.getfixturevalue("pg_url")  # type: ignore[no-any-return]


@pytest.fixture
def mqtt_address() -> tuple[str, int]:
    host, _, port = MQTT.rpartition(":")
    return host, int(port)


@pytest.fixture
def chromium() -> str:
    """The path of Debian's Chromium, which the browser tests drive through Playwright."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail(
            "Chromium not found on PATH (as chromium or chromium-browser): install it with "
            "`apt-get install chromium` (scripts/test.sh does this)",
            pytrace=False,
        )
    return path
