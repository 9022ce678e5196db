"""A hostile or broken Cin7 hurts only its own tenant, in words a person can act on (issue 13,
point 4): time and size limits per answer, redirects and non-JSON numbers refused, a long
Retry-After reported, and a pass that never ends or repeats itself stopped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypedDict, Unpack

import pytest

from omni2qbd_fetcher import repository as repo
from omni2qbd_fetcher.cin7_client import (
    Cin7Client,
    Cin7RequestError,
    Cin7UnavailableError,
    ResponseLimits,
    RetryPolicy,
)
from omni2qbd_fetcher.repository import TenantAccess, tenant_access
from omni2qbd_fetcher.tenant_sync import TenantSyncError
from omni2qbd_gateway.tenants import create_tenant
from omni2qbd_shared.db.engine import unit_of_work
from tests.fetcher.fetcher_testkit import SECRET, Stack
from tests.fetcher.hostile_cin7 import HostileCin7

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def hostile() -> AsyncIterator[HostileCin7]:
    server = HostileCin7()
    await server.start()
    yield server
    await server.close()


class Limits(TypedDict, total=False):
    """The ``ResponseLimits`` a test tightens."""

    total_seconds: float
    max_bytes: int


def client(hostile: HostileCin7, mode: str, **limits: Unpack[Limits]) -> Cin7Client:
    return Cin7Client(
        tenant="Hostile Inc",
        username="u",
        api_key="k",
        base_url=hostile.base_url(mode),
        retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=5),
        limits=ResponseLimits(**limits),
    )


async def test_a_dripping_answer_is_cut_at_the_total_time_limit_and_not_retried(
    hostile: HostileCin7,
) -> None:
    async with client(hostile, "drip", total_seconds=1.0) as cin7:
        with pytest.raises(Cin7UnavailableError) as caught:
            await cin7.list_page("SalesOrders")
    assert "did not finish answering GET /v1/SalesOrders" in str(caught.value)
    assert "within 1 seconds" in str(caught.value)
    assert cin7.requests_sent == 1


async def test_a_redirect_is_an_error_naming_the_base_url(hostile: HostileCin7) -> None:
    async with client(hostile, "redirect") as cin7:
        with pytest.raises(Cin7RequestError) as caught:
            await cin7.list_page("SalesOrders")
    assert "redirect to https://elsewhere.example" in str(caught.value)
    assert "base URL" in str(caught.value)


@pytest.mark.parametrize("mode", ["huge-declared", "huge"])
async def test_an_oversized_page_is_refused(hostile: HostileCin7, mode: str) -> None:
    async with client(hostile, mode, max_bytes=1024 * 1024) as cin7:
        with pytest.raises(Cin7RequestError) as caught:
            await cin7.list_page("SalesOrders")
    assert "larger than 1 MB" in str(caught.value)


async def test_nan_is_refused_in_words(hostile: HostileCin7) -> None:
    async with client(hostile, "nan") as cin7:
        with pytest.raises(Cin7RequestError) as caught:
            await cin7.list_page("SalesOrders")
    assert "NaN, which is not a JSON number" in str(caught.value)


async def test_a_long_retry_after_ends_the_request_and_says_how_long(
    hostile: HostileCin7,
) -> None:
    async with client(hostile, "retry-after") as cin7:
        with pytest.raises(Cin7UnavailableError) as caught:
            await cin7.list_page("SalesOrders")
    assert caught.value.retry_in == 999999
    assert "wait 12 days" in str(caught.value) and "Retry-After" in str(caught.value)
    assert cin7.requests_sent == 1


async def hostile_tenant(stack: Stack, hostile: HostileCin7, mode: str) -> TenantAccess:
    async with unit_of_work(stack.sessions) as session:
        created = await create_tenant(
            session,
            name=f"{mode} Inc",
            secret_key=SECRET,
            actor="test",
            cin7_username="u",
            cin7_api_key="k",
            cin7_base_url=hostile.base_url(mode),
        )
    async with unit_of_work(stack.sessions) as session:
        access = await tenant_access(session, created.tenant_id, SECRET)
    assert access is not None
    return access


async def sales_order_error(stack: Stack, tenant: TenantAccess) -> str:
    async with unit_of_work(stack.sessions) as session:
        kinds = {row["kind"]: row for row in await repo.statuses(session, tenant.tenant_id)}
    return str(kinds["sales_order"]["last_error"])


async def test_wrong_types_name_the_record_and_field_in_sync_status(
    stack: Stack, hostile: HostileCin7
) -> None:
    tenant = await hostile_tenant(stack, hostile, "wrong-types")
    with pytest.raises(TenantSyncError):
        await stack.syncer().turn(tenant, max_pages=3, max_seconds=30)
    error = await sales_order_error(stack, tenant)
    assert "record 1 of page 1 of SalesOrders: field 'id' is 'SO-1' (a str)" in error
    assert await stack.drain() == []


async def test_a_slow_cin7_and_a_long_retry_after_show_in_sync_status(
    stack: Stack, hostile: HostileCin7
) -> None:
    slow = await hostile_tenant(stack, hostile, "drip")
    syncer = stack.syncer(response_limits=ResponseLimits(total_seconds=0.5))
    with pytest.raises(TenantSyncError):
        await syncer.turn(slow, max_pages=3, max_seconds=30)
    assert "did not finish answering" in await sales_order_error(stack, slow)

    paused = await hostile_tenant(stack, hostile, "retry-after")
    with pytest.raises(TenantSyncError) as caught:
        await syncer.turn(paused, max_pages=3, max_seconds=30)
    assert caught.value.retry_in == 86400  # asked for 12 days; tried again within a day
    assert "wait 12 days" in await sales_order_error(stack, paused)


async def test_a_cin7_repeating_the_same_page_is_stopped(
    stack: Stack, hostile: HostileCin7
) -> None:
    tenant = await hostile_tenant(stack, hostile, "same-page")
    with pytest.raises(TenantSyncError):
        await stack.syncer().turn(tenant, max_pages=50, max_seconds=30)
    assert "answered the same full page of SalesOrders twice" in await sales_order_error(
        stack, tenant
    )


async def test_endless_paging_is_bounded_per_sync_and_reported(
    stack: Stack, hostile: HostileCin7
) -> None:
    tenant = await hostile_tenant(stack, hostile, "endless")
    syncer = stack.syncer(max_pages_per_sync=6, pages_per_turn=2)
    turns = 0
    with pytest.raises(TenantSyncError) as caught:  # noqa: PT012 - the turn loop is the subject
        while True:  # the scheduler's loop: turns until one ends with an error
            turns += 1
            result = await syncer.turn(tenant, max_pages=2, max_seconds=30)
            assert not result.finished
    assert turns == 3
    assert caught.value.retry_in == syncer.options.error_backoff_max
    error = await sales_order_error(stack, tenant)
    assert "kept sending full pages of SalesOrders" in error
    assert "OMNI2QBD_FETCHER_MAX_PAGES_PER_SYNC" in error
    # The flood is bounded: at most the allowed pages (per date field: sales orders are read
    # by modifiedDate and by modifiedCOGSDate) reached the mapper's queue.
    assert len(await stack.drain()) <= 2 * 6 * syncer.options.rows
