"""The only reader of ``LT_*`` variables: one typed, frozen ``Settings`` object.

A bad value raises ``SettingsError`` whose message is one sentence naming the variable;
the command line prints that sentence and exits, so a typo never ends in a traceback.
"""

from __future__ import annotations

import os
import secrets
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

Engine = Literal["postgres", "sqlite"]
REGIONS = ("US", "EU")
# libpq's sslmode values, which asyncpg takes as they are.
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


class SettingsError(Exception):
    """A configuration value that cannot be used; the message names the variable."""


def _sslmode(variable: str, query: str) -> str | None:
    """The one query parameter a PostgreSQL URL may carry: ``sslmode``, as libpq reads it."""
    sslmode = None
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name != "sslmode":
            raise SettingsError(f"{variable} has the parameter {name!r}; only sslmode is read.")
        if value not in SSL_MODES:
            modes = ", ".join(SSL_MODES)
            raise SettingsError(f"{variable} has sslmode={value!r}; use one of {modes}.")
        sslmode = value
    return sslmode


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed database location: a PostgreSQL server (and database) or a SQLite path."""

    engine: Engine
    path: str = ""  # SQLite: a file (landlord) or a folder (workspaces)
    host: str = "127.0.0.1"
    port: int = 5432
    user: str | None = None
    password: str | None = None
    database: str | None = None
    # None: the driver's default (prefer: TLS when the server offers it). ``disable``
    # spares each new connection the TLS request's round trip and the client's TLS set-up,
    # for a server on loopback or a private network that offers no TLS.
    sslmode: str | None = None

    @classmethod
    def parse(cls, variable: str, value: str) -> DatabaseURL:
        scheme, _, rest = value.partition("://")
        if not rest:
            raise SettingsError(
                f"{variable} must be a URL such as postgres://user@host:5432/name or "
                f"sqlite://path, not {value!r}."
            )
        if scheme == "sqlite":
            return cls(engine="sqlite", path=rest)
        if scheme not in ("postgres", "postgresql"):
            raise SettingsError(
                f"{variable} uses the scheme {scheme!r}; only postgres:// and sqlite:// are "
                "supported."
            )
        parts = urlsplit(value)
        try:
            port = parts.port or 5432
        except ValueError:
            raise SettingsError(f"{variable} has a port that is not a number.") from None
        database = unquote(parts.path.lstrip("/")) or None
        return cls(
            engine="postgres",
            host=parts.hostname or "127.0.0.1",
            port=port,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            database=database,
            sslmode=_sslmode(variable, parts.query),
        )

    def with_database(self, database: str) -> DatabaseURL:
        """The same PostgreSQL server, another database on it."""
        return replace(self, database=database)

    @property
    def server_key(self) -> str:
        """Identifies the server (not the database), for grouping and logs; no password."""
        if self.engine == "sqlite":
            return f"sqlite:{self.path}"
        return f"postgres://{self.user or ''}@{self.host}:{self.port}"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: DatabaseURL
    workspace_database_url: DatabaseURL
    regions: Mapping[str, DatabaseURL]
    broker_url: str | None
    smtp_url: str | None
    public_url: str
    secret_key: str
    env: Literal["development", "production"]
    stripe_api_key: str | None
    stripe_webhook_secret: str | None
    stripe_api_base: str | None
    stripe_price_standard: str | None
    stripe_price_business: str | None
    backup_key: str | None
    host: str = "127.0.0.1"
    port: int = 8000
    session_idle_timeout: timedelta = timedelta(days=7)
    session_lifetime: timedelta = timedelta(days=30)
    trial_days: int = 14
    pool_max_connections: int = 40
    pool_size_per_workspace: int = 4
    pool_idle_seconds: float = 60.0
    migrate_concurrency: int = 4
    graphiql: bool = True
    introspection: bool = True
    compiled_execution: bool = True
    mail_from: str = "LightningTrack <no-reply@localhost>"
    max_depth: int = 12
    max_aliases: int = 15
    max_tokens: int = 2000
    max_cost: int = 10_000
    max_body_bytes: int = 1_048_576
    rate_limit_per_minute: int = 600
    rate_limit_burst: int = 120
    # Requests with neither session nor API key, per client address.
    anonymous_rate_limit_per_minute: int = 120
    anonymous_rate_limit_burst: int = 60
    redis_url: str | None = None
    deletion_grace_days: int = 7
    sweep_interval_seconds: int = 60
    # Folders for workspace files (exports, backups) of each region; a region not named
    # here uses $LT_DATA_DIR/regions/<region>.
    region_storage: Mapping[str, Path] = field(default_factory=dict)
    metrics_token: str | None = None
    metrics_address: str | None = None
    # A PEM file of CA certificates trusted for the SMTP server, beside the system's.
    smtp_ca_file: Path | None = None
    backup_dir: Path = Path("./var/backups")
    backup_schedule: bool = True
    email_poll_seconds: int = 60
    # Certificate authorities trusted for IMAP besides the system's (a private CA).
    imap_ca_file: Path | None = None

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def billing_enabled(self) -> bool:
        return self.stripe_api_key is not None

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def session_cookie_name(self) -> str:
        # The __Host- prefix makes browsers refuse the cookie unless it is Secure, has no
        # Domain and has Path=/, which pins it to this exact origin.
        return "__Host-lt_session" if self.secure_cookies else "lt_session"

    def region_url(self, region: str) -> DatabaseURL:
        try:
            return self.regions[region]
        except KeyError:
            raise SettingsError(f"LT_REGIONS has no server for the region {region}.") from None


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}.") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, not {value}.")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}.")


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value if value else None


def _ca_file(env: Mapping[str, str], name: str) -> Path | None:
    raw = _optional(env, name)
    if raw is None:
        return None
    path = Path(raw)
    try:
        ssl.create_default_context().load_verify_locations(cafile=str(path))
    except (OSError, ssl.SSLError, ValueError):
        raise SettingsError(f"{name} must name a readable file of PEM certificates.") from None
    return path


def _parse_regions(raw: str | None, default: DatabaseURL) -> dict[str, DatabaseURL]:
    if not raw:
        return {"US": default}
    regions: dict[str, DatabaseURL] = {}
    for item in raw.split(","):
        name, sep, url = item.strip().partition("=")
        region = name.strip().upper()
        if not sep or region not in REGIONS:
            raise SettingsError(
                "LT_REGIONS must look like eu=postgres://host/db,us=postgres://host/db, "
                f"with regions EU and US; {item.strip()!r} is not understood."
            )
        parsed = DatabaseURL.parse("LT_REGIONS", url.strip())
        if parsed.engine != "postgres":
            raise SettingsError("LT_REGIONS must name PostgreSQL servers (postgres://).")
        regions[region] = parsed
    return regions


def _parse_region_storage(raw: str | None) -> dict[str, Path]:
    if not raw:
        return {}
    folders: dict[str, Path] = {}
    for item in raw.split(","):
        name, sep, folder = item.strip().partition("=")
        region = name.strip().upper()
        if not sep or region not in REGIONS or not folder.strip():
            raise SettingsError(
                "LT_REGION_STORAGE must look like eu=/srv/eu,us=/srv/us, with regions EU and "
                f"US; {item.strip()!r} is not understood."
            )
        folders[region] = Path(folder.strip())
    return folders


def _stripe(env: Mapping[str, str]) -> tuple[str | None, str | None, str | None]:
    """The API key, webhook secret and API base: the first two go together."""
    key = _optional(env, "LT_STRIPE_API_KEY")
    secret = _optional(env, "LT_STRIPE_WEBHOOK_SECRET")
    base = _optional(env, "LT_STRIPE_API_BASE")
    if key and not secret:
        # Without events nothing would ever change after a checkout.
        raise SettingsError("LT_STRIPE_WEBHOOK_SECRET is required when LT_STRIPE_API_KEY is set.")
    if secret and not key:
        raise SettingsError("LT_STRIPE_API_KEY is required when LT_STRIPE_WEBHOOK_SECRET is set.")
    if base and not base.startswith(("http://", "https://")):
        raise SettingsError("LT_STRIPE_API_BASE must start with http:// or https://.")
    return key, secret, base.rstrip("/") if base else None


def _smtp_ca_file(env: Mapping[str, str]) -> Path | None:
    raw = _optional(env, "LT_SMTP_CA_FILE")
    if raw is None:
        return None
    path = Path(raw)
    try:
        # Loaded once here so that a wrong file stops the start, not the first mail.
        ssl.create_default_context().load_verify_locations(cafile=path)
    except FileNotFoundError:
        raise SettingsError(f"LT_SMTP_CA_FILE names no readable file: {raw!r}.") from None
    except (OSError, ssl.SSLError):
        raise SettingsError(
            f"LT_SMTP_CA_FILE must be a PEM file of CA certificates; {raw!r} is not one."
        ) from None
    return path


def _secret_key(env: Mapping[str, str], data_dir: Path, production: bool) -> str:
    configured = env.get("LT_SECRET_KEY")
    if configured:
        if len(configured) < 32:
            raise SettingsError("LT_SECRET_KEY must be at least 32 characters long.")
        return configured
    if production:
        raise SettingsError("LT_SECRET_KEY is required when LT_ENV=production.")
    key_file = data_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Written with 0600 from the start so that the key is never readable by others.
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the ``LT_*`` variables; raise ``SettingsError`` with one sentence on a bad one."""
    env = os.environ if environ is None else environ
    lt_env = env.get("LT_ENV", "development") or "development"
    if lt_env not in ("development", "production"):
        raise SettingsError(f"LT_ENV must be development or production, not {lt_env!r}.")
    production = lt_env == "production"

    data_dir = Path(env.get("LT_DATA_DIR") or "./var")
    database_url = DatabaseURL.parse(
        "LT_DATABASE_URL",
        env.get("LT_DATABASE_URL") or f"sqlite://{data_dir / 'landlord.sqlite3'}",
    )
    if env.get("LT_WORKSPACE_DATABASE_URL"):
        workspace_url = DatabaseURL.parse(
            "LT_WORKSPACE_DATABASE_URL", env["LT_WORKSPACE_DATABASE_URL"]
        )
    elif database_url.engine == "postgres":
        workspace_url = database_url
    else:
        workspace_url = DatabaseURL(engine="sqlite", path=str(data_dir / "workspaces"))
    if workspace_url.engine != database_url.engine:
        raise SettingsError(
            "LT_WORKSPACE_DATABASE_URL must use the same engine as LT_DATABASE_URL "
            "(both postgres:// or both sqlite://)."
        )
    regions = _parse_regions(env.get("LT_REGIONS"), workspace_url)
    if env.get("LT_REGIONS") and database_url.engine != "postgres":
        raise SettingsError("LT_REGIONS needs a PostgreSQL LT_DATABASE_URL.")

    broker_url = _optional(env, "LT_BROKER_URL")
    if broker_url and not broker_url.startswith(("redis://", "rediss://", "amqp://", "amqps://")):
        raise SettingsError("LT_BROKER_URL must start with redis:// or amqp://.")
    redis_url = _optional(env, "LT_REDIS_URL")
    if redis_url and not redis_url.startswith(("redis://", "rediss://")):
        raise SettingsError("LT_REDIS_URL must start with redis:// or rediss://.")
    if redis_url is None and broker_url and broker_url.startswith(("redis://", "rediss://")):
        redis_url = broker_url
    smtp_url = _optional(env, "LT_SMTP_URL")
    if smtp_url:
        if not smtp_url.startswith(("smtp://", "smtps://")):
            raise SettingsError("LT_SMTP_URL must start with smtp:// or smtps://.")
        try:
            _ = urlsplit(smtp_url).port
        except ValueError:
            raise SettingsError("LT_SMTP_URL has a port that is not a number.") from None

    public_url = (env.get("LT_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/")
    if not public_url.startswith(("http://", "https://")):
        raise SettingsError("LT_PUBLIC_URL must start with http:// or https://.")
    if production and not public_url.startswith("https://"):
        raise SettingsError("LT_PUBLIC_URL must be an https:// URL when LT_ENV=production.")

    port = _int(env, "LT_PORT", 8000, minimum=1)
    if port > 65535:
        raise SettingsError(f"LT_PORT must be a port number from 1 to 65535, not {port}.")

    pool_max = _int(env, "LT_POOL_MAX_CONNECTIONS", 40, minimum=1)
    pool_each = _int(env, "LT_POOL_SIZE_PER_WORKSPACE", 4, minimum=1)
    if pool_each > pool_max:
        raise SettingsError("LT_POOL_SIZE_PER_WORKSPACE must not exceed LT_POOL_MAX_CONNECTIONS.")

    grace = _int(env, "LT_DELETION_GRACE_DAYS", 7, minimum=1)
    if grace > 30:
        raise SettingsError(
            "LT_DELETION_GRACE_DAYS must be at most 30: erasure happens within 30 days."
        )

    stripe_key, stripe_secret, stripe_base = _stripe(env)
    metrics_token = _optional(env, "LT_METRICS_TOKEN")
    if metrics_token is not None and len(metrics_token) < 16:
        raise SettingsError("LT_METRICS_TOKEN must be at least 16 characters long.")
    metrics_address = _optional(env, "LT_METRICS_ADDRESS")
    if metrics_address is not None:
        _, sep, metrics_port = metrics_address.rpartition(":")
        if not sep or not metrics_port.isdigit() or not 0 < int(metrics_port) < 65536:
            raise SettingsError(
                f"LT_METRICS_ADDRESS must be host:port, such as 127.0.0.1:9100, not "
                f"{metrics_address!r}."
            )
    backup_key = _optional(env, "LT_BACKUP_KEY")
    if backup_key is not None and len(backup_key) < 32:
        raise SettingsError("LT_BACKUP_KEY must be at least 32 characters long.")
    schedule = (env.get("LT_BACKUP_SCHEDULE") or "daily").strip().lower()
    if schedule not in ("daily", "off"):
        raise SettingsError(f"LT_BACKUP_SCHEDULE must be daily or off, not {schedule!r}.")

    return Settings(
        imap_ca_file=_ca_file(env, "LT_IMAP_CA_FILE"),
        data_dir=data_dir,
        database_url=database_url,
        workspace_database_url=workspace_url,
        regions=regions,
        broker_url=broker_url,
        smtp_url=smtp_url,
        public_url=public_url,
        secret_key=_secret_key(env, data_dir, production),
        env="production" if production else "development",
        stripe_api_key=stripe_key,
        stripe_webhook_secret=stripe_secret,
        stripe_api_base=stripe_base,
        stripe_price_standard=_optional(env, "LT_STRIPE_PRICE_STANDARD"),
        stripe_price_business=_optional(env, "LT_STRIPE_PRICE_BUSINESS"),
        backup_key=backup_key,
        metrics_token=metrics_token,
        metrics_address=metrics_address,
        smtp_ca_file=_smtp_ca_file(env),
        backup_dir=Path(env.get("LT_BACKUP_DIR") or data_dir / "backups"),
        backup_schedule=schedule == "daily",
        host=env.get("LT_HOST") or "127.0.0.1",
        port=port,
        session_idle_timeout=timedelta(
            seconds=_int(env, "LT_SESSION_IDLE_TIMEOUT", 7 * 86400, minimum=60)
        ),
        session_lifetime=timedelta(
            seconds=_int(env, "LT_SESSION_LIFETIME", 30 * 86400, minimum=60)
        ),
        trial_days=_int(env, "LT_TRIAL_DAYS", 14, minimum=0),
        pool_max_connections=pool_max,
        pool_size_per_workspace=pool_each,
        pool_idle_seconds=float(_int(env, "LT_POOL_IDLE_SECONDS", 60, minimum=1)),
        migrate_concurrency=_int(env, "LT_MIGRATE_CONCURRENCY", 4, minimum=1),
        mail_from=env.get("LT_MAIL_FROM") or "LightningTrack <no-reply@localhost>",
        deletion_grace_days=grace,
        sweep_interval_seconds=_int(env, "LT_SWEEP_INTERVAL", 60, minimum=1),
        email_poll_seconds=_int(env, "LT_EMAIL_POLL_INTERVAL", 60, minimum=10),
        max_depth=_int(env, "LT_MAX_DEPTH", 12, minimum=1),
        max_aliases=_int(env, "LT_MAX_ALIASES", 15, minimum=0),
        max_tokens=_int(env, "LT_MAX_TOKENS", 2000, minimum=10),
        max_cost=_int(env, "LT_MAX_COST", 10_000, minimum=1),
        max_body_bytes=_int(env, "LT_MAX_BODY_BYTES", 1_048_576, minimum=1024),
        rate_limit_per_minute=_int(env, "LT_RATE_LIMIT_PER_MINUTE", 600, minimum=1),
        rate_limit_burst=_int(env, "LT_RATE_LIMIT_BURST", 120, minimum=1),
        anonymous_rate_limit_per_minute=_int(
            env, "LT_ANONYMOUS_RATE_LIMIT_PER_MINUTE", 120, minimum=1
        ),
        anonymous_rate_limit_burst=_int(env, "LT_ANONYMOUS_RATE_LIMIT_BURST", 60, minimum=1),
        redis_url=redis_url,
        region_storage=_parse_region_storage(env.get("LT_REGION_STORAGE")),
        graphiql=_bool(env, "LT_GRAPHIQL", not production),
        introspection=_bool(env, "LT_INTROSPECTION", not production),
        compiled_execution=_bool(env, "LT_COMPILED_EXECUTION", True),
    )
