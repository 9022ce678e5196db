"""The mapper service: ``create_app(settings)`` is what ``omni2qbd run mapper`` serves.

Its lifespan consumes ``cin7.documents``, ``qb.results``, ``qb.lists`` and ``tenant.events``
(handlers in ``omni2qbd_mapper.handlers``) and publishes entries to ``qb.entries``; the
endpoints are the shared /livez, /readyz and /metrics.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from omni2qbd_mapper import handlers
from omni2qbd_mapper.batching import (
    BatchingDocumentConsumer,
    BatchingListsConsumer,
    BatchingResultsConsumer,
)
from omni2qbd_shared import messages as m
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.planner_statistics import PlannerStatistics
from omni2qbd_shared.messaging import Consumer, Topology
from omni2qbd_shared.service import ServiceRuntime, create_service_app

DOCUMENTS_QUEUE = "mapper.cin7-documents"
RESULTS_QUEUE = "mapper.qb-results"
LISTS_QUEUE = "mapper.qb-lists"
QUEUES: tuple[tuple[str, type[m.Message], Any], ...] = (
    (DOCUMENTS_QUEUE, m.Cin7DocumentMessage, handlers.handle_document),
    (RESULTS_QUEUE, m.ResultMessage, handlers.handle_result),
    (LISTS_QUEUE, m.ListChangesMessage, handlers.handle_lists),
    ("mapper.tenant-events", m.TenantEventMessage, handlers.handle_tenant_event),
)


# What mapping documents fills, and the mapper reads back by document (``prefetch``).
FILLED_TABLES = ("entries", "fetched_documents", "cogs_counted")


def _consumer_for(
    queue_name: str, options: dict[str, Any], max_batch: int, statistics: PlannerStatistics
) -> Consumer:
    """A tenant's messages waiting together in one queue are handled in one transaction:
    documents mapped together, results with each COGS month rebuilt once, list changes with
    the held entries checked once. Tenant events are one at a time."""
    if queue_name == DOCUMENTS_QUEUE:
        return BatchingDocumentConsumer(
            batch_handler=handlers.handle_documents,
            max_batch=max_batch,
            statistics=statistics,
            **options,
        )
    if queue_name == RESULTS_QUEUE:
        return BatchingResultsConsumer(
            batch_handler=handlers.handle_results, max_batch=max_batch, **options
        )
    if queue_name == LISTS_QUEUE:
        return BatchingListsConsumer(
            batch_handler=handlers.handle_lists_batch, max_batch=max_batch, **options
        )
    return Consumer(**options)


def create_app(settings: AppSettings, *, topology: Topology | None = None) -> FastAPI:
    runtime = ServiceRuntime(name="mapper", settings=settings)
    if topology is not None:
        runtime.topology = topology
    consumers: list[Consumer] = runtime.consumers  # /readyz asks each whether it consumes

    async def start_consumers(rt: ServiceRuntime) -> None:
        assert rt.connection is not None and rt.sessions is not None and rt.engine is not None
        statistics = PlannerStatistics(rt.engine, FILLED_TABLES)
        for queue_name, model, handler in QUEUES:
            options: dict[str, Any] = dict(
                connection=rt.connection,
                topology=rt.topology,
                queue_name=queue_name,
                model=model,
                handler=handler,
                sessions=rt.sessions,
                prefetch=settings.mapper_prefetch,
                max_retries=settings.message_max_retries,
                transient_retry_max_seconds=settings.message_transient_retry_max_seconds,
            )
            consumer = _consumer_for(queue_name, options, settings.mapper_prefetch, statistics)
            await consumer.start()
            consumers.append(consumer)

    async def stop_consumers(_rt: ServiceRuntime) -> None:
        while consumers:
            await consumers.pop().stop()

    async def consumers_check() -> str | None:
        if runtime.started.is_set() and len(consumers) != len(QUEUES):
            return "not every queue is being consumed"
        return None

    runtime.on_ready.append(start_consumers)
    runtime.on_stop.append(stop_consumers)
    runtime.extra_checks["consumers"] = consumers_check
    app = create_service_app(runtime, title="omni2qbd mapper")
    app.state.consumers = consumers
    return app
