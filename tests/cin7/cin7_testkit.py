"""A running Cin7 simulator (real HTTP on a free port) and clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from omni2qbd_fetcher.cin7_client import Cin7Client, RetryPolicy
from omni2qbd_fetcher.rate_limit import KeyRateLimiter
from omni2qbd_sims.cin7 import Cin7Store, SimConfig, create_app, generate
from omni2qbd_sims.cin7.server import SimAdmin, serve_in_thread

TENANT = "AcmeOutdoorAPI"
FAST_RETRY = RetryPolicy(attempts=6, base_delay=0.02, max_delay=0.2)
NO_LIMITS: tuple[tuple[int, float], ...] = ((10_000, 1.0),)


@dataclass
class Sim:
    base_url: str
    store: Cin7Store
    admin: SimAdmin

    def key(self, username: str = TENANT, index: int = 0) -> str:
        return self.store.tenants[username].connections[index].api_key

    def rows(self, resource: str, username: str = TENANT) -> list[dict[str, Any]]:
        return self.store.tenants[username].rows(resource)


def _start(seed: int, scale: float) -> Iterator[Sim]:
    store = generate(seed, scale)
    with serve_in_thread(create_app(store, SimConfig(rate_limits_enabled=False))) as url:
        admin = SimAdmin(url)
        try:
            yield Sim(url, store, admin)
        finally:
            admin.close()


@pytest.fixture(scope="module")
def _shared_sim() -> Iterator[Sim]:
    yield from _start(seed=7, scale=0.2)


@pytest.fixture
def sim(_shared_sim: Sim) -> Sim:
    """The module's simulator, read-only by convention, with faults and limits reset."""
    _shared_sim.admin.clear_faults()
    _shared_sim.admin.configure(rateLimitsEnabled=False, retryAfter=False, dateForm="iso_z")
    _shared_sim.admin.reset_usage()
    return _shared_sim


@pytest.fixture
def fresh_sim() -> Iterator[Sim]:
    """A simulator of its own, for tests that change documents."""
    yield from _start(seed=11, scale=0.1)


ClientFactory = Callable[..., Cin7Client]


@pytest.fixture
async def make_client() -> AsyncIterator[ClientFactory]:
    clients: list[Cin7Client] = []

    def factory(
        sim: Sim,
        *,
        username: str = TENANT,
        key: str | None = None,
        limits: tuple[tuple[int, float], ...] = NO_LIMITS,
        retry: RetryPolicy = FAST_RETRY,
        **options: Any,
    ) -> Cin7Client:
        client = Cin7Client(
            tenant=f"tenant-{username}",
            username=username,
            api_key=key or sim.key(username),
            base_url=sim.base_url,
            limiter=KeyRateLimiter(limits, margin_ratio=0.0, margin_seconds=0.02),
            retry=retry,
            **options,
        )
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.aclose()
