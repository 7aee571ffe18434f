"""Every ``TELESIP_*`` setting in one place (pydantic-settings); nothing is read at import time.

Values come from the environment, an env file (``TELESIP_ENV_FILE``, default ``./.env``) or a
file named by ``TELESIP_<NAME>_FILE``: see :mod:`telesip.config_sources`. Every field is listed
with its default in the repository's ``.env.example`` (a test checks it).
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from telesip.config_sources import TelesipSource
from telesip.logs import add_secret, configure_logging


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TELESIP_", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Code, then the environment, then the env file (each with ``_FILE``), then defaults."""
        return (init_settings, TelesipSource(settings_cls))

    auto_migrate: bool = Field(
        default=True, description="Migrate an older database at start; 0: refuse and say so"
    )
    data_dir: Path = Field(default=Path("data"), description="SQLite file, key file, recordings")
    database_url: str | None = Field(
        default=None, description="sqlite+aiosqlite:///... or postgresql+asyncpg://..."
    )
    secret_key: SecretStr | None = Field(
        default=None, description="Key for SIP passwords at rest; else DATA_DIR/secret.key"
    )
    offer_ttl_seconds: int = Field(default=300, ge=1, le=86400)
    link_ttl_seconds: int = Field(default=7 * 86400, ge=60)
    default_plan: str = "office"
    default_seats: int | None = None
    import_max_rows: int = Field(
        default=20_000, ge=1, le=1_000_000, description="Accounts one import file may hold"
    )
    unused_days: int = Field(
        default=30, ge=1, le=3650, description="No call and no registration change this long"
    )
    disable_unused: bool = Field(
        default=False, description="Workers disable unused accounts, telling their owners"
    )

    bot_token: SecretStr | None = None
    bot_api_url: str | None = None
    webhook_url: str | None = None
    webhook_bind: str = "127.0.0.1:8081"
    redis_url: str | None = None

    # caller accounts (Telegram user accounts that place calls): https://my.telegram.org
    tg_api_id: int | None = Field(default=None, description="Telegram API id for caller accounts")
    tg_api_hash: SecretStr | None = Field(default=None, description="Telegram API hash")

    @field_validator("tg_api_id", "tg_api_hash", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    api_bind: str = "127.0.0.1:8080"
    public_url: str | None = Field(
        default=None,
        description="Public HTTPS address of the HTTP server (TLS proxy in front of API_BIND); "
        "enables the Mini App buttons",
    )
    miniapp_max_age_seconds: int = Field(
        default=3600, ge=60, le=7 * 86400, description="Mini App sign-in data older is refused"
    )

    @field_validator("public_url")
    @classmethod
    def _https_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not re.fullmatch(r"https://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError("use an https:// address without query, e.g. https://sip.example.com")
        return value.rstrip("/")

    @property
    def miniapp_url(self) -> str | None:
        """Where Telegram opens the Mini App, or None without TELESIP_PUBLIC_URL."""
        return f"{self.public_url}/miniapp/" if self.public_url else None

    lease_ttl_seconds: int = Field(default=10, ge=2)
    lease_grace_seconds: float | None = Field(
        default=None,
        ge=0,
        description=(
            "Database unreachable: a worker keeps its registrations for TTL + this; "
            "unset: for the whole outage (docs/workers.md)"
        ),
    )
    worker_name: str | None = Field(default=None, description="Default: the host name")
    worker_pool: str | None = None
    sip_bind: str = Field(default="0.0.0.0:5060", description="UDP address the worker binds")
    sip_advertise: str | None = Field(default=None, description="Public address for Contact")
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = Field(
        default="text", description="text lines, or one JSON object per line"
    )
    metrics_bind: str | None = Field(
        default=None,
        description="HOST:PORT for /livez, /readyz and /metrics (`telesip run`: the API has them)",
    )

    # a remote worker (`telesip worker` without database access); the options override these
    control_url: str | None = Field(
        default=None, description="Remote worker: the service's HTTPS URL"
    )
    worker_credential: SecretStr | None = Field(
        default=None, description="Remote worker: its one-time credential"
    )
    control_ca_file: str | None = Field(
        default=None, description="Remote worker: CA bundle for the control URL"
    )

    # calls (issue 7)
    rtp_ports: str = Field(default="20000-20999", description="UDP ports for RTP/RTCP media")
    max_calls: int = Field(default=100, ge=0, description="Concurrent calls per worker")
    ring_timeout_seconds: int = Field(default=45, ge=5, le=600)
    rtp_timeout_seconds: int = Field(
        default=30, ge=2, le=3600, description="No RTP this long from a SIP peer ends the call"
    )
    recording_days: int = Field(default=30, ge=1, description="Recordings are deleted after")

    @field_validator("rtp_ports")
    @classmethod
    def _port_range(cls, value: str) -> str:
        low, sep, high = value.partition("-")
        if not (sep and low.strip().isdigit() and high.strip().isdigit()):
            raise ValueError("use FIRST-LAST, e.g. 20000-20999")
        first, last = int(low), int(high)
        if not 1024 <= first < last <= 65535 or (last - first) < 3:
            raise ValueError("a range of at least 4 ports between 1024 and 65535")
        return f"{first}-{last}"

    @field_validator("metrics_bind")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if not value:
            return None
        _, sep, port = value.rpartition(":")
        if not (sep and port.isdigit() and 0 < int(port) < 65536):
            raise ValueError("use HOST:PORT, e.g. 127.0.0.1:9464")
        return value

    @field_validator("default_plan")
    @classmethod
    def _known_plan(cls, value: str) -> str:
        from telesip.domain.plans import PLANS

        if value not in PLANS:
            raise ValueError(f"unknown plan {value!r}; known plans: {', '.join(PLANS)}")
        return value

    def configure_logging(self) -> None:
        """Log lines at TELESIP_LOG_LEVEL in TELESIP_LOG_FORMAT (see :func:`configure_logging`),
        with this configuration's secrets blanked out of every line."""
        for secret in (self.bot_token, self.secret_key, self.tg_api_hash, self.worker_credential):
            add_secret(secret.get_secret_value() if secret else None)
        if self.database_url:
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError

            with contextlib.suppress(ArgumentError):
                password = make_url(self.database_url).password
                add_secret(str(password) if password else None)
        configure_logging(self.log_level, style=self.log_format)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'telesip.db').resolve()}"
