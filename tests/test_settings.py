"""Configuration: every ``LT_*`` variable, its default, and the one-sentence errors."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from lightningtrack.settings import DatabaseURL, Settings, SettingsError, load_settings
from lightningtrack.tenancy import storage

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s" * 40


def load(tmp_path: Path, **variables: str) -> Settings:
    """Settings from exactly these variables, with the data dir inside the test's tmp."""
    return load_settings({"LT_DATA_DIR": str(tmp_path), "LT_SECRET_KEY": SECRET, **variables})


def assert_one_sentence_naming(error: SettingsError, variable: str) -> None:
    message = str(error)
    assert variable in message, message
    assert message.endswith("."), message
    assert "\n" not in message, message
    assert ". " not in message, f"more than one sentence: {message}"


def test_every_variable_parses(tmp_path: Path) -> None:
    """Each documented variable reaches its typed field, so none is silently ignored."""
    pg = "postgres://lt:p%40ss@db.internal:6543/landlord"
    settings = load_settings(
        {
            "LT_DATA_DIR": str(tmp_path / "data"),
            "LT_DATABASE_URL": pg,
            "LT_WORKSPACE_DATABASE_URL": "postgresql://ws@ws.internal:5433",
            "LT_REGIONS": "eu=postgres://eu.internal/x, us=postgres://us.internal:5544/y",
            "LT_BROKER_URL": "redis://broker:6379/0",
            "LT_SMTP_URL": "smtps://mailer:pw@smtp.example.com:465",
            "LT_PUBLIC_URL": "https://track.example.com/",
            "LT_SECRET_KEY": SECRET,
            "LT_ENV": "production",
            "LT_STRIPE_API_KEY": "sk_test_1",
            "LT_STRIPE_WEBHOOK_SECRET": "whsec_1",
            "LT_STRIPE_API_BASE": "http://127.0.0.1:12111/",
            "LT_STRIPE_PRICE_STANDARD": "price_s",
            "LT_STRIPE_PRICE_BUSINESS": "price_b",
            "LT_BACKUP_KEY": "backup-key-" + "k" * 32,
            "LT_REGION_STORAGE": "eu=/mnt/eu/lt, US=/mnt/us/lt",
            "LT_HOST": "192.0.2.10",
            "LT_PORT": "9000",
            "LT_SESSION_IDLE_TIMEOUT": "3600",
            "LT_SESSION_LIFETIME": "86400",
            "LT_TRIAL_DAYS": "30",
            "LT_POOL_MAX_CONNECTIONS": "100",
            "LT_POOL_SIZE_PER_WORKSPACE": "5",
            "LT_POOL_IDLE_SECONDS": "90",
            "LT_MIGRATE_CONCURRENCY": "8",
            "LT_GRAPHIQL": "yes",
            "LT_INTROSPECTION": "1",
        }
    )
    assert settings.data_dir == tmp_path / "data"
    assert settings.database_url == DatabaseURL(
        engine="postgres",
        host="db.internal",
        port=6543,
        user="lt",
        password="p@ss",
        database="landlord",
    )
    assert settings.workspace_database_url == DatabaseURL(
        engine="postgres", host="ws.internal", port=5433, user="ws"
    )
    assert set(settings.regions) == {"EU", "US"}
    assert settings.region_url("EU").host == "eu.internal"
    assert settings.region_url("US").port == 5544
    assert settings.region_url("US").database == "y"
    assert settings.broker_url == "redis://broker:6379/0"
    assert settings.smtp_url == "smtps://mailer:pw@smtp.example.com:465"
    assert settings.public_url == "https://track.example.com"
    assert settings.secret_key == SECRET
    assert settings.env == "production"
    assert settings.production
    assert settings.stripe_api_key == "sk_test_1"
    assert settings.stripe_webhook_secret == "whsec_1"
    assert settings.stripe_api_base == "http://127.0.0.1:12111"
    assert settings.stripe_price_standard == "price_s"
    assert settings.stripe_price_business == "price_b"
    assert settings.backup_key == "backup-key-" + "k" * 32
    assert settings.billing_enabled
    assert dict(settings.region_storage) == {"EU": Path("/mnt/eu/lt"), "US": Path("/mnt/us/lt")}
    assert storage.region_dir(settings, "EU") == Path("/mnt/eu/lt")
    assert settings.host == "192.0.2.10"
    assert settings.port == 9000
    assert settings.session_idle_timeout == timedelta(hours=1)
    assert settings.session_lifetime == timedelta(days=1)
    assert settings.trial_days == 30
    assert settings.pool_max_connections == 100
    assert settings.pool_size_per_workspace == 5
    assert settings.pool_idle_seconds == 90.0
    assert settings.migrate_concurrency == 8
    assert settings.graphiql is True
    assert settings.introspection is True
    assert settings.session_cookie_name == "__Host-lt_session"


