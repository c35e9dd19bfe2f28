"""Recordings built for compliance, on SQLite and PostgreSQL for real: each finished file's
checksum, ``verify`` finding files changed or missing, retention deleting what is due (and
not what is held, recent or still recording), two purges at once deleting each file once,
legal hold, the engine's periodic purge, the CLI and the REST API."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from callcenter.calls.recordings import RecordingLog
from callcenter.cli import app as root_cli
from callcenter.config import load_settings
from callcenter.engine import Engine
from callcenter.errors import ConfigError, NotFound
from callcenter.recordings.integrity import verify
from callcenter.recordings.purge import RecordingStateError, purge, set_hold
from callcenter.recordings.retention import RetentionPolicy
from callcenter.store import Database, open_database, upgrade
from callcenter.store.audit import entries as audit_entries
from callcenter.store.models import Call
from callcenter.store.recordings import Recording, RecordingAudit
from callcenter.web.recordings import router
from callcenter.web.roles import SUPERVISORS, rule_for
from tests.integration.test_auth import add_people, audit_rows, bearer
from tests.integration.test_auth import settings as auth_settings
from tests.integration.test_campaigns_support import api_client
from tests.support.brokers import free_port
from tests.support.twilio_standin import TwilioStandIn

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
POLICY = RetentionPolicy(30)


def _db(url: str, calls: tuple[str, ...] = ("c1", "c2", "c3")) -> Database:
    db = open_database(url)
    upgrade(db)
    with db.session() as s:
        s.add_all([Call(id=c, direction="inbound", voice_layer="sip") for c in calls])
    return db


def _file(tmp_path: Path, name: str, body: bytes = b"RIFF....WAVE audio") -> Path:
    path = tmp_path / "recordings" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


async def _stored(db: Database, call: str, path: Path, ended_days_ago: float) -> int:
    start = NOW - timedelta(days=ended_days_ago, seconds=60)
    rid, _ = await RecordingLog(db).stored(call, str(path), kind="call", channels=2,
                                           duration_s=60.0, started_at=start)
    return rid


def _rows(db: Database) -> dict[int, Recording]:
    with db.session() as s:
        return {r.id: r for r in s.scalars(select(Recording))}


def _audit(db: Database, action: str) -> list[RecordingAudit]:
    with db.session() as s:
        return list(s.scalars(select(RecordingAudit).where(RecordingAudit.action == action)
                              .order_by(RecordingAudit.recording_id)))


async def test_a_finished_recording_gets_its_checksum_and_size(db_url: str,
                                                             tmp_path: Path) -> None:
    db = _db(db_url)
    log = RecordingLog(db)
    body = b"RIFF" + bytes(range(256)) * 40
    path = _file(tmp_path, "c1-call.wav", body)
    rid = await log.started("c1", str(path), channels=2)
    assert _rows(db)[rid].sha256 is None  # still being made
    await log.stopped(rid, audio_s=1.0)
    rec = _rows(db)[rid]
    assert (rec.status, rec.sha256, rec.size_bytes) == (
        "done", hashlib.sha256(body).hexdigest(), len(body))
    other = _file(tmp_path, "c2-voicemail.wav", b"voicemail")
    vm, _ = await log.stored("c2", str(other), kind="voicemail", channels=1, duration_s=3.0,
                             settle=True)  # not a finished WAV: waits, then takes what is there
    assert _rows(db)[vm].sha256 == hashlib.sha256(b"voicemail").hexdigest()
    failed = await log.started("c3", str(tmp_path / "never.wav"))
    await log.stopped(failed, problem="disk full")
    assert (_rows(db)[failed].status, _rows(db)[failed].sha256) == ("failed", None)
    db.dispose()


async def test_verify_finds_a_changed_byte_and_a_missing_file(db_url: str,
                                                              tmp_path: Path) -> None:
    db = _db(db_url)
    paths = [_file(tmp_path, f"c{i}-call.wav", b"audio %d" % i) for i in (1, 2, 3)]
    ids = [await _stored(db, f"c{i}", p, 1) for i, p in zip((1, 2, 3), paths, strict=True)]
    with db.session() as s:
        assert verify(s).problems == []
    paths[0].write_bytes(b"audio 9")  # one byte changed, same size
    paths[1].unlink()
    with db.session() as s:
        report = verify(s)
    assert report.checked == 3
    assert [(p.recording_id, p.call_id, p.problem) for p in report.problems] == [
        (ids[0], "c1", "changed"), (ids[1], "c2", "missing")]
    changed, missing = (p.line() for p in report.problems)
    assert f"recording {ids[0]} of call c1: {paths[0]} is changed" in changed
    assert "restore the original from a backup" in changed
    assert "missing (no such file): restore it from a backup" in missing
    with db.session() as s:  # --since: only the ones started since
        assert verify(s, NOW + timedelta(days=1)).checked == 0
    db.dispose()


async def test_retention_deletes_old_files_and_keeps_new_held_and_running_ones(
        db_url: str, tmp_path: Path) -> None:
    db = _db(db_url, ("c1", "c2", "c3", "c4", "c5", "c6"))
    old = _file(tmp_path, "c1-call.wav")
    gone = _file(tmp_path, "c2-call.wav")
    new = _file(tmp_path, "c3-call.wav")
    held = _file(tmp_path, "c4-call.wav")
    running = _file(tmp_path, "c5-call.wav")
    old_id = await _stored(db, "c1", old, 40)
    gone_id = await _stored(db, "c2", gone, 31)
    new_id = await _stored(db, "c3", new, 29)
    held_id = await _stored(db, "c4", held, 400)
    running_id = await RecordingLog(db).started("c5", str(running))
    # A stereo recording whose parts could not be joined: its parts are kept, and go too.
    unjoined = tmp_path / "recordings" / "c6-call.wav"
    parts = [_file(tmp_path, "c6-call.caller.wav"), _file(tmp_path, "c6-call.agent.wav")]
    failed_id = await RecordingLog(db).started("c6", str(unjoined), channels=2)
    await RecordingLog(db).stopped(failed_id, problem="the parts could not be joined")
    with db.session() as s:
        s.get(Recording, running_id).started_at = NOW - timedelta(days=90)  # type: ignore
        s.get(Recording, failed_id).ended_at = NOW - timedelta(days=35)  # type: ignore
        assert set_hold(s, held_id, True, "cli:lawyer", "case 2026-17")
    gone.unlink()  # someone removed it by hand: recorded, not fatal

    planned = purge(db, POLICY, NOW, dry_run=True)
    assert [p.recording_id for p in planned] == [old_id, failed_id, gone_id] and old.exists()
    done = purge(db, POLICY, NOW)
    assert [(p.recording_id, p.file_missing) for p in done] == [
        (old_id, False), (failed_id, False), (gone_id, True)]
    assert "the file was already missing" in done[2].line()
    assert not old.exists() and new.exists() and held.exists() and running.exists()
    assert not any(p.exists() for p in parts)
    rows = _rows(db)
    assert {i: r.status for i, r in rows.items()} == {
        old_id: "deleted", gone_id: "deleted", new_id: "done", held_id: "done",
        running_id: "recording", failed_id: "deleted"}
    assert rows[old_id].deleted_at is not None and rows[new_id].deleted_at is None
    audit = _audit(db, "deleted")
    assert [(a.recording_id, a.by) for a in audit] == [
        (old_id, "retention"), (gone_id, "retention"), (failed_id, "retention")]
    assert audit[0].reason.startswith("retention policy: recordings are kept 30 days; ended")
    assert audit[1].reason.endswith("the file was already missing")
    assert not audit[2].reason.endswith("missing")
    assert purge(db, POLICY, NOW) == []  # nothing twice
    with db.session() as s:
        assert verify(s).problems == []  # deleted ones are not "missing"
        with pytest.raises(RecordingStateError, match="no file left to hold"):
            set_hold(s, old_id, True, "cli", "too late")
    db.dispose()


def test_two_purges_at_once_delete_each_file_once(db_url: str, tmp_path: Path) -> None:
    calls = tuple(f"c{i}" for i in range(40))
    db = _db(db_url, calls)
    for i, call in enumerate(calls):
        asyncio.run(_stored(db, call, _file(tmp_path, f"{call}-call.wav"), 31 + i / 10))
    nodes = [open_database(db_url), open_database(db_url)]
    results: list[list[int]] = [[], []]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def node(n: int) -> None:
        try:
            barrier.wait()
            results[n] = [p.recording_id for p in purge(nodes[n], POLICY, NOW)]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=node, args=(n,)) for n in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(results[0] + results[1]) == sorted(_rows(db))  # each once, none left out
    assert len(_audit(db, "deleted")) == len(calls)
    assert not list((tmp_path / "recordings").iterdir())
    for d in (*nodes, db):
        d.dispose()


def test_legal_hold_is_audited_and_a_released_recording_is_due_again(
        db_url: str, tmp_path: Path) -> None:
    db = _db(db_url)
    rid = asyncio.run(_stored(db, "c1", _file(tmp_path, "c1-call.wav"), 60))
    with db.session() as s:
        assert set_hold(s, rid, True, "cli:ann", "subpoena 12")
        assert not set_hold(s, rid, True, "cli:ann", "again")  # no change, no audit row
        with pytest.raises(NotFound, match="recordings list"):
            set_hold(s, 999, True, "cli", "x")
        with pytest.raises(ValueError, match="reason"):
            set_hold(s, rid, False, "cli", " ")
    assert purge(db, POLICY, NOW) == []
    with db.session() as s:
        assert set_hold(s, rid, False, "cli:ann", "case closed")
    assert [p.recording_id for p in purge(db, POLICY, NOW)] == [rid]
    with db.session() as s:
        trail = [(a.action, a.by, a.reason) for a in s.scalars(
            select(RecordingAudit).where(RecordingAudit.recording_id == rid)
            .order_by(RecordingAudit.id))]
    assert trail[2:4] == [("held", "cli:ann", "subpoena 12"),
                          ("released", "cli:ann", "case closed")]
    assert trail[4][:2] == ("deleted", "retention")
    db.dispose()


async def test_the_engine_purges_periodically_and_stops_its_task(sqlite_url: str,
                                                                 tmp_path: Path) -> None:
    settings = load_settings(
        database={"url": sqlite_url}, var_dir=tmp_path / "var",
        recordings_dir=tmp_path / "recordings", http={"port": 0},
        sip={"enabled": False}, backoffice={"enabled": False, "smtp_port": free_port()},
        recordings={"retention_days": 30, "purge_interval_s": 0.05},
    )
    engine = Engine(settings)
    await engine.start()
    try:
        service = engine.retention
        assert service is not None
        await engine.db.run(lambda s: s.add(Call(id="c1", direction="inbound",
                                                 voice_layer="sip")))
        old = _file(tmp_path, "c1-call.wav")
        start = datetime.now(UTC) - timedelta(days=45)
        rid, _ = await RecordingLog(engine.db).stored("c1", str(old), kind="call",
                                                      channels=2, duration_s=5.0,
                                                      started_at=start)
        for _ in range(200):  # the file goes first, then the purge's report is kept
            if not old.exists() and service.deleted:
                break
            await asyncio.sleep(0.02)
        assert not old.exists()
        assert [p.recording_id for p in service.deleted] == [rid]
        assert service.runs >= 2
    finally:
        await engine.stop()
    assert engine.retention is None
    runs = service.runs
    await asyncio.sleep(0.15)
    assert service.runs == runs  # no run after stop


def test_without_retention_days_the_engine_keeps_everything() -> None:
    settings = load_settings()
    assert settings.recordings.retention_days is None
    assert settings.recordings.purge_interval_s == 3600
    assert settings.recordings_dir == Path("recordings")


def test_cli(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE__URL", sqlite_url)
    db = _db(sqlite_url)
    old_path, new_path = _file(tmp_path, "c1-call.wav"), _file(tmp_path, "c2-call.wav")
    ended = datetime.now(UTC) - timedelta(days=40)
    log = RecordingLog(db)
    old, _ = asyncio.run(log.stored("c1", str(old_path), kind="call", channels=2,
                                    duration_s=60.0, started_at=ended))
    new, _ = asyncio.run(log.stored("c2", str(new_path), kind="voicemail", channels=1,
                                    duration_s=5.0))
    cli = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = cli.invoke(root_cli, ["recordings", *args])
        assert result.exit_code == code, (result.output, result.exception)
        return result.output

    listed = run("list").splitlines()
    assert [line.split()[:3] for line in listed] == [[str(new), "c2", "voicemail"],
                                                     [str(old), "c1", "call"]]
    digest = hashlib.sha256(b"RIFF....WAVE audio").hexdigest()
    assert digest[:12] in listed[0] and "60s" in listed[1] and "done" in listed[1]
    (row,) = [json.loads(line) for line in run("list", "--call", "c1", "--json").splitlines()]
    assert (row["id"], row["held"], row["sha256"], row["size_bytes"]) == (old, False, digest, 18)
    assert "recording 1 is on legal hold" in run("hold", str(old), "--reason", "case 7")
    assert "(it was already)" in run("hold", str(old), "--reason", "case 7")
    assert [line.split()[0] for line in run("list", "--held").splitlines()] == [str(old)]
    assert "2 recording(s) checked, 0 missing or changed" in run("verify")
    assert "0 recording(s) would be deleted" in run("purge", "--dry-run", "--days", "30")
    nothing = cli.invoke(root_cli, ["recordings", "purge"])
    assert isinstance(nothing.exception, ConfigError) and nothing.exception.exit_code == 2
    assert "set [recordings] retention_days" in str(nothing.exception)
    assert "released from legal hold" in run("release", str(old), "--reason", "closed")
    out = run("purge", "--dry-run", "--days", "30")
    assert f"would delete recording {old} of call c1" in out and old_path.exists()
    monkeypatch.setenv("CALLCENTER_RECORDINGS__RETENTION_DAYS", "30")
    out = run("purge")
    assert f"deleted recording {old} of call c1" in out and "1 recording(s) deleted" in out
    assert not old_path.exists() and new_path.exists()
    new_path.write_bytes(b"tampered")
    bad = run("verify", code=1)
    assert f"recording {new} of call c2: {new_path} is changed" in bad
    assert "1 missing or changed" in bad
    assert "2 recording(s) checked" not in run("verify", "--since", "2d", code=1)
    missing = cli.invoke(root_cli, ["recordings", "hold", "77", "--reason", "x"])
    assert isinstance(missing.exception, NotFound)
    with db.session() as s:
        held = s.scalars(select(RecordingAudit).where(RecordingAudit.action == "held")).one()
    assert held.by.startswith("cli") and held.reason == "case 7"
    with db.session() as s:
        logged = [(e.action, e.target, e.source, e.details) for e in audit_entries(s)]
    assert logged == [("recording.release", str(old), "cli", {"reason": "closed"}),
                      ("recording.hold", str(old), "cli", {"reason": "case 7"})]
    db.dispose()


async def test_rest_api(db_url: str, tmp_path: Path) -> None:
    db = _db(db_url)
    rid = await _stored(db, "c1", _file(tmp_path, "c1-call.wav"), 40)
    other = await _stored(db, "c2", _file(tmp_path, "c2-call.wav"), 1)
    async with api_client(db, router) as api:
        everything = (await api.get("/api/recordings")).json()
        assert [r["id"] for r in everything] == [other, rid]
        (one,) = (await api.get("/api/recordings", params={"call": "c1"})).json()
        assert one["sha256"] == hashlib.sha256(b"RIFF....WAVE audio").hexdigest()
        held = await api.post(f"/api/recordings/{rid}/hold", json={"reason": "case 9"})
        assert held.status_code == 200 and held.json()["held"] and held.json()["changed"]
        assert [r["id"] for r in (await api.get("/api/recordings?held=true")).json()] == [rid]
        assert (await api.post(f"/api/recordings/{rid}/hold", json={})).status_code == 422
        assert (await api.post("/api/recordings/99/hold",
                               json={"reason": "x"})).status_code == 404
        assert purge(db, POLICY, NOW) == []
        released = await api.post(f"/api/recordings/{rid}/release", json={"reason": "done"})
        assert released.status_code == 200 and not released.json()["held"]
        assert len(purge(db, POLICY, NOW)) == 1
        late = await api.post(f"/api/recordings/{rid}/hold", json={"reason": "too late"})
        assert late.status_code == 409 and "no file left" in late.json()["detail"]
    trail = [(a.action, a.by, a.reason) for a in _audit(db, "held") + _audit(db, "released")]
    assert trail == [("held", "api", "case 9"), ("released", "api", "done")]
    for method, path in (("GET", "/api/recordings"),
                         ("POST", "/api/recordings/{recording_id}/hold"),
                         ("POST", "/api/recordings/{recording_id}/release")):
        assert rule_for(method, path) == SUPERVISORS
    db.dispose()




@pytest.fixture
async def secured(tmp_path: Path, db_url: str, standin: TwilioStandIn
                  ) -> AsyncIterator[tuple[Engine, dict[str, str], httpx.AsyncClient]]:
    """A whole engine with logins required (test_auth's people: sue supervises, ann is an
    agent), and a client on its HTTP port."""
    eng = Engine(auth_settings(tmp_path, db_url, standin))
    tokens = add_people(db_url)
    await eng.start()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{eng.http_port}",
                                 timeout=10) as client:
        yield eng, tokens, client
    await eng.stop()


async def test_holds_over_http_need_a_supervisor_and_are_in_the_audit_log(
        secured: tuple[Engine, dict[str, str], httpx.AsyncClient], tmp_path: Path) -> None:
    eng, tokens, http = secured
    await eng.db.run(lambda s: s.add(Call(id="c1", direction="inbound", voice_layer="sip")))
    rid = await _stored(eng.db, "c1", _file(tmp_path, "c1-call.wav"), 3)
    ann, sue = bearer(tokens["ann"]), bearer(tokens["sue"])
    refused = await http.post(f"/api/recordings/{rid}/hold", json={"reason": "x"}, headers=ann)
    assert refused.status_code == 403 and "supervisor" in refused.json()["detail"]
    assert (await http.get("/api/recordings", headers=ann)).status_code == 403
    held = await http.post(f"/api/recordings/{rid}/hold", json={"reason": "case 4"}, headers=sue)
    assert held.status_code == 200 and held.json()["held"]
    listed = (await http.get("/api/recordings?held=true", headers=sue)).json()
    assert [r["id"] for r in listed] == [rid]
    (row,) = await audit_rows(eng, "recording.hold")
    assert (row.actor, row.target, row.details) == ("sue", str(rid),
                                                    {"call": "c1", "reason": "case 4"})
    (trail,) = _audit(eng.db, "held")
    assert (trail.by, trail.reason) == ("sue", "case 4")


async def test_stopping_waits_for_a_purge_under_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """A purge runs in a thread, which cannot be cancelled: stop lets it finish, so the engine
    never closes the database under it."""
    from callcenter.recordings import service as service_module

    started, finished = threading.Event(), threading.Event()

    def slow_purge(*_: object) -> list[object]:
        started.set()
        finished.wait(0.3)
        finished.set()
        return []

    monkeypatch.setattr(service_module, "purge", slow_purge)
    svc = service_module.RetentionService(None, POLICY, 3600.0)  # type: ignore[arg-type]
    await svc.start()
    assert await asyncio.to_thread(started.wait, 5)
    await svc.stop()
    assert finished.is_set()
