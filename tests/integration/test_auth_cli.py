"""``callcenter user`` and ``callcenter audit`` on SQLite and PostgreSQL: add (password from
stdin, agent link), list, token (printed once, only its hash kept), tokens, revoke, passwd,
disable, enable, roles, each change audited; and ``serve`` on a public address with nobody
able to log in stops with one line saying what to run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from callcenter.cli import app
from callcenter.store import AgentRepository, open_database, upgrade
from callcenter.store.models import ApiToken, AuditEntry, User
from callcenter.store.users import UserRepository
from tests.support.brokers import free_port
from tests.support.sip import free_udp_port


def cli(db_url: str, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=stdin,
                                env={"CALLCENTER_DATABASE__URL": db_url})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return 1, result.stdout, f"{type(result.exception).__name__}: {result.exception}"
    return result.exit_code, result.stdout, result.stderr


def test_users_tokens_and_the_audit_log(db_url: str) -> None:
    db = open_database(db_url)
    upgrade(db)
    with db.session() as s:
        AgentRepository(s).add("1001", "Ann")
    code, out, _ = cli(db_url, "user", "add", "ann", "--role", "agent", "--agent", "1001",
                       "--password-stdin", stdin="a long password\n")
    assert code == 0 and out == "user ann added (agent)\n"
    code, _, err = cli(db_url, "user", "add", "bob", "--role", "agent", "--password-stdin",
                       stdin="another password\n")
    assert code == 1 and "needs --agent CODE" in err
    code, _, err = cli(db_url, "user", "add", "sue", "--role", "boss", "--password-stdin",
                       stdin="a long password\n")
    assert code == 1 and "allowed admin, supervisor, agent, backoffice" in err
    code, _, err = cli(db_url, "user", "add", "sue", "--role", "supervisor",
                       "--password-stdin", stdin="short\n")
    assert code == 1 and "at least 10 characters" in err
    assert cli(db_url, "user", "add", "ci", "--role", "supervisor", "--no-password")[0] == 0
    listing = cli(db_url, "user", "list")[1]
    assert "ann" in listing and "agent 1001" in listing and "password" in listing
    assert "tokens only" in listing

    code, out, _ = cli(db_url, "user", "token", "ci", "--name", "crm")
    token = out.strip()
    assert code == 0 and token.startswith("cct_")
    with db.session() as s:
        stored = s.scalars(select(ApiToken)).one()
        assert token not in stored.token_hash and UserRepository(s).by_token(token) is not None
        ann = s.scalars(select(User).where(User.username == "ann")).one()
        assert ann.password_hash is not None and "a long password" not in ann.password_hash
        assert UserRepository(s).check_login("ann", "a long password") is not None
    assert token not in cli(db_url, "user", "tokens")[1]
    assert "crm" in cli(db_url, "user", "tokens", "ci")[1]
    assert cli(db_url, "user", "revoke", str(stored.id))[0] == 0
    assert "revoked" in cli(db_url, "user", "tokens")[1]
    with db.session() as s:
        assert UserRepository(s).by_token(token) is None

    assert cli(db_url, "user", "passwd", "ann", "--password-stdin",
               stdin="a new long password\n")[0] == 0
    assert cli(db_url, "user", "disable", "ann")[0] == 0
    with db.session() as s:
        assert UserRepository(s).check_login("ann", "a new long password") is None  # disabled
    assert cli(db_url, "user", "enable", "ann")[0] == 0
    code, _, err = cli(db_url, "user", "roles", "ci", "--role", "agent")
    assert code == 1 and "needs --agent CODE" in err
    assert cli(db_url, "user", "roles", "ann", "--role", "agent", "--role", "backoffice")[0] == 0
    with db.session() as s:
        who = UserRepository(s).check_login("ann", "a new long password")
        assert who is not None and who.roles == {"agent", "backoffice"} and who.agent == "1001"
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["user.add", "user.add", "token.add", "token.revoke", "user.passwd",
                       "user.disable", "user.enable", "user.roles"]

    code, out, _ = cli(db_url, "audit", "--since", "1h")
    assert code == 0 and out.splitlines()[0].split()[3:5] == ["user.roles", "ann"]
    assert "cli:" in out and "a long password" not in out and token not in out
    assert "user.add" in cli(db_url, "audit", "--action", "user.add", "--json")[1]
    assert cli(db_url, "audit", "--since", "yesterday")[0] == 2
    db.dispose()


def test_serve_on_a_public_address_without_users_says_what_to_run(tmp_path: Path) -> None:
    env = {
        "CALLCENTER_DATABASE__URL": f"sqlite:///{tmp_path}/var/cc.db",
        "CALLCENTER_VAR_DIR": str(tmp_path / "var"),
        "CALLCENTER_RECORDINGS_DIR": str(tmp_path / "recordings"),
        "CALLCENTER_SIP__ENABLED": "false",
        "CALLCENTER_SIP__PORT": str(free_udp_port()),
        "CALLCENTER_BACKOFFICE__SMTP_PORT": str(free_port()),
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run([sys.executable, "-m", "callcenter.cli", "serve", "--host",
                             "0.0.0.0", "--port", "0"], env=env, capture_output=True,
                            text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    (line,) = [x for x in result.stderr.splitlines() if "error:" in x]
    assert "no user can log in" in line and "callcenter user add NAME --role admin" in line
