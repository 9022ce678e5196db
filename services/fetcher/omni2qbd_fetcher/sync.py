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
class _Page:
    """One page as read: its revisions, and where the next page starts (None: the end)."""

    position: Position
    items: list[dict[str, Any]]
    docs: list[Revision]
    short: bool
    following: Position | None = None
    error: Cin7PagingError | None = None


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
        read_ahead: bool = False,
    ) -> None:
        self.tenant_id = tenant_id
        self.spec = spec
        self.field = date_field
        self.client = client
        self.sessions = sessions
        self.publisher = publisher
        self.overlap = overlap
        self.rows = rows
        self.read_ahead = read_ahead
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
        ``recover`` first publishes revisions a dead process left unconfirmed.

        With ``read_ahead`` the next page is requested while this one is recorded and
        published (its start is known from this page alone), so Cin7's time to answer and
        ours to store overlap. A page requested ahead is always read, even past the deadline
        (it counted against the rate limit); the cursor still moves only after a page is
        confirmed, in page order."""
        result = SyncResult()
        if recover:
            await self.revisions.recover(UNCONFIRMED_GRACE)
        position = resume or await self.start_position()
        ahead: asyncio.Task[list[dict[str, Any]]] | None = None
        try:
            while ahead is not None or _within_budget(result, max_pages, deadline):
                items = await (ahead if ahead is not None else self._request(position))
                ahead = None
                result.pages += 1
                page = self._page(position, items, result.pages)
                if (
                    self.read_ahead
                    and page.following is not None
                    and _within_budget(result, max_pages, deadline)
                ):
                    ahead = asyncio.ensure_future(self._request(page.following))
                await self._store_page(page, result)
                if page.following is None:
                    return result
                position = page.following
            result.position = position
            return result
        finally:
            if ahead is not None:  # a failure storing this page: the next is not read
                ahead.cancel()
                ahead.add_done_callback(_retrieve)

    async def _request(self, position: Position) -> list[dict[str, Any]]:
        where, order = self._query(position)
        return await self.client.list_page(
            self.spec.resource, where=where, order=order, rows=self.rows
        )

    def _page(self, position: Position, items: list[dict[str, Any]], number: int) -> _Page:
        """A page's revisions and where the next page starts (None once the end is reached);
        no database or broker work, so the next page can be requested before this one is
        stored. Cin7 repeating a page is an error raised after the page is stored."""
        docs = [self._doc(item, index, number) for index, item in enumerate(items, 1)]
        page = _Page(position, items, docs, short=len(items) < self.rows)
        try:
            if position.tie_after_id is not None:
                page.following = self._after_tied(position, items, page.short)
            elif not page.short and docs and docs[-1].position is not None:
                page.following = self._following(position, docs, items, docs[-1].position)
        except Cin7PagingError as exc:
            page.error = exc
        return page

    async def _store_page(self, page: _Page, result: SyncResult) -> None:
        """Publish the page's new revisions and move the cursor (``result`` says finished,
        and where, after the last page)."""
        published = await self.revisions.publish_new(page.docs)
        seen = len(page.docs)
        result.seen += seen
        result.published += published
        if page.error is not None:
            raise page.error
        if page.position.tie_after_id is not None:
            # A page of records sharing one date, read by id: that date is done (or goes on
            # by id); the cursor holds the date itself.
            await self._advance(page.position.anchor, seen, published)
            return
        last = page.docs[-1].position if page.docs else None
        if page.following is None:
            # The cursor is the newest date actually read, never a date merely asked for.
            if last is not None:
                await self._advance(last, seen, published)
            else:
                await self._count(seen, published)
            result.finished, result.position = True, Position(last or page.position.anchor)
            return
        assert last is not None
        await self._advance(last, seen, published)

    def _after_tied(self, position: Position, items: list[dict[str, Any]], short: bool) -> Position:
        """After a page read by id on one date: go on by id, or past that date."""
        if short:  # that date is exhausted: go on strictly after it
            return Position(position.anchor + timedelta(seconds=1))
        following = Position(position.anchor, int(items[-1]["id"]))
        if following == position:
            raise self._same_page(position.anchor)
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


def _retrieve(task: asyncio.Task[Any]) -> None:
    """A page requested ahead and then abandoned: its outcome is not wanted (not logged)."""
    if not task.cancelled():
        task.exception()


def _within_budget(result: SyncResult, max_pages: int | None, deadline: float | None) -> bool:
    """Another page fits ``max_pages`` and the deadline (which never stops the first page)."""
    return (max_pages is None or result.pages < max_pages) and (
        deadline is None or result.pages == 0 or time.monotonic() < deadline
    )


def _shown(value: Any) -> str:
    if value is None:
        return "missing"
    return f"{value!r}"[:60] + f" (a {type(value).__name__})"
