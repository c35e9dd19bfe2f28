"""The engine's one settings object.

Values come, strongest first, from ``CALLCENTER_*`` environment variables (nested keys joined
by ``__``: ``CALLCENTER_DATABASE__URL``), then an optional TOML file (``--config FILE`` or
``CALLCENTER_CONFIG``), then the embedded defaults: SQLite under ``var/``, the in-process bus,
HTTP on 127.0.0.1:8080. :func:`load_settings` turns every invalid value into one
:class:`~callcenter.errors.ConfigError` line naming the key, the value and what is allowed.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from callcenter.errors import ConfigError

ENV_PREFIX = "CALLCENTER_"
ENV_NESTED = "__"
CONFIG_FILE_ENV = "CALLCENTER_CONFIG"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(_Section):
    url: str = Field(
        "sqlite:///var/callcenter.db",
        description="SQLAlchemy URL: sqlite:///PATH (embedded) or postgresql+psycopg://...",
    )
    echo: bool = Field(False, description="Log every SQL statement (debugging only).")
    auto_migrate: bool = Field(
        True, description="Upgrade the schema at start-up; off: refuse to start when it is behind."
    )

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql")):
            raise ValueError("allowed: a sqlite:///PATH or postgresql+psycopg://USER@HOST/DB URL")
        return value


class MqttSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    tls: bool = False
    client_id: str | None = Field(None, description="Defaults to callcenter-<tenant>-<pid>.")
    keepalive_s: int = Field(30, ge=5, le=3600)


class BusSettings(_Section):
    kind: Literal["inprocess", "mqtt"] = Field(
        "inprocess", description="inprocess (one engine) or mqtt (wallboards, integrations, nodes)"
    )
    buffer_size: int = Field(
        10_000, ge=10, description="Events kept while the broker is away; older ones are dropped."
    )
    reconnect_min_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)
    mqtt: MqttSettings = MqttSettings()


class HttpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535, description="0 picks a free port.")
    auth: Literal["auto", "required", "off"] = Field(
        "auto",
        description="Who may use the REST API and the pages (docs/security.md): auto: required "
        "when host is not a loopback address, off on loopback; required; off (a warning at "
        "start when not on loopback).",
    )
    session_secret: SecretStr | None = Field(
        None,
        description="Signs the browser session cookies; the same on every node behind one "
        "address. Unset: generated into var_dir/session.key on first start.",
    )
    session_hours: float = Field(
        12.0, gt=0, le=24 * 30, description="How long a browser login lasts."
    )
    desktop_presence_s: float = Field(
        30.0, ge=0, le=3600,
        description="Pause an agent who had the agent desktop open in this login and then has "
        "none open for this long (\"desktop closed: ...\"); a desktop opened again makes them "
        "ready, unless they or a supervisor chose a pause since. A page reload reconnects in "
        "about 2 s. 0: off (docs/acd.md, Agent desktop).",
    )


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_lines: bool = Field(False, description="JSON lines instead of human-readable text.")

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class SlaTargetSettings(_Section):
    first_response_min: int = Field(ge=1, description="Minutes to the first agent reply.")
    resolution_min: int = Field(ge=1, description="Minutes to resolution.")
    calendar: Literal["24x7", "business"] = Field(
        "business", description="Count every minute (24x7) or only business hours."
    )


Priority = Literal["low", "normal", "high", "urgent"]


def _default_sla() -> dict[Priority, SlaTargetSettings]:
    return {
        "urgent": SlaTargetSettings(first_response_min=30, resolution_min=240, calendar="24x7"),
        "high": SlaTargetSettings(first_response_min=60, resolution_min=480, calendar="24x7"),
        "normal": SlaTargetSettings(first_response_min=240, resolution_min=1440),
        "low": SlaTargetSettings(first_response_min=480, resolution_min=4320),
    }


class EscalationSettings(_Section):
    unresolved_dispositions: list[str] = Field(
        ["unresolved", "complaint", "callback"],
        description="Disposition codes that turn a call into a ticket.",
    )
    abandon_after_s: float | None = Field(
        60.0,
        ge=0,
        description="A caller who hangs up after waiting this long gets a call-back "
        "ticket; unset: never.",
    )
    survey_threshold: int | None = Field(
        2, description="A survey score at or under this opens a ticket; unset: never."
    )
    repeat_caller_h: float | None = Field(
        None, gt=0, description="A second call within this many hours opens a ticket; unset: off."
    )
    voicemail: bool = Field(True, description="A voicemail left opens a ticket.")


class BackofficeSettings(_Section):
    enabled: bool = Field(True, description="Run the inbound mail server, mail out and chat.")
    smtp_host: str = Field("127.0.0.1", description="Where the inbound SMTP server listens.")
    smtp_port: int = Field(8025, ge=0, le=65535, description="0 picks a free port.")
    relay_host: str | None = Field(
        None,
        description="Outbound SMTP relay; unset: mail is kept "
        "as pending in the database and not sent.",
    )
    relay_port: int = Field(25, ge=1, le=65535)
    relay_username: str | None = None
    relay_password: SecretStr | None = None
    relay_starttls: bool = False
    from_address: str = Field("support@localhost", description="Sender of the engine's mail.")
    attachments_dir: Path = Field(Path("var/attachments"), description="Mail attachments.")
    max_message_bytes: int = Field(25 * 1024 * 1024, ge=1024)
    chat_wait_s: float = Field(
        120.0, gt=0, description="A chat nobody takes within this becomes a ticket."
    )
    sla_check_s: float = Field(30.0, gt=0, description="How often SLA clocks are checked.")
    timezone: str = Field("UTC", description="Time zone of the business hours.")
    business_hours: dict[str, list[str]] = Field(
        default_factory=lambda: {d: ["08:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        description="Opening ranges per weekday for SLA plans on the business calendar.",
    )
    sla: dict[Priority, SlaTargetSettings] = Field(
        default_factory=_default_sla, description="SLA targets per ticket priority."
    )
    escalation: EscalationSettings = EscalationSettings()


class DialerSettings(_Section):
    local_rules: Path | None = Field(
        None,
        description="TOML table of stricter local calling rules (US states, countries) that "
        "replaces the shipped dialer/local_rules.toml; unset: the shipped table.",
    )
    lease_s: float = Field(
        15.0, ge=6.0, le=300.0,
        description="How long a node holds a running campaign without renewing (renewed "
        "every 2 s): a node that dies is replaced by another after this.",
    )


class ClusterSettings(_Section):
    """Several engine nodes as one call center (docs/cluster.md): one node leads the ACD, the
    others hand their callers over to it over SIP."""

    enabled: bool = Field(
        False,
        description="Share the ACD with the other nodes on this database: the node holding "
        "the ACD lease leads it. Off: this node alone, always the ACD's leader (no lease).",
    )
    secret: SecretStr | None = Field(
        None, validate_default=True,
        description="Signs the handovers of callers between nodes; the same on every node. "
        "Required when enabled.",
    )
    sip_uri: str | None = Field(
        None,
        description="Where the other nodes send this node SIP calls (sip:10.0.0.5:5070); "
        "unset: from sip.public_host (else sip.host) and sip.port.",
    )
    http_url: str | None = Field(
        None, description="Where the other nodes reach this node's HTTP API (http://...); "
        "unset: from http.host and http.port."
    )
    lease_s: float = Field(
        15.0, ge=6.0, le=300.0,
        description="How long the ACD's leader holds the lead without renewing (renewed every "
        "2 s): a leader that dies is replaced by another node after this.",
    )
    handover_number: str = Field(
        "cc-handover", pattern=r"^[A-Za-z0-9._~+-]{1,64}$",
        description="The SIP user part the leader takes handed-over callers on (letters, "
        "digits and . _ ~ + -).",
    )

    @field_validator("sip_uri", "http_url")
    @classmethod
    def _address(cls, value: str | None, info: ValidationInfo) -> str | None:
        schemes, example = {"sip_uri": (("sip:", "sips:"), "a SIP URI such as sip:10.0.0.5:5070"),
                            "http_url": (("http://", "https://"), "an http:// or https:// URL "
                                         "such as http://10.0.0.5:8080")}[str(info.field_name)]
        if value is not None and not value.startswith(schemes):
            raise ValueError(f"allowed: {example}")
        return value

    @field_validator("secret")
    @classmethod
    def _secret_when_enabled(cls, value: SecretStr | None,
                             info: ValidationInfo) -> SecretStr | None:
        if info.data.get("enabled") and (value is None or not value.get_secret_value()):
            raise ValueError("cluster.enabled needs a secret, the same on every node "
                             "(or turn cluster.enabled off)")
        return value


class RecordingSettings(_Section):
    """How long recordings are kept (docs/recordings.md); where: the top-level recordings_dir."""

    retention_days: int | None = Field(
        None, ge=1,
        description="Delete a recording's file this many days after it ended (its row stays, "
        "status deleted, audited): your storage-limitation policy (GDPR, PCI DSS). Recordings "
        "on legal hold (`callcenter recordings hold`) are kept. Unset: keep forever.",
    )
    purge_interval_s: float = Field(
        3600.0, gt=0, le=7 * 24 * 3600,
        description="How often the engine deletes the recordings retention_days makes due "
        "(each node may; a recording is deleted once).",
    )


class SipSettings(_Section):
    """The SIP voice layer (pjsua2): where it listens and which numbers run which flow."""

    enabled: bool = Field(True, description="Run the SIP voice layer (needs the pjsua2 build).")
    host: str = "127.0.0.1"
    port: int = Field(5060, ge=1, le=65535)
    public_host: str | None = Field(None, description="Address put in Contact/SDP behind NAT.")
    transports: list[Literal["udp", "tcp", "tls"]] = Field(
        ["udp", "tcp"], min_length=1,
        description="SIP transports: udp and tcp at host:port, tls at host:tls_port (needs "
        "tls_cert_file and tls_key_file). TCP takes phones and trunks that call over TCP, and "
        "requests too large for one UDP datagram (RFC 3261 18.1.1); an agent or gateway URI "
        "with ;transport=tcp or ;transport=tls is called that way.",
    )
    tls_port: int = Field(5061, ge=1, le=65535, description="Where SIP over TLS listens.")
    tls_cert_file: Path | None = Field(
        None, description="PEM certificate (with its chain) the engine shows on TLS.")
    tls_key_file: Path | None = Field(None, description="PEM private key of tls_cert_file.")
    tls_ca_file: Path | None = Field(
        None, description="PEM CAs to verify the phones and trunks the engine calls over TLS; "
        "unset: their certificates are not verified (the link is still encrypted).")
    srtp: Literal["off", "optional", "mandatory"] = Field(
        "off",
        description="Encrypted media (SRTP with SDES: the keys travel in the SDP, so use it "
        "with TLS): optional offers it and takes it when offered, else plain RTP; mandatory "
        "refuses a call without it (then transports must be [\"tls\"] only).",
    )
    max_calls: int = Field(
        1000, ge=1, le=8191, description="Call slots; start-up fails if pjsua2 has fewer."
    )
    media_threads: int = Field(
        1, ge=1, le=16, description="pjmedia's worker threads receiving RTP (pjsua's default 1)."
    )
    rtp_port: int = Field(
        4000, ge=1024, le=65534,
        description="First UDP port of the media (RTP, RTCP on the next port): each call leg "
        "takes the next free pair from here. Open rtp_port to rtp_port + rtp_port_range in the "
        "firewall; give nodes on one host different ranges.",
    )
    rtp_port_range: int = Field(
        0, ge=0, le=64000,
        description="How many ports past rtp_port the media may use (0: no limit). A call "
        "with an agent takes 4 (two legs); a leg that finds no free port fails.",
    )
    udp_buffer_bytes: int = Field(
        2 * 1024 * 1024,
        ge=0,
        description="Receive/send buffer of the SIP UDP socket: holds a burst of SIP messages "
        "(about 900 at 2 MiB, a quarter second at 900 calls/s) while the engine is busy; the OS "
        "default of ~208 KiB drops INVITEs and keys in a 50 ms pause. Larger only delays "
        "everything under overload. Capped by net.core.rmem_max (a warning at start says "
        "so); 0: the OS default.",
    )
    numbers: dict[str, str] = Field(
        {"100": "ivr_flows/main.yaml"}, description="Dialed number -> IVR flow file."
    )
    outbound_gateway: str | None = Field(
        None, description="host:port that outbound calls (the dialer) are sent to: your SBC "
        "(host:port;transport=tcp to call it over TCP)."
    )
    agent_login_number: str = Field(
        "9000", description="Agents' softphones dial this to log in and stay connected."
    )
    trusted_sources: list[str] = Field(
        [], description="CIDRs allowed to send INVITEs; empty: anyone (use on loopback only)."
    )
    rate_per_source: float = Field(50.0, gt=0, description="INVITEs per second per source IP.")
    overload_lag_ms: int = Field(
        250,
        ge=0,
        description="Refuse new calls with 503 + Retry-After while the engine's event loop runs "
        "this late (past its capacity; calls up are kept), until it catches up; 0: never.",
    )
    presence_interval_s: float = Field(
        5.0, ge=0, description="OPTIONS ping period for on-demand agents' phones; 0: off."
    )
    presence_failures: int = Field(
        2, ge=1, description="Unanswered pings in a row that pause the agent."
    )
    prompt_cache_dir: Path = Field(Path("var/prompts"), description="Rendered TTS prompts.")
    hold_music: Path | None = Field(None, description="WAV (8 kHz mono) looped while queued.")
    record_calls: bool = Field(True, description="Record bridged calls into recordings_dir.")
    recording_channels: Literal["mono", "stereo"] = Field(
        "stereo",
        description="stereo: the caller on the left channel, the agent on the right (quality "
        "monitoring, speech analytics; as Twilio records); mono: both mixed, half the size.",
    )
    language: str = Field("en-US", description="Language of the queue announcements.")

    @model_validator(mode="after")
    def _tls_files(self) -> SipSettings:
        if self.srtp == "mandatory" and self.transports != ["tls"]:
            raise ValueError("sip.srtp mandatory needs sip.transports = [\"tls\"] only (its "
                             "keys must not travel in clear): set both, or srtp = optional")
        if "tls" not in self.transports:
            return self
        if self.tls_cert_file is None or self.tls_key_file is None:
            raise ValueError("sip.transports has tls: set sip.tls_cert_file and "
                             "sip.tls_key_file (PEM), or leave tls out")
        for name in ("tls_cert_file", "tls_key_file", "tls_ca_file"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ValueError(f"sip.{name} {path} is not a readable file: give the PEM "
                                 "file's path")
        return self


class TwilioSettings(_Section):
    """The Twilio voice layer: webhooks answered with TwiML, the REST API for outbound legs."""

    enabled: bool = Field(False, description="Serve Twilio webhooks under /twilio.")
    account_sid: str = Field("", description="The account's SID (AC...).")
    auth_token: SecretStr = Field(
        SecretStr(""), description="Checks webhook signatures; authenticates REST calls."
    )
    public_base_url: str = Field(
        "http://127.0.0.1:8080",
        description="The URL Twilio calls, as Twilio sees it (https://... behind a TLS-terminating "
        "proxy); webhook signatures are checked against it.",
    )
    api_base_url: str = Field(
        "https://api.twilio.com", description="Twilio's REST API (tests point it at a stand-in)."
    )
    numbers: dict[str, str] = Field(
        {}, description="Dialed Twilio number (E.164) -> IVR flow file."
    )
    caller_id: str | None = Field(
        None, description="From number of legs to agents' phones; unset: the number dialed."
    )
    agent_answer_timeout_s: float = Field(15.0, gt=0, description="Ring an agent this long.")
    transfer_timeout_s: float = Field(
        30.0, gt=0, description="Ring the number or SIP URI an agent transfers a caller to."
    )
    hold_music_url: str = Field(
        "http://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3",
        description="Played to callers waiting in a queue (looped by Twilio's wait URL).",
    )
    record_calls: bool = Field(True, description="Record agent calls into recordings_dir.")
    language: str = Field("en-US", description="Language of the queue announcements.")


class Settings(BaseSettings):
    """Everything the engine can be told. ``callcenter config show`` prints it, secrets masked."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED,
        extra="forbid",
        validate_default=True,
    )

    tenant: str = Field(
        "default", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Name used in bus topics."
    )
    node: str | None = Field(
        None, min_length=1, max_length=64,
        description="This engine's name among the nodes sharing one database (who runs which "
        "campaign: campaign leases); unset: host name and process id. Unique per node.",
    )
    var_dir: Path = Field(Path("var"), description="Where the engine keeps its state files.")
    recordings_dir: Path = Field(Path("recordings"), description="Where recordings are stored.")
    recordings: RecordingSettings = RecordingSettings()
    database: DatabaseSettings = DatabaseSettings()
    bus: BusSettings = BusSettings()
    http: HttpSettings = HttpSettings()
    log: LogSettings = LogSettings()
    sip: SipSettings = SipSettings()
    twilio: TwilioSettings = TwilioSettings()
    backoffice: BackofficeSettings = BackofficeSettings()
    dialer: DialerSettings = DialerSettings()
    cluster: ClusterSettings = ClusterSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file_path
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


