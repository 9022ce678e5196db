"""Fetcher tuning. The common settings (poll interval, overlap, rows) come from
``AppSettings``; the rest are read here from ``OMNI2QBD_FETCHER_*`` variables."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from pydantic_settings import BaseSettings, SettingsConfigDict

from omni2qbd_fetcher.cin7_client import ResponseLimits, RetryPolicy
from omni2qbd_fetcher.rate_limit import CIN7_LIMITS
from omni2qbd_shared.cin7_address import DEFAULT_CIN7_HOSTS
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.messaging import Topology


class FetcherTuning(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OMNI2QBD_FETCHER_", extra="ignore")

    # "3/1,60/60,5000/86400" = requests/seconds per window; "off" trusts Cin7's 429s alone.
    cin7_limits: str = "3/1,60/60,5000/86400"
    # Turns mostly wait on each key's own rate limit, so many can run at once.
    workers: int = 16
    pages_per_turn: int = 20
    turn_seconds: float = 60.0
    tenant_reload_seconds: float = 30.0
    error_backoff_max_seconds: float = 900.0
    request_timeout_seconds: float = 60.0
    retry_attempts: int = 6
    retry_base_delay_seconds: float = 1.0
    # A hostile or broken Cin7 hurts only its own tenant: each answer's total time and size,
    # and how many pages one pass over a kind may read before it is stopped and reported.
    request_total_seconds: float = 30.0
    max_response_bytes: int = 20 * 1024 * 1024
    max_pages_per_sync: int = 200
    # Prefix for exchange and queue names, to share one broker between isolated stacks (tests).
    topology_namespace: str = ""


def parse_limits(text: str) -> tuple[tuple[int, float], ...] | None:
    if text.strip().lower() in ("off", "none", ""):
        return None
    pairs = []
    for part in text.split(","):
        count, _, seconds = part.strip().partition("/")
        pairs.append((int(count), float(seconds)))
    return tuple(pairs)


@dataclass(frozen=True)
class FetcherOptions:
    poll_interval: float = 60.0
    overlap: timedelta = timedelta(minutes=5)
    rows: int = 250
    workers: int = 16
    pages_per_turn: int = 20
    turn_seconds: float | None = 60.0
    tenant_reload_seconds: float = 30.0
    error_backoff_max: float = 900.0
    request_timeout: float = 60.0
    cin7_limits: tuple[tuple[int, float], ...] | None = CIN7_LIMITS
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    topology_namespace: str = ""
    response_limits: ResponseLimits = field(default_factory=ResponseLimits)
    max_pages_per_sync: int = 200
    # OMNI2QBD_CIN7_ALLOWED_HOSTS: checked again before every turn, because an address stored
    # before the allow-list existed (or before the list was narrowed) was never checked.
    cin7_allowed_hosts: tuple[str, ...] = DEFAULT_CIN7_HOSTS

    @classmethod
    def from_settings(cls, settings: AppSettings) -> FetcherOptions:
        tuning = FetcherTuning()
        return cls(
            poll_interval=settings.fetcher_poll_interval_seconds,
            overlap=timedelta(seconds=settings.fetcher_overlap_seconds),
            rows=settings.fetcher_page_rows,
            workers=tuning.workers,
            pages_per_turn=tuning.pages_per_turn,
            turn_seconds=tuning.turn_seconds,
            tenant_reload_seconds=tuning.tenant_reload_seconds,
            error_backoff_max=tuning.error_backoff_max_seconds,
            request_timeout=tuning.request_timeout_seconds,
            cin7_limits=parse_limits(tuning.cin7_limits),
            retry=RetryPolicy(
                attempts=tuning.retry_attempts, base_delay=tuning.retry_base_delay_seconds
            ),
            topology_namespace=tuning.topology_namespace,
            response_limits=ResponseLimits(
                total_seconds=tuning.request_total_seconds, max_bytes=tuning.max_response_bytes
            ),
            max_pages_per_sync=tuning.max_pages_per_sync,
            cin7_allowed_hosts=tuple(settings.cin7_allowed_hosts),
        )

    def topology(self, settings: AppSettings) -> Topology:
        # The stack's OMNI2QBD_AMQP_NAMESPACE unless the fetcher tuning names another, so
        # `omni2qbd fetch` publishes where the stack's mapper listens.
        return Topology(
            namespace=self.topology_namespace or settings.amqp_namespace,
            retry_delay_ms=settings.message_retry_delay_ms,
        )