def test_sqlite_urls_and_amqp_broker_parse(tmp_path: Path) -> None:
    """The embedded engine is configurable explicitly too, and amqp:// is a valid broker."""
    settings = load(
        tmp_path,
        LT_DATABASE_URL=f"sqlite://{tmp_path}/main.db",
        LT_WORKSPACE_DATABASE_URL=f"sqlite://{tmp_path}/spaces",
        LT_BROKER_URL="amqp://guest@rabbit:5672",
        LT_GRAPHIQL="off",
        LT_INTROSPECTION="false",
    )
    assert settings.database_url == DatabaseURL(engine="sqlite", path=f"{tmp_path}/main.db")
    assert settings.workspace_database_url == DatabaseURL(
        engine="sqlite", path=f"{tmp_path}/spaces"
    )
    assert settings.broker_url == "amqp://guest@rabbit:5672"
    assert settings.graphiql is False
    assert settings.introspection is False


def test_production_turns_graphiql_and_introspection_off_by_default(tmp_path: Path) -> None:
    """Production must not expose the IDE or the schema unless explicitly asked."""
    settings = load(tmp_path, LT_ENV="production", LT_PUBLIC_URL="https://x.example")
    assert settings.graphiql is False
    assert settings.introspection is False


def test_defaults_use_var_and_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no configuration at all the server runs embedded from ./var, region US."""
    monkeypatch.chdir(tmp_path)
    settings = load_settings({})
    assert settings.data_dir == Path("./var")
    assert settings.database_url == DatabaseURL(engine="sqlite", path="var/landlord.sqlite3")
    assert settings.workspace_database_url == DatabaseURL(engine="sqlite", path="var/workspaces")
    assert dict(settings.regions) == {"US": settings.workspace_database_url}
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.env == "development"
    assert not settings.production
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.session_idle_timeout == timedelta(days=7)
    assert settings.session_lifetime == timedelta(days=30)
    assert settings.trial_days == 14
    assert settings.broker_url is None
    assert settings.smtp_url is None
    assert settings.smtp_ca_file is None
    assert (settings.rate_limit_per_minute, settings.rate_limit_burst) == (600, 120)
    assert (
        settings.anonymous_rate_limit_per_minute,
        settings.anonymous_rate_limit_burst,
    ) == (120, 60)
    assert settings.stripe_api_key is None
    assert not settings.billing_enabled
    assert settings.backup_key is None
    assert storage.region_dir(settings, "EU") == Path("./var/regions/eu")
    assert storage.region_dir(settings, "US") == Path("./var/regions/us")
    assert settings.graphiql is True
    assert settings.introspection is True
    assert settings.session_cookie_name == "lt_session"
    assert (tmp_path / "var" / "secret_key").read_text() == settings.secret_key


def test_postgres_landlord_hosts_workspaces_by_default(tmp_path: Path) -> None:
    """Without LT_WORKSPACE_DATABASE_URL, workspace databases go on the landlord's server."""
    settings = load(tmp_path, LT_DATABASE_URL="postgres://u@h/landlord")
    assert settings.workspace_database_url == settings.database_url
    assert dict(settings.regions) == {"US": settings.database_url}


