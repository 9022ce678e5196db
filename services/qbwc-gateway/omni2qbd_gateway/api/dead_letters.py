"""A tenant's dead-lettered messages, by name and with the reason (issue 13): listed for
anyone who may see the tenant, replayed or discarded by an operator.

The dead-letter queues are read from RabbitMQ with ``omni2qbd_shared.dead_letters`` (the
same reading as ``omni2qbd dlq list`` and ``omni2qbd status``), under the gateway runtime's
topology (its namespace). Reading takes nothing out of the queues. A broker that cannot be
reached answers 503 with a sentence.
"""

from __future__ import annotations

import asyncio

import structlog
from aio_pika.exceptions import AMQPError
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from omni2qbd_gateway.api.deps import (
    TenantAccess,
    database,
    operator_access,
    read_access,
    runtime_of,
)
from omni2qbd_gateway.api.errors import AUTH, Problem, Responses
from omni2qbd_gateway.workflow import audit
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.dead_letters import DeadLetter, list_dead_letters, settle

log = structlog.get_logger(__name__)

router = APIRouter(
    prefix="/tenants/{tenant_id}/dead-letters", tags=["dead letters"], responses=AUTH
)

# Long enough for a broker holding thousands of dead letters, short enough for a person.
BROKER_SECONDS = 20.0
UNREACHABLE = "the dead-letter queues cannot be read: RabbitMQ cannot be reached; try again later"
UNAVAILABLE: Responses = {
    503: {"model": Problem, "description": "RabbitMQ cannot be reached (said in a sentence)"}
}


class DeadLetterView(BaseModel):
    message_id: str = Field(description="Stable while the message is in its dead-letter queue")
    what: str = Field(description='The document by name, e.g. "Cin7 purchase_order 5120 (PO-5120)"')
    queue: str = Field(description="The work queue it came from")
    reason: str = Field(description="Why it was dead-lettered, in words")
    dead_lettered_at: str | None = Field(description="When (ISO 8601, UTC), if recorded")

    @classmethod
    def of(cls, dead: DeadLetter) -> DeadLetterView:
        return cls(
            message_id=dead.message_id,
            what=dead.what,
            queue=dead.queue,
            reason=dead.reason,
            dead_lettered_at=dead.dead_lettered_at,
        )


class DeadLetters(BaseModel):
    tenant_id: str
    dead_letters: list[DeadLetterView]


class SettleRequest(BaseModel):
    message_ids: list[str] = Field(min_length=1, max_length=1000)


class Settled(BaseModel):
    done: list[DeadLetterView]
    not_found: list[str] = Field(description="Ids that are not among the tenant's dead letters")


def _broker_down(exc: Exception) -> HTTPException:
    log.warning("dead_letters_unreadable", error=f"{type(exc).__name__}: {exc}"[:300])
    return HTTPException(503, UNREACHABLE)


@router.get("", response_model=DeadLetters, responses=UNAVAILABLE)
async def dead_letters(
    request: Request, access: TenantAccess = Depends(read_access)
) -> DeadLetters:
    """The tenant's dead-lettered messages: the document by name, its queue, the reason and
    when (nothing is taken out of the queues)."""
    runtime = runtime_of(request)
    try:
        async with asyncio.timeout(BROKER_SECONDS):
            found = await list_dead_letters(
                runtime.settings, access.tenant_id, topology=runtime.topology
            )
    except (OSError, TimeoutError, AMQPError) as exc:
        raise _broker_down(exc) from None
    return DeadLetters(
        tenant_id=access.tenant_id, dead_letters=[DeadLetterView.of(dead) for dead in found]
    )


async def _settle(
    request: Request, access: TenantAccess, body: SettleRequest, *, replay: bool
) -> Settled:
    runtime = runtime_of(request)
    chosen = set(body.message_ids)
    try:
        async with asyncio.timeout(BROKER_SECONDS):
            done = await settle(
                runtime.settings,
                chosen,
                replay=replay,
                tenant_id=access.tenant_id,
                topology=runtime.topology,
            )
    except (OSError, TimeoutError, AMQPError) as exc:
        raise _broker_down(exc) from None
    async with unit_of_work(database(request)) as db:
        for dead in done:
            await audit.record(
                db,
                tenant_id=access.tenant_id,
                actor=access.principal.email,
                action="dlq_replayed" if replay else "dlq_discarded",
                subject=dead.message_id,
                detail={"what": dead.what, "queue": dead.queue, "reason": dead.reason},
            )
    settled = {dead.message_id for dead in done}
    return Settled(
        done=[DeadLetterView.of(dead) for dead in done],
        not_found=sorted(chosen - settled),
    )


@router.post("/replay", response_model=Settled, responses=UNAVAILABLE)
async def replay(
    request: Request, body: SettleRequest, access: TenantAccess = Depends(operator_access)
) -> Settled:
    """Put the chosen dead letters back on the queue they came from (operators)."""
    return await _settle(request, access, body, replay=True)


@router.post("/discard", response_model=Settled, responses=UNAVAILABLE)
async def discard(
    request: Request, body: SettleRequest, access: TenantAccess = Depends(operator_access)
) -> Settled:
    """Drop the chosen dead letters for good; each is recorded in the audit log (operators)."""
    return await _settle(request, access, body, replay=False)
