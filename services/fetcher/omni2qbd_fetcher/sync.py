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

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_fetcher import repository as repo
from omni2qbd_fetcher.cin7_client import MAX_ROWS, Cin7Client, Cin7Error, quote
from omni2qbd_fetcher.kinds import MODIFIED, KindSpec
from omni2qbd_fetcher.publishing import Revision, RevisionPublisher
from omni2qbd_shared.cin7_dates import format_cin7_datetime, parse_cin7_datetime
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.messaging import Publisher
from omni2qbd_shared.revision import revision_of

log = structlog.get_logger(__name__)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# A revision recorded this long ago and still unconfirmed belongs to a process that died.
UNCONFIRMED_GRACE = timedelta(seconds=30)


class Cin7DataError(Cin7Error):
    """A record Cin7 sent cannot be read (a wrong type, a missing id); nothing of it is stored."""


class Cin7PagingError(Cin7Error):
    """Cin7 pages without end or answers the same page again: the pass is stopped."""


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
        self.revisions = RevisionPublisher(
            tenant_id=tenant_id,
            sessions=sessions,
            publisher=publisher,
            lookup_kinds=spec.published_kinds,
        )

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
        self,
        *,
        max_pages: int | None = None,
        resume: Position | None = None,
        deadline: float | None = None,
        recover: bool = True,
    ) -> SyncResult:
        """Read from the cursor (or ``resume``) to the end; stop early after ``max_pages``
        pages or once ``time.monotonic()`` passes ``deadline`` (at least one page is read).
        ``recover`` first publishes revisions a dead process left unconfirmed."""
        result = SyncResult()
        if recover:
            await self.revisions.recover(UNCONFIRMED_GRACE)
        position = resume or await self.start_position()
        while _within_budget(result, max_pages, deadline):
            following = await self._read_page(position, result)
            if following is None:
                return result
            position = following
        result.position = position
        return result

    async def _read_page(self, position: Position, result: SyncResult) -> Position | None:
        """Publish one page from ``position`` and move the cursor; where the next page starts,
        or None once the end is reached (``result`` then says finished, and where)."""
        where, order = self._query(position)
        items = await self.client.list_page(
            self.spec.resource, where=where, order=order, rows=self.rows
        )
        result.pages += 1
        docs = [self._doc(item, index, result.pages) for index, item in enumerate(items, 1)]
        published = await self.revisions.publish_new(docs)
        result.seen += len(docs)
        result.published += published
        short = len(items) < self.rows
        if position.tie_after_id is not None:
            return await self._after_tied_page(position, items, short, len(docs), published)
        last = docs[-1].position if docs else None
        if short or last is None:
            # The cursor is the newest date actually read, never a date merely asked for.
            if last is not None:
                await self._advance(last, len(docs), published)
            else:
                await self._count(len(docs), published)
            result.finished, result.position = True, Position(last or position.anchor)
            return None
        following = self._following(position, docs, items, last)
        await self._advance(last, len(docs), published)
        return following

    async def _after_tied_page(
        self,
        position: Position,
        items: list[dict[str, Any]],
        short: bool,
        seen: int,
        published: int,
    ) -> Position:
        """A page of records sharing one date, read by id: go on by id, or past that date."""
        done_date = position.anchor
        if short:  # that date is exhausted: go on strictly after it
            following = Position(done_date + timedelta(seconds=1))
        else:
            following = Position(position.anchor, int(items[-1]["id"]))
            if following == position:
                raise self._same_page(position.anchor)
        await self._advance(done_date, seen, published)
        return following

    def _following(
        self,
        position: Position,
        docs: list[Revision],
        items: list[dict[str, Any]],
        last: datetime,
    ) -> Position:
        if all(doc.position == last for doc in docs):
            following = Position(last, int(items[-1]["id"]))  # a whole page on one date
        else:
            following = Position(last)  # records at `last` come back once and dedupe
        if following == position:
            raise self._same_page(last)
        return following

    def _same_page(self, at: datetime) -> Cin7PagingError:
        return Cin7PagingError(
            f"Cin7 Omni answered the same full page of {self.spec.resource} twice (from "
            f"{format_cin7_datetime(at)}), so it ignores the date filter; the sync of this kind "
            "stopped instead of reading the same records forever"
        )

    def _doc(self, item: dict[str, Any], index: int = 0, page: int = 0) -> Revision:
        where = f"record {index} of page {page} of {self.spec.resource}"
        raw_id = item.get("id")
        if isinstance(raw_id, bool) or not isinstance(raw_id, int):
            raise Cin7DataError(
                f"{where}: field 'id' is {_shown(raw_id)}, expected a whole number; "
                "nothing of this page was imported"
            )
        try:
            modified = parse_cin7_datetime(item.get(MODIFIED))
            position = (
                parse_cin7_datetime(item.get(self.field)) if self.field != MODIFIED else modified
            )
        except ValueError as exc:
            raise Cin7DataError(
                f"{where} (Cin7 id {raw_id}): a date field cannot be read ({exc}); "
                "nothing of this page was imported"
            ) from exc
        if position is not None:
            position = position.replace(microsecond=0)
        return Revision(
            cin7_id=str(item["id"]),
            revision=revision_of(item),
            modified=modified,
            position=position,
            kind=self.spec.kind_of(item),
            payload=item,
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


def _within_budget(result: SyncResult, max_pages: int | None, deadline: float | None) -> bool:
    """Another page fits ``max_pages`` and the deadline (which never stops the first page)."""
    return (max_pages is None or result.pages < max_pages) and (
        deadline is None or result.pages == 0 or time.monotonic() < deadline
    )


def _shown(value: Any) -> str:
    if value is None:
        return "missing"
    return f"{value!r}"[:60] + f" (a {type(value).__name__})"
