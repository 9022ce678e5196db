"""Prometheus metrics of the fetcher (served at /metrics by the service app)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

REVISIONS_PUBLISHED = Counter(
    "omni2qbd_fetcher_revisions_published_total", "Document revisions published", ["kind"]
)
CIN7_REQUESTS = Counter(
    "omni2qbd_fetcher_cin7_requests_total",
    "Requests to Cin7 Omni by outcome (ok, rate_limited, server_error, client_error, network)",
    ["outcome"],
)
SYNC_FAILURES = Counter("omni2qbd_fetcher_sync_failures_total", "Tenant turns that failed")
TENANTS = Gauge("omni2qbd_fetcher_tenants", "Tenants the scheduler polls")
