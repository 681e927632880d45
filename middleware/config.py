"""One typed Settings object, built from the environment and an optional TOML file.

Precedence: environment variable > TOML file (``CALLCENTER_CONFIG`` or ``--config``) > default.
Constructors elsewhere receive a Settings; nothing else reads the environment.

Secrets come only from the environment or from files no one else may read (mode 0600): the AMI secret
from AMI_SECRET or AMI_SECRET_FILE, the database password from DATABASE_URL or DATABASE_PASSWORD_FILE.
There is no default password: without either, a random AMI secret is generated once for this machine
(``<run_dir>/ami-secret``, 0600), which the local stack, the demo and the CLI all read.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psycopg.conninfo import make_conninfo

from middleware import event_loop
from middleware.security.auth_failures import parse_networks

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A setting is missing or has a value of the wrong shape."""


@dataclass(frozen=True)
class Settings:
    database_url: str = "postgresql://postgres@127.0.0.1:5432/callcenter"
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_user: str = "callcenter"
    ami_secret: str = ""
    ami_secret_file: Path | None = None
    database_password_file: Path | None = None
    # The role Asterisk's cdr_pgsql writes its CDR rows with (INSERT on `cdr` only); default: DATABASE_URL's.
    cdr_database_url: str = ""
    cdr_database_password_file: Path | None = None
    ami_action_timeout: float = 5.0
    ami_watchdog_interval: float = 5.0
    overflow_interval: float = 2.0
    announce_interval: float = 2.0
    dialer_interval: float = 1.0  # how often the dialer paces each running campaign
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    agi_command_timeout: float = 30.0
    agi_header_timeout: float = 5.0
    agi_max_header_bytes: int = 16384
    agi_max_sessions: int = 1000  # concurrent FastAGI sessions; more are refused (the dialplan falls back)
    # Who may connect to FastAGI besides loopback and the Asterisk host (AMI_HOST): addresses or networks.
    agi_allow: str = ""
    sip_bind: str = "127.0.0.1:5060"
    # Failed SIP authentications: this many within the window block the address for block_s.
    sip_block_failures: int = 5
    # Unknown-account failures alone (forgeable single UDP packets) block only at this many.
    sip_block_unknown_failures: int = 30
    sip_block_window_s: float = 60.0
    sip_block_s: float = 900.0
    # Addresses never blocked (carriers, this host), comma-separated addresses or networks.
    sip_never_block: str = "127.0.0.1/32"
    http_host: str = "127.0.0.1"
    # Requests per API token: a burst of this many, then this many a second (429 with Retry-After past it).
    api_burst: float = 40.0
    api_rate_per_s: float = 20.0
    http_port: int = 8088
    asterisk_root: Path = PROJECT_ROOT / ".cache" / "rootfs"
    asterisk_config_dir: Path = PROJECT_ROOT / "asterisk-config"
    dialplan_dir: Path = PROJECT_ROOT / "dialplans"
    run_dir: Path = PROJECT_ROOT / ".cache" / "run"
    # Where call records PostgreSQL could not take wait, fsync'd, until it answers (default in run_dir).
    cdr_journal: Path | None = None
    # A call still open after this long lost its end (Asterisk restarted under it): written incomplete.
    cdr_max_call_age_s: float = 4 * 3600.0
    # Where the PBX's recordings appear on this host (default: inside the chroot rootfs).
    recordings_dir: Path | None = None
    log_level: str = "info"
    log_format: str = "json"
    event_loop: str = "uvloop"  # or "asyncio" (middleware/event_loop.py)
    db_pool_min: int = 1
    db_pool_max: int = 10
    # A fixed instant (ISO 8601 with offset) the IVR's schedules see instead of the real time:
    # for tests and for rehearsing after-hours routing. Empty = the real clock.
    clock: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def recordings_root(self) -> Path:
        return self.recordings_dir or self.asterisk_root / "var" / "spool" / "asterisk" / "monitor"

    @property
    def journal_path(self) -> Path:
        return self.cdr_journal or self.run_dir / "cdr-journal.jsonl"

    @property
    def generated_dir(self) -> Path:
        """Where provisioning writes the PJSIP/queue config that Asterisk #includes."""
        return self.asterisk_root / "etc" / "asterisk" / "generated"

    def with_overrides(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


_ENV_NAMES: dict[str, str] = {
    "database_url": "DATABASE_URL",
    "ami_host": "AMI_HOST",
    "ami_port": "AMI_PORT",
    "ami_user": "AMI_USER",
    "ami_secret": "AMI_SECRET",
    "ami_secret_file": "AMI_SECRET_FILE",
    "database_password_file": "DATABASE_PASSWORD_FILE",
    "cdr_database_url": "CDR_DATABASE_URL",
    "cdr_database_password_file": "CDR_DATABASE_PASSWORD_FILE",
    "ami_action_timeout": "AMI_ACTION_TIMEOUT",
    "ami_watchdog_interval": "AMI_WATCHDOG_INTERVAL",
    "overflow_interval": "OVERFLOW_INTERVAL",
    "announce_interval": "ANNOUNCE_INTERVAL",
    "dialer_interval": "DIALER_INTERVAL",
    "agi_host": "AGI_HOST",
    "agi_port": "AGI_PORT",
    "agi_command_timeout": "AGI_COMMAND_TIMEOUT",
    "agi_header_timeout": "AGI_HEADER_TIMEOUT",
    "agi_max_header_bytes": "AGI_MAX_HEADER_BYTES",
    "agi_max_sessions": "AGI_MAX_SESSIONS",
    "agi_allow": "AGI_ALLOW",
    "sip_bind": "SIP_BIND",
    "sip_block_failures": "SIP_BLOCK_FAILURES",
    "sip_block_unknown_failures": "SIP_BLOCK_UNKNOWN_FAILURES",
    "sip_block_window_s": "SIP_BLOCK_WINDOW_S",
    "sip_block_s": "SIP_BLOCK_S",
    "sip_never_block": "SIP_NEVER_BLOCK",
    "http_host": "HTTP_HOST",
    "api_burst": "API_BURST",
    "api_rate_per_s": "API_RATE_PER_S",
    "http_port": "HTTP_PORT",
    "asterisk_root": "ASTERISK_ROOT",
    "asterisk_config_dir": "ASTERISK_CONFIG_DIR",
    "dialplan_dir": "DIALPLAN_DIR",
    "run_dir": "CALLCENTER_RUN_DIR",
    "cdr_journal": "CDR_JOURNAL",
    "cdr_max_call_age_s": "CDR_MAX_CALL_AGE_S",
    "recordings_dir": "RECORDINGS_DIR",
    "log_level": "LOG_LEVEL",
    "log_format": "LOG_FORMAT",
    "event_loop": "EVENT_LOOP",
    "db_pool_min": "DB_POOL_MIN",
    "db_pool_max": "DB_POOL_MAX",
    "clock": "CALLCENTER_CLOCK",
}


def _coerce(name: str, raw: object) -> object:
    kind = {f.name: f.type for f in dataclasses.fields(Settings)}[name]
    try:
        if kind == "int":
            return int(str(raw))
        if kind == "float":
            return float(str(raw))
        if kind in ("Path", "Path | None"):
            return Path(str(raw)).expanduser() if str(raw) else None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name}: {raw!r} is not a valid {kind}") from exc
    return str(raw)