def test_load_settings_reads_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server calls load_settings() with no argument: os.environ must be what it reads."""
    for name in list(os.environ):
        if name.startswith("LT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LT_SECRET_KEY", SECRET)
    monkeypatch.setenv("LT_PORT", "8123")
    settings = load_settings()
    assert settings.port == 8123
    assert settings.data_dir == tmp_path


def test_secret_key_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    """A generated key must survive restarts (tokens stay valid) and be unreadable by others."""
    data_dir = tmp_path / "not" / "yet" / "there"
    first = load_settings({"LT_DATA_DIR": str(data_dir)})
    key_file = data_dir / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first.secret_key) >= 32
    assert key_file.read_text().strip() == first.secret_key
    second = load_settings({"LT_DATA_DIR": str(data_dir)})
    assert second.secret_key == first.secret_key


def test_configured_secret_key_writes_no_file(tmp_path: Path) -> None:
    """An operator's key wins, and no second key is left lying in the data dir."""
    settings = load(tmp_path)
    assert settings.secret_key == SECRET
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"LT_DATABASE_URL": "mysql://x"}, "LT_DATABASE_URL"),
        ({"LT_DATABASE_URL": "postgres://h:notaport/db"}, "LT_DATABASE_URL"),
        ({"LT_DATABASE_URL": "landlord.sqlite3"}, "LT_DATABASE_URL"),
        ({"LT_WORKSPACE_DATABASE_URL": "mysql://x"}, "LT_WORKSPACE_DATABASE_URL"),
        ({"LT_PORT": "abc"}, "LT_PORT"),
        ({"LT_PORT": "0"}, "LT_PORT"),
        ({"LT_PORT": "70000"}, "LT_PORT"),
        ({"LT_ENV": "staging"}, "LT_ENV"),
        (
            {"LT_DATABASE_URL": "postgres://h/db", "LT_REGIONS": "eu=postgres://h/x,nonsense"},
            "LT_REGIONS",
        ),
        ({"LT_DATABASE_URL": "postgres://h/db", "LT_REGIONS": "asia=postgres://h/x"}, "LT_REGIONS"),
        ({"LT_DATABASE_URL": "postgres://h/db", "LT_REGIONS": "eu=sqlite://x"}, "LT_REGIONS"),
        ({"LT_DATABASE_URL": "postgres://h/db", "LT_REGIONS": "eu=postgres://h:p/x"}, "LT_REGIONS"),
        ({"LT_REGIONS": "eu=postgres://h/x"}, "LT_REGIONS"),
        ({"LT_BROKER_URL": "http://x"}, "LT_BROKER_URL"),
        ({"LT_SMTP_URL": "mail.example.com"}, "LT_SMTP_URL"),
        ({"LT_SMTP_URL": "smtp://mail.example.com:port"}, "LT_SMTP_URL"),
        ({"LT_PUBLIC_URL": "track.example.com"}, "LT_PUBLIC_URL"),
        ({"LT_SECRET_KEY": "short"}, "LT_SECRET_KEY"),
        ({"LT_SESSION_IDLE_TIMEOUT": "10"}, "LT_SESSION_IDLE_TIMEOUT"),
        ({"LT_SESSION_LIFETIME": "1 day"}, "LT_SESSION_LIFETIME"),
        ({"LT_TRIAL_DAYS": "-1"}, "LT_TRIAL_DAYS"),
        ({"LT_POOL_MAX_CONNECTIONS": "0"}, "LT_POOL_MAX_CONNECTIONS"),
        ({"LT_DATABASE_URL": "postgres://h/db?sslmode=off"}, "LT_DATABASE_URL"),
        ({"LT_DATABASE_URL": "postgres://h/db?timeout=5"}, "LT_DATABASE_URL"),
        (
            {
                "LT_DATABASE_URL": "postgres://h/db",
                "LT_WORKSPACE_DATABASE_URL": "postgres://w?sslmode=",
            },
            "LT_WORKSPACE_DATABASE_URL",
        ),
        (
            {"LT_POOL_MAX_CONNECTIONS": "2", "LT_POOL_SIZE_PER_WORKSPACE": "3"},
            "LT_POOL_SIZE_PER_WORKSPACE",
        ),
        ({"LT_ANONYMOUS_RATE_LIMIT_BURST": "0"}, "LT_ANONYMOUS_RATE_LIMIT_BURST"),
        ({"LT_ANONYMOUS_RATE_LIMIT_PER_MINUTE": "x"}, "LT_ANONYMOUS_RATE_LIMIT_PER_MINUTE"),
        ({"LT_GRAPHIQL": "maybe"}, "LT_GRAPHIQL"),
        ({"LT_INTROSPECTION": "2"}, "LT_INTROSPECTION"),
        ({"LT_ENV": "production", "LT_PUBLIC_URL": "http://x.example"}, "LT_PUBLIC_URL"),
        ({"LT_REGION_STORAGE": "asia=/srv/asia"}, "LT_REGION_STORAGE"),
        ({"LT_REGION_STORAGE": "eu"}, "LT_REGION_STORAGE"),
        ({"LT_REGION_STORAGE": "eu="}, "LT_REGION_STORAGE"),
        ({"LT_STRIPE_API_KEY": "sk_test_1"}, "LT_STRIPE_WEBHOOK_SECRET"),
        ({"LT_STRIPE_WEBHOOK_SECRET": "whsec_1"}, "LT_STRIPE_API_KEY"),
        (
            {
                "LT_STRIPE_API_KEY": "sk_test_1",
                "LT_STRIPE_WEBHOOK_SECRET": "whsec_1",
                "LT_STRIPE_API_BASE": "127.0.0.1:12111",
            },
            "LT_STRIPE_API_BASE",
        ),
    ],
)
def test_bad_value_raises_one_sentence_naming_the_variable(
    tmp_path: Path, variables: dict[str, str], named: str
) -> None:
    """An operator's typo must say which variable is wrong, in one line, not a traceback."""
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, **variables)
    assert_one_sentence_naming(caught.value, named)


