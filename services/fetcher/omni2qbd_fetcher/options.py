"""The fetcher's options, read from ``AppSettings`` (the ``OMNI2QBD_FETCHER_*`` variables) and
shaped for the scheduler and the Cin7 client."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from omni2qbd_fetcher.cin7_client import ResponseLimits, RetryPolicy
from omni2qbd_fetcher.rate_limit import CIN7_LIMITS
from omni2qbd_shared.cin7_address import DEFAULT_CIN7_HOSTS
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.messaging import Topology


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
    response_limits: ResponseLimits = field(default_factory=ResponseLimits)
    max_pages_per_sync: int = 200
    # OMNI2QBD_CIN7_ALLOWED_HOSTS: checked again before every turn, because an address stored
    # before the allow-list existed (or before the list was narrowed) was never checked.
    cin7_allowed_hosts: tuple[str, ...] = DEFAULT_CIN7_HOSTS

    @classmethod
    def from_settings(cls, settings: AppSettings) -> FetcherOptions:
        return cls(
            poll_interval=settings.fetcher_poll_interval_seconds,
            overlap=timedelta(seconds=settings.fetcher_overlap_seconds),
            rows=settings.fetcher_page_rows,
            workers=settings.fetcher_workers,
            pages_per_turn=settings.fetcher_pages_per_turn,
            turn_seconds=settings.fetcher_turn_seconds,
            tenant_reload_seconds=settings.fetcher_tenant_reload_seconds,
            error_backoff_max=settings.fetcher_error_backoff_max_seconds,
            request_timeout=settings.fetcher_request_timeout_seconds,
            cin7_limits=parse_limits(settings.fetcher_cin7_limits),
            retry=RetryPolicy(
                attempts=settings.fetcher_retry_attempts,
                base_delay=settings.fetcher_retry_base_delay_seconds,
            ),
            response_limits=ResponseLimits(
                total_seconds=settings.fetcher_request_total_seconds,
                max_bytes=settings.fetcher_max_response_bytes,
            ),
            max_pages_per_sync=settings.fetcher_max_pages_per_sync,
            cin7_allowed_hosts=tuple(settings.cin7_allowed_hosts),
        )

    def topology(self, settings: AppSettings) -> Topology:
        # The stack's one OMNI2QBD_AMQP_NAMESPACE, so `omni2qbd fetch` publishes where the
        # stack's mapper listens.
        return Topology(
            namespace=settings.amqp_namespace,
            retry_delay_ms=settings.message_retry_delay_ms,
        )
