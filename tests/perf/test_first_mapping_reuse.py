"""Issue 15: a batch maps each document once before storing anything (to learn what it will
read); the mapping that stores it reuses that one unless something it looked at changed
meanwhile: a RefNumber an earlier document of the batch now holds, or an entry of it already
in QuickBooks. What the batch stores is what one by one stores (``test_batch_reads``)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from omni2qbd_mapper import handlers
from omni2qbd_mapper.mapping import map_document
from omni2qbd_shared.db.engine import unit_of_work
from tests.mapper.test_mapper_store import Sessions, make_tenant
from tests.perf.test_batch_reads import _messages


async def test_a_document_is_mapped_again_only_when_what_it_saw_changed(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await make_tenant(sessions)
    messages = _messages(tenant)
    mapped: Counter[tuple[str, str, str]] = Counter()

    def counting(kind: Any, payload: Any, *args: Any, **kwargs: Any) -> Any:
        mapped[(str(kind), str(kwargs.get("cin7_id")), str(kwargs.get("revision")))] += 1
        return map_document(kind, payload, *args, **kwargs)

    monkeypatch.setattr(handlers, "map_document", counting)
    async with unit_of_work(sessions) as session:
        await handlers.handle_documents(messages, session)

    order, same_customer, same_reference, again, credit_note, bill = messages
    twice = {(str(msg.kind), msg.cin7_id, msg.revision) for msg in (same_reference, again)}
    # The order whose RefNumber the first order took (mapped a third time: the RefNumber it
    # falls back to is asked too), and the first order's next revision (its own earlier
    # revision holds the RefNumber now): mapped again.
    assert {key for key, n in mapped.items() if n >= 2} == twice, mapped
    # Everything else: the first mapping was the one stored.
    assert {key for key, n in mapped.items() if n == 1} == {
        (str(msg.kind), msg.cin7_id, msg.revision)
        for msg in (order, same_customer, credit_note, bill)
    }, mapped
