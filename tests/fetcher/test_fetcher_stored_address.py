"""A Cin7 address stored before the allow-list existed is checked again by the fetcher.

The "Cin7" is a real HTTP server counting every request it gets: a tenant whose stored base
URL is not on OMNI2QBD_CIN7_ALLOWED_HOSTS is never contacted and its sync status says why in
words; the same stored address, once allowed, is contacted (so the count would catch a fetcher
that skipped the check).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from omni2qbd_fetcher import repository as repo
from omni2qbd_fetcher.options import FetcherOptions
from omni2qbd_fetcher.repository import TenantAccess, tenant_access
from omni2qbd_fetcher.tenant_sync import TenantSyncError
from omni2qbd_gateway.tenants import create_tenant
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.engine import unit_of_work
from tests.counting_cin7 import Recorder
from tests.fetcher.fetcher_testkit import SECRET, Stack

pytestmark = [pytest.mark.rabbitmq]


@pytest.fixture
def counting_cin7() -> Iterator[Recorder]:
    with Recorder.serving() as server:
        yield server


async def _stored_before_the_allow_list(stack: Stack, url: str) -> TenantAccess:
    # Straight into the database, as an older version stored it: nothing checked it then.
    async with unit_of_work(stack.sessions) as session:
        created = await create_tenant(
            session,
            name="Old Address Inc",
            secret_key=SECRET,
            actor="test",
            cin7_username="u",
            cin7_api_key="k",
            cin7_base_url=url,
        )
    async with unit_of_work(stack.sessions) as session:
        access = await tenant_access(session, created.tenant_id, SECRET)
    assert access is not None
    return access


async def test_a_stored_address_off_the_allow_list_is_never_called_and_says_why(
    stack: Stack, counting_cin7: Recorder
) -> None:
    tenant = await _stored_before_the_allow_list(stack, counting_cin7.url)

    refusing = stack.syncer(cin7_allowed_hosts=("api.cin7.com",))  # the production default
    with pytest.raises(TenantSyncError, match="OMNI2QBD_CIN7_ALLOWED_HOSTS") as refused:
        await refusing.turn(tenant, max_pages=3, max_seconds=30)
    assert counting_cin7.hits == []
    assert refused.value.retry_in == refusing.options.error_backoff_max
    async with unit_of_work(stack.sessions) as session:
        statuses = await repo.statuses(session, tenant.tenant_id)
    assert {row["kind"] for row in statuses} == {spec.kind for spec in refusing.kinds}
    for row in statuses:
        error = str(row["last_error"])
        assert error.startswith("Not synced: The Cin7 Omni address"), error
        assert "'127.0.0.1' is not a Cin7 Omni API host" in error
        assert row["last_success_at"] is None

    allowing = stack.syncer(cin7_allowed_hosts=("api.cin7.com", "127.0.0.1"))
    await allowing.turn(tenant, max_pages=3, max_seconds=30)
    assert counting_cin7.hits, "the allowed address was not contacted"


def test_the_fetcher_takes_the_allow_list_from_the_settings() -> None:
    settings = AppSettings(environment="test", secret_key=SECRET, cin7_allowed_hosts=["a.example"])
    assert FetcherOptions.from_settings(settings).cin7_allowed_hosts == ("a.example",)
    assert FetcherOptions().cin7_allowed_hosts == ("api.cin7.com",)
