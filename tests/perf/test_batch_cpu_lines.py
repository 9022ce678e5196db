"""Issue 15: the mapper's log says what each batch cost, so ``bench/pipeline.py`` can show the
CPU per document per Cin7 kind at any size: every ``document_mapped`` line carries its batch's
size and CPU milliseconds per document, and a batch of results logs one ``results_tracked``."""

from __future__ import annotations

import logging
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
import structlog

from omni2qbd_mapper import handlers
from omni2qbd_shared import messages as m
from omni2qbd_shared.db.engine import unit_of_work
from tests.mapper.test_mapper_store import Sessions, make_tenant
from tests.perf.test_batch_reads import _messages


@pytest.fixture(autouse=True)
def info_lines_kept() -> Iterator[None]:
    """``capture_logs`` swaps the processors only: a test that ran earlier in this process may
    have configured a WARNING level wrapper, which would drop the info lines before capture."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        yield
    finally:
        structlog.configure(**saved)


def _lines(logs: list[MutableMapping[str, Any]], event: str) -> list[MutableMapping[str, Any]]:
    return [line for line in logs if line["event"] == event]


async def test_each_mapped_document_logs_its_batch_size_and_cpu(sessions: Sessions) -> None:
    tenant = await make_tenant(sessions)
    messages = _messages(tenant)
    with structlog.testing.capture_logs() as logs:
        async with unit_of_work(sessions) as session:
            published = await handlers.handle_documents(messages, session)
    mapped = _lines(logs, "document_mapped")
    # One line per document, in the batch's order, each after the whole batch was mapped.
    assert [(line["kind"], line["cin7_id"]) for line in mapped] == [
        (message.kind, message.cin7_id) for message in messages
    ]
    assert {line["batch_size"] for line in mapped} == {len(messages)}
    (cpu_ms,) = {line["batch_cpu_ms"] for line in mapped}
    assert cpu_ms > 0
    assert all("reevaluation" not in line for line in mapped)

    entry_ids = [p.entry_id for p in published if isinstance(p, m.EntryMessage)][:3]
    results = [
        m.ResultMessage(tenant_id=tenant, entry_id=entry_id, outcome="posted", txn_id="T1")
        for entry_id in entry_ids
    ]
    with structlog.testing.capture_logs() as logs:
        async with unit_of_work(sessions) as session:
            await handlers.handle_results(results, session)
    (tracked,) = _lines(logs, "results_tracked")
    assert tracked["batch_size"] == len(results) == 3
    assert tracked["batch_cpu_ms"] > 0
