"""Incremental sync of one tenant's documents of one kind by one date field.

Paging is keyset paging over the documented ``where`` syntax, not page numbers: page numbers
skip records when an edit moves a record past the page being read (reference §3.3). Each
request asks for ``field>='<date of the last record seen>'`` ordered by ``field, id``; records
at that exact date come back once more and are recognised by their revision. When more than a
page of records share one date (a bulk edit), that date is walked by ``id`` instead.

Each page's new revisions are recorded, published with broker confirms, marked published, and
only then is the cursor moved to the page's last date. A process that dies at any point
restarts from its cursor minus the overlap window and re-reads; known revisions are not
published again, and revisions recorded but never confirmed are published by ``recover``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_fetcher import repository as repo
from omni2qbd_fetcher.cin7_client import MAX_ROWS, Cin7Client, quote
from omni2qbd_fetcher.kinds import MODIFIED, KindSpec
from omni2qbd_fetcher.models import format_cin7_datetime, parse_cin7_datetime
from omni2qbd_fetcher.revision import revision_of
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import FetchedDocument, utcnow
from omni2qbd_shared.messages import Cin7DocumentMessage
from omni2qbd_shared.messaging import Publisher

log = structlog.get_logger(__name__)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# A revision recorded this long ago and still unconfirmed belongs to a process that died.
UNCONFIRMED_GRACE = timedelta(seconds=30)


@dataclass(frozen=True)
class Position:
    """Where a pass stands: records from ``anchor`` on (and, walking a shared date, after id)."""

    anchor: datetime
    tie_after_id: int | None = None


@dataclass
class SyncResult:
    seen: int = 0
    published: int = 0
    pages: int = 0
    finished: bool = False
    position: Position | None = None


@dataclass
class _Doc:
    cin7_id: str
    revision: str
    modified: datetime | None
    position: datetime | None
    kind: str
    payload: dict[str, Any]


class KindSync:
    """Syncs one (tenant, kind, date field); safe to run again at any time."""

    def __init__(
        self,
        *,
        tenant_id: str,
        spec: KindSpec,
        date_field: str,
        client: Cin7Client,
        sessions: async_sessionmaker[AsyncSession],
        publisher: Publisher,
        overlap: timedelta,
        rows: int = MAX_ROWS,
    ) -> None:
        self.tenant_id = tenant_id
        self.spec = spec
        self.field = date_field
        self.client = client
        self.sessions = sessions
        self.publisher = publisher
        self.overlap = overlap
        self.rows = rows

    async def start_position(self) -> Position:
        async with unit_of_work(self.sessions) as session:
            cursor = await repo.get_cursor(session, self.tenant_id, self.spec.kind, self.field)
        return Position((cursor - self.overlap) if cursor else EPOCH)

    def _query(self, position: Position) -> tuple[str, str]:
        since = f"{self.field}>={quote(format_cin7_datetime(position.anchor))}"
        if position.tie_after_id is None:
            return since, f"{self.field},id"
        # Cin7 may keep sub-second precision it does not show: bound the date by a second.
        before = format_cin7_datetime(position.anchor + timedelta(seconds=1))
        return f"{since} AND {self.field}<{quote(before)} AND id>{position.tie_after_id}", "id"

    async def run(
        self, *, max_pages: int | None = None, resume: Position | None = None
    ) -> SyncResult:
        """Read from the cursor (or ``resume``) to the end, or stop after ``max_pages``."""
        result = SyncResult()
        await self.recover()
        position = resume or await self.start_position()
        while max_pages is None or result.pages < max_pages:
            where, order = self._query(position)
            items = await self.client.list_page(
                self.spec.resource, where=where, order=order, rows=self.rows
            )
            result.pages += 1
            docs = [self._doc(item) for item in items]
            published = await self._process(docs)
            result.seen += len(docs)
            result.published += published
            short = len(items) < self.rows
            last = docs[-1].position if docs else None
            if position.tie_after_id is not None:
                if short:  # that date is exhausted: go on strictly after it
                    done_date = position.anchor
                    position = Position(done_date + timedelta(seconds=1))
                else:
                    done_date = position.anchor
                    position = Position(position.anchor, int(items[-1]["id"]))
                await self._advance(done_date, len(docs), published)
                continue
            if short or last is None:
                end = max(position.anchor, last) if last else position.anchor
                if end > EPOCH:
                    await self._advance(end, len(docs), published)
                else:
                    await self._count(len(docs), published)
                result.finished, result.position = True, Position(end)
                return result
            if all(doc.position == last for doc in docs):
                position = Position(last, int(items[-1]["id"]))  # a whole page on one date
            else:
                position = Position(last)  # records at `last` come back once and dedupe
            await self._advance(last, len(docs), published)
        result.position = position
        return result

    def _doc(self, item: dict[str, Any]) -> _Doc:
        modified = parse_cin7_datetime(item.get(MODIFIED))
        position = parse_cin7_datetime(item.get(self.field)) if self.field != MODIFIED else modified
        if position is not None:
            position = position.replace(microsecond=0)
        return _Doc(
            cin7_id=str(item["id"]),
            revision=revision_of(item),
            modified=modified,
            position=position,
            kind=self.spec.kind_of(item),
            payload=item,
        )

    async def _process(self, docs: Sequence[_Doc]) -> int:
        """Record, publish and confirm the page's new revisions; returns how many."""
        for _attempt in range(3):
            async with unit_of_work(self.sessions) as session:
                known = await repo.known_revisions(
                    session, self.tenant_id, self.spec.published_kinds, (d.cin7_id for d in docs)
                )
            fresh: dict[tuple[str, str], _Doc] = {}
            for doc in docs:
                if (doc.cin7_id, doc.revision) not in known:
                    fresh[(doc.cin7_id, doc.revision)] = doc
            if not fresh:
                return 0
            # Recording and publishing finish even if this task is cancelled (shutdown, a
            # "kill"): a revision is marked published only after the broker confirmed it.
            if await asyncio.shield(self._record_and_publish(list(fresh.values()))):
                return len(fresh)
        raise RuntimeError(f"could not record {self.spec.kind} revisions for {self.tenant_id}")

    async def _record_and_publish(self, docs: Sequence[_Doc]) -> bool:
        """False if another fetcher recorded some of them first (look again)."""
        try:
            async with unit_of_work(self.sessions) as session:
                for doc in docs:
                    session.add(
                        FetchedDocument(
                            tenant_id=self.tenant_id,
                            kind=doc.kind,
                            cin7_id=doc.cin7_id,
                            revision=doc.revision,
                            modified_date=doc.modified,
                            payload=doc.payload,
                        )
                    )
        except IntegrityError:
            return False
        await self._publish(docs)
        return True

    async def _publish(self, docs: Sequence[_Doc | FetchedDocument]) -> None:
        fetched_at = utcnow()
        messages = [
            Cin7DocumentMessage(
                tenant_id=self.tenant_id,
                kind=doc.kind,
                cin7_id=doc.cin7_id,
                revision=doc.revision,
                modified_date=doc.modified
                if isinstance(doc, _Doc)
                else repo.aware(doc.modified_date),
                fetched_at=fetched_at,
                payload=doc.payload,
            )
            for doc in docs
        ]
        await self.publisher.publish_many(messages)
        async with unit_of_work(self.sessions) as session:
            await repo.mark_published(
                session, self.tenant_id, [(d.cin7_id, d.revision) for d in docs], utcnow()
            )

    async def _advance(self, position: datetime, seen: int, published: int) -> None:
        async with unit_of_work(self.sessions) as session:
            await repo.set_cursor(session, self.tenant_id, self.spec.kind, self.field, position)
            await repo.record_success(
                session,
                self.tenant_id,
                self.spec.kind,
                seen=seen,
                published=published,
                finished=False,
            )

    async def _count(self, seen: int, published: int) -> None:
        async with unit_of_work(self.sessions) as session:
            await repo.record_success(
                session,
                self.tenant_id,
                self.spec.kind,
                seen=seen,
                published=published,
                finished=False,
            )

    async def recover(self) -> int:
        """Publish revisions another process recorded but never saw confirmed."""
        async with unit_of_work(self.sessions) as session:
            stale = await repo.unpublished(
                session, self.tenant_id, self.spec.published_kinds, UNCONFIRMED_GRACE
            )
        if stale:
            log.warning("republishing_unconfirmed", tenant_id=self.tenant_id, count=len(stale))
            await asyncio.shield(self._publish(stale))
        return len(stale)
