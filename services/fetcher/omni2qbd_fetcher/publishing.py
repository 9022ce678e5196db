"""Recording and publishing document revisions, exactly once per (document, revision).

A new revision is first recorded in ``fetched_documents`` (its key makes a second fetcher's
insert fail), then published with broker confirms, then marked published. Cursors move only
after that. Revisions recorded but never confirmed (a process died between the two) are found
by ``recover`` and published then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_fetcher import repository as repo
from omni2qbd_fetcher.metrics import REVISIONS_PUBLISHED
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import FetchedDocument, aware, utcnow
from omni2qbd_shared.kinds import Cin7Kind
from omni2qbd_shared.messages import Cin7DocumentMessage
from omni2qbd_shared.messaging import Publisher

log = structlog.get_logger(__name__)
T = TypeVar("T")
_IN_FLIGHT: set[asyncio.Task[Any]] = set()


async def _finish_even_if_cancelled(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to its end even if the caller is cancelled; ``drain`` waits for it."""
    task = asyncio.ensure_future(work)
    _IN_FLIGHT.add(task)
    task.add_done_callback(_IN_FLIGHT.discard)
    return await asyncio.shield(task)


async def drain(grace_seconds: float = 15.0) -> None:
    """On shutdown: let publishes that were already under way finish (bounded)."""
    if _IN_FLIGHT:
        await asyncio.wait(set(_IN_FLIGHT), timeout=grace_seconds)


class PublishError(Exception):
    """The broker did not confirm; the revisions stay recorded as unconfirmed."""


@dataclass
class Revision:
    cin7_id: str
    revision: str
    modified: datetime | None
    position: datetime | None
    kind: Cin7Kind
    payload: dict[str, Any]


class RevisionPublisher:
    def __init__(
        self,
        *,
        tenant_id: str,
        sessions: async_sessionmaker[AsyncSession],
        publisher: Publisher,
        lookup_kinds: Sequence[str],
    ) -> None:
        self.tenant_id = tenant_id
        self.sessions = sessions
        self.publisher = publisher
        self.lookup_kinds = tuple(lookup_kinds)

    async def publish_new(self, docs: Sequence[Revision]) -> int:
        """Record, publish and confirm the page's new revisions; returns how many."""
        for _attempt in range(3):
            async with unit_of_work(self.sessions) as session:
                known = await repo.known_revisions(
                    session, self.tenant_id, self.lookup_kinds, (d.cin7_id for d in docs)
                )
            fresh: dict[tuple[str, str], Revision] = {}
            for doc in docs:
                if (doc.cin7_id, doc.revision) not in known:
                    fresh[(doc.cin7_id, doc.revision)] = doc
            if not fresh:
                return 0
            # Recording and publishing finish even if this task is cancelled (shutdown, a
            # "kill"): a revision is marked published only after the broker confirmed it.
            if await _finish_even_if_cancelled(self._record_and_publish(list(fresh.values()))):
                return len(fresh)
        raise RuntimeError(f"could not record revisions for tenant {self.tenant_id}")

    async def _record_and_publish(self, docs: Sequence[Revision]) -> bool:
        """False if another fetcher recorded some of them first (look again)."""
        try:
            async with unit_of_work(self.sessions) as session:
                await repo.record_revisions(
                    session,
                    [
                        {
                            "tenant_id": self.tenant_id,
                            "kind": doc.kind,
                            "cin7_id": doc.cin7_id,
                            "revision": doc.revision,
                            "modified_date": doc.modified,
                            "payload": doc.payload,
                        }
                        for doc in docs
                    ],
                )
        except IntegrityError:
            return False
        await self._publish(docs)
        return True

    async def _publish(self, docs: Sequence[Revision | FetchedDocument]) -> None:
        fetched_at = utcnow()
        messages = [self._message(doc, fetched_at) for doc in docs]
        try:
            await self.publisher.publish_many(messages)
        except Exception as exc:  # any broker failure: the revisions stay unconfirmed
            raise PublishError(
                f"publishing {len(messages)} revisions of tenant {self.tenant_id} failed: {exc!r}"
            ) from exc
        for message in messages:
            REVISIONS_PUBLISHED.labels(message.kind).inc()
        async with unit_of_work(self.sessions) as session:
            await repo.mark_published(
                session, self.tenant_id, [(d.cin7_id, d.revision) for d in docs], utcnow()
            )

    def _message(
        self, doc: Revision | FetchedDocument, fetched_at: datetime
    ) -> Cin7DocumentMessage:
        """The message of a revision. A page's revisions are built without validating again
        what ``KindSync`` already checked (the payload is Cin7's JSON object as decoded, the
        kind a ``Cin7Kind``): the same fields, so the same bytes on the wire; a recovered row
        (read back from the database) is validated."""
        if isinstance(doc, Revision):
            return Cin7DocumentMessage.model_construct(
                tenant_id=self.tenant_id,
                kind=Cin7Kind(doc.kind),
                cin7_id=doc.cin7_id,
                revision=doc.revision,
                modified_date=doc.modified,
                fetched_at=fetched_at,
                payload=doc.payload,
            )
        return Cin7DocumentMessage(
            tenant_id=self.tenant_id,
            kind=doc.kind,
            cin7_id=doc.cin7_id,
            revision=doc.revision,
            modified_date=aware(doc.modified_date),
            fetched_at=fetched_at,
            payload=doc.payload,
        )

    async def recover(self, grace: timedelta) -> int:
        """Publish revisions another process recorded but never saw confirmed."""
        async with unit_of_work(self.sessions) as session:
            stale = await repo.unpublished(session, self.tenant_id, self.lookup_kinds, grace)
        if stale:
            log.warning("republishing_unconfirmed", tenant_id=self.tenant_id, count=len(stale))
            await _finish_even_if_cancelled(self._publish(stale))
        return len(stale)
