"""Storage on SQLite and PostgreSQL, for real: migrations, schema parity, repositories."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from callcenter.errors import AlreadyExists, DatabaseError, NotFound
from callcenter.store import (
    AgentRepository,
    Database,
    QueueRepository,
    current_revision,
    downgrade,
    ensure_current,
    open_database,
    upgrade,
)
from callcenter.store.models import Call, CallEvent, CallLeg
from callcenter.store.schema import metadata


def _schema(db: Database) -> dict[str, Any]:
    """Tables -> (columns with nullability, primary key, foreign keys, uniques) in a
    backend-neutral form."""
    insp = inspect(db.engine)
    out: dict[str, Any] = {}
    for table in sorted(insp.get_table_names()):
        if table == "alembic_version":
            continue
        cols = {c["name"]: c["nullable"] for c in insp.get_columns(table)}
        fks = sorted(
            (tuple(fk["constrained_columns"]), fk["referred_table"], fk["options"].get("ondelete"))
            for fk in insp.get_foreign_keys(table)
        )
        uniques = sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(table))
        pk = tuple(insp.get_pk_constraint(table)["constrained_columns"])
        out[table] = {"columns": cols, "pk": pk, "fks": fks, "uniques": uniques}
    return out


def test_upgrade_gives_the_models_schema_on_both_backends(sqlite_url: str, pg_url: str) -> None:
    schemas = []
    for url in (sqlite_url, pg_url):
        db = open_database(url)
        upgrade(db)
        assert current_revision(db) is not None
        ensure_current(db)
        schemas.append(_schema(db))
        db.dispose()
    assert schemas[0] == schemas[1]
    assert set(schemas[0]) == set(metadata.tables)


def test_downgrade_then_upgrade_round_trips(db_url: str) -> None:
    db = open_database(db_url)
    upgrade(db)
    before = _schema(db)
    downgrade(db, "base")
    assert current_revision(db) is None
    assert _schema(db) == {}
    upgrade(db)
    assert _schema(db) == before
    db.dispose()


def test_schema_behind_the_code_is_refused(db_url: str) -> None:
    db = open_database(db_url)
    with pytest.raises(DatabaseError, match="callcenter db upgrade"):
        ensure_current(db)
    db.dispose()


def test_seeded_roles_and_dispositions(db_url: str) -> None:
    db = open_database(db_url)
    upgrade(db)
    with db.engine.connect() as conn:
        roles = set(conn.scalars(text("SELECT name FROM roles")))
        unresolved = set(conn.scalars(text("SELECT code FROM dispositions WHERE NOT resolved")))
    assert roles == {"admin", "supervisor", "agent", "backoffice"}
    assert "unresolved" in unresolved and "resolved" not in unresolved
    db.dispose()


def test_agents_queues_members_and_cdr(db_url: str) -> None:
    db = open_database(db_url)
    upgrade(db)
    with db.session() as s:
        AgentRepository(s).add("1001", "Ann", "sip:ann@127.0.0.1", {"english": 8, "billing": 3})
        AgentRepository(s).add("1002", "Bob")
        QueueRepository(s).add("care", "fewest_calls", service_level_s=30)
        QueueRepository(s).add_member("care", "1001", penalty=0)
        QueueRepository(s).add_member("care", "1002", penalty=2, tier=2)
    with db.session() as s, pytest.raises(AlreadyExists):
        AgentRepository(s).add("1001", "Ann again")
    with db.session() as s, pytest.raises(AlreadyExists):
        QueueRepository(s).add_member("care", "1001")
    with db.session() as s, pytest.raises(ValueError, match="allowed"):
        QueueRepository(s).add("x", "bogus")
    with db.session() as s:
        ann = AgentRepository(s).get("1001")
        assert {k.skill.name: k.level for k in ann.skills} == {"english": 8, "billing": 3}
        q = QueueRepository(s).get("care")
        assert sorted((m.agent.code, m.penalty, m.tier) for m in q.members) == [
            ("1001", 0, 1),
            ("1002", 2, 2),
        ]
        call = Call(
            id="c1",
            direction="inbound",
            voice_layer="sip",
            caller="+15550100",
            dialed="100",
            queue_id=q.id,
            agent_id=ann.id,
        )
        call.legs.append(CallLeg(role="caller", remote="sip:+15550100@127.0.0.1"))
        call.events.append(CallEvent(seq=1, kind="ivr", data={"node": "welcome"}))
        call.events.append(CallEvent(seq=2, kind="queued", data={"queue": "care"}))
        s.add(call)
    with db.session() as s:
        AgentRepository(s).remove("1002")
        with pytest.raises(NotFound, match="agents list"):
            AgentRepository(s).get("1002")
    with db.session() as s:
        call = s.get(Call, "c1")
        assert call is not None
        assert [e.kind for e in call.events] == ["ivr", "queued"]
        assert call.events[0].data == {"node": "welcome"}
        assert len(call.legs) == 1
    # A replayed call event (same call, same seq) is refused, not duplicated.
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(CallEvent(call_id="c1", seq=2, kind="queued", data={}))
    # Foreign keys are enforced on both backends (SQLite needs the pragma).
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(CallLeg(call_id="missing", role="caller"))
    # Check constraints too.
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(Call(id="c2", direction="sideways", voice_layer="sip"))
    db.dispose()


def test_sqlite_runs_in_wal_mode(sqlite_url: str) -> None:
    db = open_database(sqlite_url)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("postgresql+psycopg://nobody@127.0.0.1:1/none", "cannot connect"),
        ("not a url", "cannot be parsed"),
        ("postgresql+nodriver://x@127.0.0.1/x", "driver"),
    ],
)
def test_bad_database_url_is_one_clear_error(url: str, fragment: str) -> None:
    with pytest.raises(DatabaseError, match=fragment) as err:
        open_database(url)
    assert "\n" not in str(err.value)


async def test_healthy_reports_a_database_that_went_away(pg_url: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    db = open_database(pg_url)
    assert (await db.healthy())[0]
    admin = create_engine(make_url(pg_url).set(database="test"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{make_url(pg_url).database}" WITH (FORCE)'))
    ok, detail = await db.healthy()
    assert not ok and "database" in detail
    admin.dispose()
    db.dispose()