def fixed_clock(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"CALLCENTER_CLOCK {text!r} is not an ISO 8601 date-time") from exc
    if value.tzinfo is None:
        raise ConfigError(f"CALLCENTER_CLOCK {text!r} needs a UTC offset, e.g. 2026-11-22T23:30:00-05:00")
    return value


def clock_of(settings: Settings) -> Callable[[], datetime]:
    """The service's clock: the real one, or the fixed instant of CALLCENTER_CLOCK."""
    if settings.clock:
        fixed = fixed_clock(settings.clock)
        return lambda: fixed
    return lambda: datetime.now(UTC)


def read_secret(path: Path, what: str) -> str:
    """A secret from a file only its owner may read; ConfigError otherwise."""
    try:
        mode = path.stat().st_mode
        text = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{what} file {path}: {exc.strerror or exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{what} file {path} may be read by others (mode {stat.S_IMODE(mode):04o}): chmod 600 it")
    if not text:
        raise ConfigError(f"{what} file {path} is empty")
    return text


def local_secret(path: Path) -> Path:
    """This machine's generated AMI secret, created (0600, 192 random bits) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(24) + "\n")
    return path


def _with_secrets(settings: Settings) -> Settings:
    changes: dict[str, Any] = {}
    if not settings.ami_secret:
        path = settings.ami_secret_file or local_secret(settings.run_dir / "ami-secret")
        changes["ami_secret"] = read_secret(path, "AMI secret")
    if settings.database_password_file is not None:
        password = read_secret(settings.database_password_file, "database password")
        changes["database_url"] = make_conninfo(settings.database_url, password=password)
    if settings.cdr_database_password_file is not None:
        if not settings.cdr_database_url:
            raise ConfigError("CDR_DATABASE_PASSWORD_FILE needs CDR_DATABASE_URL")
        password = read_secret(settings.cdr_database_password_file, "CDR database password")
        changes["cdr_database_url"] = make_conninfo(settings.cdr_database_url, password=password)
    return dataclasses.replace(settings, **changes) if changes else settings


def load_settings(env: Mapping[str, str] | None = None, toml_path: Path | None = None) -> Settings:
    """Build Settings from a TOML file (flat keys named like the fields) and the environment."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    path = toml_path or (Path(env["CALLCENTER_CONFIG"]) if env.get("CALLCENTER_CONFIG") else None)
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError as exc:
            raise ConfigError(f"config file {path} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: {exc}") from exc
        known = set(_ENV_NAMES)
        for key, value in data.items():
            if key not in known:
                raise ConfigError(f"config file {path}: unknown setting {key!r}")
            if key == "ami_secret":
                raise ConfigError(f"config file {path}: secrets do not go in the config file; "
                                  "use AMI_SECRET or AMI_SECRET_FILE (mode 0600)")
            values[key] = _coerce(key, value)
    for name, env_name in _ENV_NAMES.items():
        if env.get(env_name):
            values[name] = _coerce(name, env[env_name])
    settings = _with_secrets(Settings(**values))
    if settings.clock:
        fixed_clock(settings.clock)  # fail at start-up, not on the first call
    for name, value in (("SIP_NEVER_BLOCK", settings.sip_never_block), ("AGI_ALLOW", settings.agi_allow)):
        try:
            parse_networks(value)
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc}") from None
    if settings.log_format not in ("json", "console"):
        raise ConfigError(f"LOG_FORMAT must be json or console, not {settings.log_format!r}")
    if settings.event_loop not in event_loop.EVENT_LOOPS:
        raise ConfigError(event_loop.unknown(settings.event_loop))
    return settings
