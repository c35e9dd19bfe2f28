from pathlib import Path

import pytest

from callcenter.config import load_settings, masked
from callcenter.errors import ConfigError


def test_embedded_defaults() -> None:
    s = load_settings()
    assert s.database.url == "sqlite:///var/callcenter.db"
    assert s.bus.kind == "inprocess"
    assert (s.http.host, s.http.port) == ("127.0.0.1", 8080)


def test_environment_overrides_file_and_file_overrides_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "cc.toml"
    cfg.write_text('tenant = "acme"\n[http]\nport = 9000\n[bus]\nkind = "mqtt"\n')
    monkeypatch.setenv("CALLCENTER_HTTP__PORT", "9100")
    s = load_settings(cfg)
    assert s.tenant == "acme"
    assert s.bus.kind == "mqtt"
    assert s.http.port == 9100


def test_config_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "cc.toml"
    cfg.write_text('[log]\nlevel = "debug"\n')
    monkeypatch.setenv("CALLCENTER_CONFIG", str(cfg))
    assert load_settings().log.level == "DEBUG"


@pytest.mark.parametrize(
    ("env", "value", "expected"),
    [
        ("CALLCENTER_HTTP__PORT", "eighty", "http.port='eighty'"),
        ("CALLCENTER_HTTP__PORT", "70000", "http.port='70000'"),
        ("CALLCENTER_BUS__KIND", "zeromq", "'inprocess' or 'mqtt'"),
        ("CALLCENTER_DATABASE__URL", "mysql://x", "postgresql"),
        ("CALLCENTER_TENANT", "a/b", "tenant='a/b'"),
    ],
)
def test_invalid_value_is_one_line_naming_key_value_and_allowed(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert "\n" not in message
    assert expected in message
    assert env in message  # where to fix it


def test_unknown_key_in_file_is_reported(tmp_path: Path) -> None:
    cfg = tmp_path / "cc.toml"
    cfg.write_text("[http]\nprot = 1\n")
    with pytest.raises(ConfigError, match="unknown configuration key 'http.prot'"):
        load_settings(cfg)


def test_malformed_file_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[http\nport = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML.*line 1"):
        load_settings(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_masked_hides_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE__URL", "postgresql+psycopg://cc:hunter2@db/cc")
    monkeypatch.setenv("CALLCENTER_BUS__MQTT__PASSWORD", "s3cret")
    shown = repr(masked(load_settings()))
    assert "hunter2" not in shown and "s3cret" not in shown
    assert "***" in shown


def test_tls_needs_its_certificate_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "cc.toml"
    cfg.write_text('[sip]\ntransports = ["udp", "tls"]\n')
    with pytest.raises(ConfigError, match="set sip.tls_cert_file and sip.tls_key_file"):
        load_settings(cfg)
    cfg.write_text(f'[sip]\ntransports = ["tls"]\ntls_cert_file = "{tmp_path}/none.pem"\n'
                   f'tls_key_file = "{tmp_path}/none.pem"\n')
    with pytest.raises(ConfigError, match="none.pem is not a readable file"):
        load_settings(cfg)
    (tmp_path / "c.pem").write_text("x")
    cfg.write_text(f'[sip]\ntransports = ["tls"]\ntls_cert_file = "{tmp_path}/c.pem"\n'
                   f'tls_key_file = "{tmp_path}/c.pem"\n')
    assert load_settings(cfg).sip.transports == ["tls"]


def test_mandatory_srtp_only_with_tls_alone(tmp_path: Path) -> None:
    cfg = tmp_path / "cc.toml"
    cfg.write_text('[sip]\nsrtp = "mandatory"\n')
    with pytest.raises(ConfigError, match=r"needs sip.transports = \[\"tls\"\] only"):
        load_settings(cfg)