def test_production_requires_a_secret_key(tmp_path: Path) -> None:
    """Production must not quietly sign tokens with a key generated on one machine's disk."""
    with pytest.raises(SettingsError) as caught:
        load_settings(
            {
                "LT_DATA_DIR": str(tmp_path),
                "LT_ENV": "production",
                "LT_PUBLIC_URL": "https://x.example",
            }
        )
    assert_one_sentence_naming(caught.value, "LT_SECRET_KEY")
    assert not (tmp_path / "secret_key").exists()


def test_mixing_sqlite_landlord_with_postgres_workspaces_names_both(tmp_path: Path) -> None:
    """The two engines cannot be mixed; the message says which two variables disagree."""
    with pytest.raises(SettingsError) as caught:
        load(
            tmp_path,
            LT_DATABASE_URL=f"sqlite://{tmp_path}/landlord.db",
            LT_WORKSPACE_DATABASE_URL="postgres://h:5432",
        )
    assert_one_sentence_naming(caught.value, "LT_WORKSPACE_DATABASE_URL")
    assert "LT_DATABASE_URL" in str(caught.value)


def test_serve_with_a_bad_variable_exits_2_with_one_line(tmp_path: Path) -> None:
    """`lightningtrack serve` with a typo prints one line naming the variable, no traceback."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("LT_")}
    env.update(
        {
            "LT_DATABASE_URL": "mysql://x",
            "LT_DATA_DIR": str(tmp_path / "data"),
            "PYTHONPATH": str(ROOT),
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "lightningtrack", "serve"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "LT_DATABASE_URL" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "var").exists()


def test_a_postgres_url_may_name_its_sslmode(tmp_path: Path) -> None:
    """``?sslmode=`` as libpq reads it reaches every connection to that server: the
    landlord's, the workspace databases' (and their pools), pg_dump's."""
    from lightningtrack.backups.dump import _pg_arguments
    from lightningtrack.tenancy import databases
    from lightningtrack.tenancy.config import client_config

    settings = load(
        tmp_path,
        LT_DATABASE_URL="postgres://lt@db.internal/landlord?sslmode=verify-full",
        LT_WORKSPACE_DATABASE_URL="postgres://lt@ws.internal?sslmode=disable",
    )
    assert settings.database_url.sslmode == "verify-full"
    assert client_config(settings.database_url)["credentials"]["ssl"] == "verify-full"
    workspace = databases.database_url(settings, "US", "lt_ws_1")
    assert (workspace.host, workspace.database, workspace.sslmode) == (
        "ws.internal",
        "lt_ws_1",
        "disable",
    )
    assert client_config(workspace)["credentials"]["ssl"] == "disable"
    assert _pg_arguments(workspace)[1]["PGSSLMODE"] == "disable"
    # Without the parameter the driver's default holds (TLS when the server offers it).
    plain = load(tmp_path, LT_DATABASE_URL="postgres://lt@db.internal/landlord")
    assert plain.database_url.sslmode is None
    assert "ssl" not in client_config(plain.database_url)["credentials"]
    assert _pg_arguments(plain.database_url)[1].get("PGSSLMODE") == os.environ.get("PGSSLMODE")