# Set by load_settings only while it builds Settings: pydantic-settings asks the class, not the
# instance, for its sources.
_config_file_path: Path | None = None


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build the settings, or raise one :class:`ConfigError` that says what to fix."""
    global _config_file_path
    path = config_file or os.environ.get(CONFIG_FILE_ENV) or None
    if path is not None:
        path = Path(path)
        _check_config_file(path)
    _config_file_path = path
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None
    finally:
        _config_file_path = None


def _check_config_file(path: Path) -> None:
    if not path.is_file():
        raise ConfigError(
            f"config file {path} does not exist: create it, or unset {CONFIG_FILE_ENV} / --config"
        )
    try:
        tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML ({exc}): fix the syntax") from None


def _describe(exc: ValidationError, path: Path | None) -> str:
    """One line naming the first bad key, its value, what is allowed and where to set it."""
    err = exc.errors()[0]
    loc = [str(part) for part in err["loc"]]
    key = ".".join(loc)
    env_name = ENV_PREFIX + ENV_NESTED.join(loc).upper()
    where = f"{env_name} or [{'.'.join(loc[:-1])}] {loc[-1]}" if len(loc) > 1 else env_name
    if path is not None:
        where += f" in {path}"
    if err["type"] == "extra_forbidden":
        return f"unknown configuration key '{key}': remove it, or see `callcenter config show`"
    value = err.get("input")
    shown = "***" if _is_secret(key) else repr(value)
    more = (
        f" ({len(exc.errors()) - 1} more problem(s) after this one)"
        if len(exc.errors()) > 1
        else ""
    )
    return (
        f"invalid configuration {key}={shown}: {err['msg']}; set {where} to an allowed value{more}"
    )


def _is_secret(key: str) -> bool:
    return any(word in key.lower() for word in ("password", "token", "secret"))


def masked(settings: Settings) -> dict[str, Any]:
    """The effective configuration as plain data, with passwords and tokens replaced by ***."""
    from sqlalchemy.engine import make_url

    data = settings.model_dump(mode="json")
    data["database"]["url"] = make_url(settings.database.url).render_as_string(hide_password=True)
    return _mask(data)


def _mask(node: Any, key: str = "") -> Any:
    if isinstance(node, dict):
        return {k: _mask(v, k) for k, v in node.items()}
    if _is_secret(key) and node is not None:
        return "***"
    return node
