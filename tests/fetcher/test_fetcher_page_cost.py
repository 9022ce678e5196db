"""A page costs the fetcher one insert and one update, not a statement per document, and
the messages it builds without validating again are the bytes a validated message gives."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from omni2qbd_shared.messages import Cin7DocumentMessage
from omni2qbd_shared.messaging import encode
from tests.fetcher.fetcher_testkit import BOTH_DATABASES, Stack


async def raw_bodies(stack: Stack) -> list[bytes]:
    channel = await stack.connection.channel()
    try:
        queue = await channel.get_queue(
            stack.topology.queue("mapper.cin7-documents").name, ensure=False
        )
        found = []
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            found.append(message.body)
        return found
    finally:
        await channel.close()


@BOTH_DATABASES
async def test_a_page_is_recorded_in_one_insert_and_its_messages_are_unchanged(
    stack: Stack,
) -> None:
    engine = stack.sessions.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split()).lower())

    tenant = await stack.tenant()
    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        syncer = stack.syncer(rows=25)
        for _ in range(200):
            if (await syncer.turn(tenant, max_pages=50)).finished:
                break
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    bodies = await raw_bodies(stack)
    inserts = [s for s in statements if s.startswith("insert into fetched_documents")]
    marks = [s for s in statements if s.startswith("update fetched_documents set published_at")]
    # One insert (executemany) and one update per page with new revisions.
    assert len(bodies) > 10 * len(inserts) > 0
    assert len(inserts) == len(marks)
    for body in bodies:
        validated = Cin7DocumentMessage.model_validate_json(body)
        assert encode(validated).body == body
