"""On PostgreSQL the fetcher requests the next page while it stores one (issue 15: the fetch of
10,000 orders waited for Cin7 and for its own storing in turn); on SQLite it does not, because
no Cin7 request may be under way while it holds the shared write lock (issue 13, point 7)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from omni2qbd_fetcher import sync as sync_module
from omni2qbd_fetcher.cin7_client import Cin7Client
from omni2qbd_fetcher.tenant_sync import TenantSyncError
from omni2qbd_shared import messages as m
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import FetchedDocument
from tests.fetcher.fetcher_testkit import Stack
from tests.fetcher.test_fetcher_sync import expected_counts, sync_to_the_end

POSTGRES = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


class CountedRequests:
    """Counts ``Cin7Client.list_page`` calls; ``reached(n)`` is set once n were made."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self._events: dict[int, asyncio.Event] = {}
        original = Cin7Client.list_page

        async def list_page(client: Cin7Client, resource: str, **kwargs: Any) -> Any:
            self.count += 1
            for wanted, event in self._events.items():
                if self.count >= wanted:
                    event.set()
            return await original(client, resource, **kwargs)

        monkeypatch.setattr(Cin7Client, "list_page", list_page)

    def reached(self, n: int) -> asyncio.Event:
        event = self._events.setdefault(n, asyncio.Event())
        if self.count >= n:
            event.set()
        return event


@POSTGRES
async def test_the_next_page_is_requested_while_a_page_is_published(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = CountedRequests(monkeypatch)
    publish_many = stack.publisher.publish_many
    held: list[int] = []

    async def publish_after_the_next_request(batch: Sequence[m.Message]) -> None:
        if not held:  # the first page's publish waits until the second page was asked for
            await asyncio.wait_for(requests.reached(2).wait(), timeout=30)
            held.append(requests.count)
        await publish_many(batch)

    monkeypatch.setattr(stack.publisher, "publish_many", publish_after_the_next_request)
    tenant = await stack.tenant()
    await sync_to_the_end(stack, tenant)
    assert held == [2]  # (without reading ahead the wait above times out)
    # Everything exactly once, as without reading ahead.
    messages = await stack.drain()
    assert Counter(message["kind"] for message in messages) == expected_counts(stack)
    assert len({(msg["cin7_id"], msg["revision"]) for msg in messages}) == len(messages)


@POSTGRES
async def test_a_page_that_fails_to_publish_stops_the_pass_and_is_read_again(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_many = stack.publisher.publish_many
    calls: list[int] = []

    async def second_page_refused(batch: Sequence[m.Message]) -> None:
        calls.append(len(batch))
        if len(calls) == 2:
            raise ConnectionError("broker gone")
        await publish_many(batch)

    monkeypatch.setattr(stack.publisher, "publish_many", second_page_refused)
    tenant = await stack.tenant()
    syncer = stack.syncer()
    with pytest.raises(TenantSyncError, match="broker gone"):
        await syncer.turn(tenant, max_pages=3)
    assert len(calls) == 2  # the page read ahead was not stored after the failure
    async with unit_of_work(stack.sessions) as session:
        stored = (await session.exec(select(FetchedDocument))).all()
    assert sum(1 for d in stored if d.published_at is not None) == calls[0]
    monkeypatch.setattr(stack.publisher, "publish_many", publish_many)
    # Later syncs (recovery publishes the unconfirmed page) deliver everything exactly once.
    monkeypatch.setattr(sync_module, "UNCONFIRMED_GRACE", timedelta(0))
    await sync_to_the_end(stack, tenant)
    messages = await stack.drain()
    assert Counter(message["kind"] for message in messages) == expected_counts(stack)
    assert len({(msg["cin7_id"], msg["revision"]) for msg in messages}) == len(messages)


async def test_no_reading_ahead_on_sqlite(stack: Stack) -> None:
    assert stack.syncer().read_ahead is False
