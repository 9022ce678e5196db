"""Configuration from environment variables (prefix ``OMNI2QBD_``), one model per concern."""

from __future__ import annotations

import functools
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from omni2qbd_shared.cin7_address import DEFAULT_CIN7_HOSTS

# Development-only key: anyone reading this file knows it, so it is refused outside development.
PLACEHOLDER_SECRET_KEY = "dev-only-insecure-key-change-me"  # noqa: S105

Environment = Literal["development", "test", "production"]


class PlaceholderSecretError(ValueError):
    pass


class AppSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OMNI2QBD_", env_file=".env", extra="ignore")

    environment: Environment = "development"
    database_url: str = "sqlite+aiosqlite:///./var/omni2qbd.db"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # Prefix for every exchange and queue name, so several stacks can share one broker.
    amqp_namespace: str = ""
    secret_key: SecretStr = SecretStr(PLACEHOLDER_SECRET_KEY)
    log_level: str = "INFO"
    log_json: bool = True

    fetcher_host: str = "127.0.0.1"
    fetcher_port: int = 8101
    fetcher_poll_interval_seconds: float = 60.0
    fetcher_overlap_seconds: int = 300
    fetcher_page_rows: int = Field(default=250, ge=1, le=250)
    # "3/1,60/60,5000/86400" = requests/seconds per window; "off" trusts Cin7's 429s alone.
    fetcher_cin7_limits: str = "3/1,60/60,5000/86400"
    # Turns mostly wait on each key's own rate limit, so many can run at once.
    fetcher_workers: int = 16
    fetcher_pages_per_turn: int = 20
    fetcher_turn_seconds: float = 60.0
    fetcher_tenant_reload_seconds: float = 30.0
    fetcher_error_backoff_max_seconds: float = 900.0
    fetcher_request_timeout_seconds: float = 60.0
    fetcher_retry_attempts: int = 6
    fetcher_retry_base_delay_seconds: float = 1.0
    # A hostile or broken Cin7 hurts only its own tenant: each answer's total time and size,
    # and how many pages one pass over a kind may read before it is stopped and reported.
    fetcher_request_total_seconds: float = 30.0
    fetcher_max_response_bytes: int = 20 * 1024 * 1024
    fetcher_max_pages_per_sync: int = 200

    mapper_host: str = "127.0.0.1"
    mapper_port: int = 8102
    # The most one batch holds (and deliveries unacknowledged at once): 50 -> 150 made a
    # 10,000-order first sync map in 29 s instead of 35 s (issue 15, docs/performance.md).
    mapper_prefetch: int = Field(default=150, ge=1)

    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8103
    gateway_prefetch: int = Field(default=150, ge=1)
    # Plain HTTP is what the gateway serves on this machine, and the Web Connector accepts it
    # for localhost only; anywhere else this must be the HTTPS address in front of it.
    gateway_public_url: str = "http://localhost:8103"
    gateway_session_timeout_seconds: int = 900
    gateway_batch_max_requests: int = Field(default=50, ge=1)
    gateway_batch_max_bytes: int = Field(default=512 * 1024, ge=1024)
    gateway_max_soap_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)

    # How many times a failing message is retried through the delay queue before dead-lettering.
    message_max_retries: int = Field(default=5, ge=0)

    # gateway session (issue 16): write sets grow from gateway_batch_max_requests while
    # QuickBooks answers a full set in under a quarter of the target, up to this many requests
    # (and gateway_batch_max_bytes); they halve after a slower answer or none.
    gateway_set_max_requests: int = Field(default=400, ge=1)
    gateway_set_target_seconds: float = Field(default=60.0, gt=0)
    # A correct login from the address of a live session silent this long takes it over
    # (the same Web Connector after a crash); from another address the answer is "busy".
    gateway_takeover_after_seconds: float = Field(default=60.0, ge=0)
    # Slow clients: a request must arrive whole within this many seconds.
    gateway_request_read_seconds: float = Field(default=30.0, gt=0)
    # Addresses whose X-Forwarded-For the gateway believes (its TLS proxy); "*" when only the
    # proxy can reach the gateway's port, as in docker-compose.yml. Anyone else's header is
    # ignored, so a client cannot choose the address the login throttle counts against.
    gateway_forwarded_allow_ips: str = "127.0.0.1"
    message_retry_delay_ms: int = Field(default=5000, ge=1)

    # --- reliability (issue 13) ---
    # Bearer token the fetcher's control API (/tenants...) requires. Without one, that API
    # answers only clients on this machine, and nobody in production.
    fetcher_api_token: SecretStr | None = None
    # Connections each process keeps to PostgreSQL: sized to its concurrency (consumers'
    # prefetch, fetcher workers, HTTP requests) so load never forks new backends in bursts.
    database_pool_size: int = Field(default=20, ge=1)
    database_max_overflow: int = Field(default=5, ge=0)
    # A handler failing because the database is unreachable is retried for this long.
    message_transient_retry_max_seconds: float = Field(default=3600.0, ge=0)
    # Days the qbXML requests and responses of Web Connector sessions are kept (0: forever).
    gateway_request_retention_days: int = Field(default=30, ge=0)
    # api-core: sign-in, tokens and the audit log of the JSON API and console.
    api_token_ttl_seconds: int = Field(default=8 * 3600, ge=60)
    login_window_seconds: int = Field(default=15 * 60, ge=60)
    login_max_per_address: int = Field(default=50, ge=1)
    login_max_per_account_at_address: int = Field(default=5, ge=1)
    login_max_per_account: int = Field(default=100, ge=1)
    audit_retention_days: int = Field(default=7 * 366, ge=1)

    # Hosts a tenant's Cin7 Omni base URL may name (``host`` or ``host:port``, comma
    # separated in the environment): the server calls that address, so anything else is
    # refused (SSRF). A simulator or test server is added here explicitly, never by default.
    cin7_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_CIN7_HOSTS)
    )

    # console: how long a browser sign-in lasts, at most and without activity
    console_session_hours: float = Field(default=12.0, gt=0)
    console_idle_minutes: float = Field(default=60.0, gt=0)

    @field_validator("cin7_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [host.strip() for host in value.split(",") if host.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> AppSettings:
        if self.environment != "development" and (
            self.secret_key.get_secret_value() == PLACEHOLDER_SECRET_KEY
            or len(self.secret_key.get_secret_value()) < 32
        ):
            raise PlaceholderSecretError(
                "OMNI2QBD_SECRET_KEY is a placeholder or shorter than 32 characters, which is only "
                f"allowed when OMNI2QBD_ENVIRONMENT=development (it is {self.environment!r}). "
                "Generate a real key with `omni2qbd secret-key` (or "
                '`python -c "import secrets; print(secrets.token_urlsafe(48))"`) and set '
                "OMNI2QBD_SECRET_KEY to it. Keep it safe: Cin7 API keys are encrypted with it."
            )
        if self.environment == "production" and "://guest:guest@" in self.amqp_url:
            raise PlaceholderSecretError(
                "OMNI2QBD_AMQP_URL uses RabbitMQ's default guest/guest login, which is only "
                "allowed outside production. Create a RabbitMQ user with its own password and "
                "put it in OMNI2QBD_AMQP_URL (amqp://USER:PASSWORD@HOST:5672/)."
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def without_credentials(url: str) -> str:
    """A database or broker URL without its user and password, for messages and logs."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('@', 1)[1]}"


@functools.cache
def get_settings() -> AppSettings:
    return AppSettings()
