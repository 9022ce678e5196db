"""Message handlers of the mapper service (each runs in one transaction; see messaging.Consumer).

- ``cin7.documents``: map the revision, store entries (idempotent by tenant, kind, Cin7 id and
  revision), publish them to ``qb.entries``, fold COGS into monthly journals.
- ``qb.results``: track what reached QuickBooks (posted / locked / failed).
- ``qb.lists`` and ``tenant.events``: re-evaluate entries that wait for a person, because a
  list change, a confirmed match or new settings may have resolved their findings.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import structlog
from pydantic import ValidationError
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_mapper import cogs_totals, store
from omni2qbd_mapper.cin7doc import UnknownKind
from omni2qbd_mapper.list_references import ChangedNames
from omni2qbd_mapper.lists_loader import (
    AskedRefNumbers,
    load_cogs_lists,
    load_lists,
    ref_number_owners,
)
from omni2qbd_mapper.mapping import map_document
from omni2qbd_mapper.prefetch import BatchReads, FirstMapping, ResultReads, batch_reads
from omni2qbd_mapper.result import MappingResult
from omni2qbd_shared import messages as m
from omni2qbd_shared.db.models import FetchedDocument, Tenant, utcnow
from omni2qbd_shared.db.settings_store import latest_settings
from omni2qbd_shared.db.tenancy import scoped
from omni2qbd_shared.kinds import OFFERED_STATES
from omni2qbd_shared.messaging import PoisonMessage
from omni2qbd_shared.qb_lists import QbLists
from omni2qbd_shared.tenant_settings import TenantSettings, settings_problems

log = structlog.get_logger(__name__)


async def _tenant_settings(session: AsyncSession, tenant_id: str) -> TenantSettings:
    if await session.get(Tenant, tenant_id) is None:
        raise PoisonMessage(f"tenant {tenant_id} does not exist")
    saved = await latest_settings(session, tenant_id)
    if saved is None:
        return TenantSettings()
    problems = settings_problems(saved.body)
    if problems:
        # The gateway validates before saving, so this is a stored version from an older
        # schema; mapping with defaults would post to the wrong accounts, so retry later.
        raise RuntimeError(
            f"saved settings version {saved.version} of tenant {tenant_id} are invalid: "
            + "; ".join(problems[:3])
        )
    return TenantSettings.model_validate(saved.body)


async def _is_stale(session: AsyncSession, message: m.Cin7DocumentMessage) -> bool:
    """A redelivered older revision must not replace a newer one already mapped."""
    if message.modified_date is None:
        return False
    reads = batch_reads(session, message.tenant_id, (message.kind, message.cin7_id))
    if (
        reads is not None
        and reads.newer_stored((message.kind, message.cin7_id), message.modified_date) is False
    ):
        return False  # no newer revision stored (read with the batch, ``prefetch``)
    statement = (
        scoped(FetchedDocument, message.tenant_id)
        .where(
            FetchedDocument.kind == message.kind,
            FetchedDocument.cin7_id == message.cin7_id,
            col(FetchedDocument.modified_date) > message.modified_date,
        )
        .limit(1)
    )
    newer = (await session.exec(statement)).first()
    if newer is None:
        return False
    rows = await store.document_rows(session, message.tenant_id, message.kind, message.cin7_id)
    return any(row.revision == newer.revision for row in rows)


async def map_and_store(
    session: AsyncSession,
    tenant_id: str,
    kind: str,
    cin7_id: str,
    revision: str,
    payload: dict[str, Any],
    settings: TenantSettings,
    lists: QbLists,
    out: store.Outbox,
) -> dict[str, Any]:
    """Map one revision and store what it makes; the fields of its ``document_mapped`` line
    (the caller logs it: a batch adds its CPU per document once the batch is done)."""
    posted = await store.posted_entries(session, tenant_id, kind, cin7_id)
    refs = lists.ref_numbers
    result = _first_mapping_still_valid(
        session, tenant_id, (kind, cin7_id, revision), posted, lists
    )
    while result is None:
        try:
            result = map_document(
                kind,
                payload,
                settings,
                lists,
                tenant_id=tenant_id,
                revision=revision,
                posted=posted,
                cin7_id=cin7_id,
            )
        except (UnknownKind, ValueError) as exc:
            raise PoisonMessage(f"{kind} {cin7_id} cannot be read: {exc}") from exc
        if isinstance(refs, AskedRefNumbers) and (unknown := refs.unknown()):
            # The mapping asked who holds RefNumbers not read yet: read those owners
            # (indexed) and map again with them; ends when it asks nothing new.
            refs.update(await ref_number_owners(session, tenant_id, unknown))
            refs.read |= unknown
            result = None
    await store.apply_result(session, tenant_id, kind, cin7_id, revision, result, out)
    await cogs_totals.sync_document(session, tenant_id, kind, cin7_id, out)
    return {
        "kind": kind,
        "cin7_id": cin7_id,
        "status": result.status.value,
        "entries": len(result.entries),
    }


def _first_mapping_still_valid(
    session: AsyncSession,
    tenant_id: str,
    document: tuple[str, str, str],
    posted: Sequence[Any],
    lists: QbLists,
) -> MappingResult | None:
    """The batch's first mapping of this revision (``_read_for_batch``), when mapping it
    again would give the same: it saw no RefNumber held and no entry of it in QuickBooks,
    and both are still so (the document before it in the batch may have taken one).
    Mapping every document twice was about a tenth of a batch's CPU."""
    reads = batch_reads(session, tenant_id, document[:2])
    first = reads.first_mappings.get(document) if reads is not None else None
    if first is None or posted:
        return None
    held = lists.ref_numbers
    return None if any(key in held for key in first.looked_up) else first.result


async def _rebuild_months(
    session: AsyncSession,
    tenant_id: str,
    periods: set[str],
    settings: TenantSettings,
    lists: QbLists,
    out: store.Outbox,
) -> None:
    now = utcnow()
    wanted = sorted(p for p in periods if p)
    if not wanted:
        return
    # Every month's journal versions and open rows in two queries (``store.Journals``).
    journals = await store.Journals.read(session, tenant_id, wanted)
    for period in wanted:
        await cogs_totals.rebuild_month(
            session, tenant_id, period, settings, lists, now, out, journals
        )


async def handle_document(
    message: m.Cin7DocumentMessage, session: AsyncSession
) -> Sequence[m.Message]:
    return await handle_documents([message], session)


async def handle_documents(
    messages: Sequence[m.Cin7DocumentMessage], session: AsyncSession
) -> Sequence[m.Message]:
    """Map several documents of one tenant in one transaction (``batching``): the tenant's
    settings and QuickBooks lists are read once, each touched COGS month rebuilt once."""
    tenant_id = messages[0].tenant_id
    if any(message.tenant_id != tenant_id for message in messages):
        raise ValueError("a batch holds one tenant's documents")
    cpu_started = time.thread_time()
    await store.lock_tenant(session, tenant_id)
    settings = await _tenant_settings(session, tenant_id)
    lists = await load_lists(
        session, tenant_id, exchange_rates=settings.multi_currency, lazy_ref_numbers=True
    )
    out = store.Outbox()
    documents = [(msg.kind, msg.cin7_id, msg.revision, msg.payload) for msg in messages]
    reads = await _read_for_batch(session, tenant_id, documents, settings, lists)
    reads.install(session)
    mapped: list[dict[str, Any]] = []
    try:
        for message in messages:
            reads.start((message.kind, message.cin7_id))
            line = await _map_one(session, message, settings, lists, out)
            if line is not None:
                mapped.append(line)
            reads.finish((message.kind, message.cin7_id))
    finally:
        reads.remove(session)
    await _rebuild_months(session, tenant_id, out.touched_periods, settings, lists, out)
    _log_mapped(mapped, len(messages), time.thread_time() - cpu_started)
    return out.messages


def _log_mapped(mapped: Sequence[dict[str, Any]], batch_size: int, cpu_seconds: float) -> None:
    """One ``document_mapped`` line per document, each with the batch's size and its CPU
    milliseconds per document (``bench/pipeline.py`` reports them per kind). The CPU is this
    thread's from the tenant lock to the months rebuilt, so it also holds what the event
    loop ran while the batch awaited the database (another queue's batch, a publish)."""
    cpu_ms = round(1000 * cpu_seconds / max(batch_size, 1), 3)
    for line in mapped:
        log.info("document_mapped", **line, batch_size=batch_size, batch_cpu_ms=cpu_ms)


_Document = tuple[str, str, str, dict[str, Any]]  # kind, Cin7 id, revision, payload


async def _read_for_batch(
    session: AsyncSession,
    tenant_id: str,
    documents: Sequence[_Document],
    settings: TenantSettings,
    lists: QbLists,
) -> BatchReads:
    """What the batch's documents will ask the database, in a few queries (``prefetch``),
    and the owners of the RefNumbers they would use: each document is mapped once without
    storing anything (well under a millisecond) to learn which RefNumbers it asks for and
    which entries filed under another document (a new customer's add) it makes, so those
    are read together instead of a query or two per document."""
    await cogs_totals.ensure_totals(session, tenant_id)  # no refill in the middle of the batch
    keys = [(kind, cin7_id) for kind, cin7_id, _revision, _payload in documents]
    reads = await BatchReads.read(session, tenant_id, keys)
    reads.revenue = await store.revenue_states(session, tenant_id, keys)
    refs = lists.ref_numbers
    shared: set[tuple[str, str]] = set()
    for kind, cin7_id, revision, payload in documents:
        looked_up: set[tuple[str, str]] = set()
        if isinstance(refs, AskedRefNumbers):
            refs.looked_up = looked_up
        try:
            result = map_document(
                kind,
                payload,
                settings,
                lists,
                tenant_id=tenant_id,
                revision=revision,
                cin7_id=cin7_id,
            )
        except Exception:  # noqa: S112 - the real mapping reports it
            continue
        finally:
            if isinstance(refs, AskedRefNumbers):
                refs.looked_up = None
        # Only a mapping that saw no RefNumber held can be reused (``map_and_store``).
        if isinstance(refs, AskedRefNumbers) and not any(key in refs for key in looked_up):
            reads.first_mappings[(kind, cin7_id, revision)] = FirstMapping(
                result, frozenset(looked_up)
            )
        shared |= {
            (e.source.kind, e.source.cin7_id) for e in result.entries if e.source.kind != kind
        }
    await reads.read_shared(session, shared)
    if isinstance(refs, AskedRefNumbers) and (unknown := refs.unknown()):
        refs.update(await ref_number_owners(session, tenant_id, unknown))
        refs.read |= unknown
    return reads


async def _map_one(
    session: AsyncSession,
    message: m.Cin7DocumentMessage,
    settings: TenantSettings,
    lists: QbLists,
    out: store.Outbox,
) -> dict[str, Any] | None:
    """The document's ``document_mapped`` fields; None for a stale revision (not mapped)."""
    tenant_id = message.tenant_id
    if await _is_stale(session, message):
        log.info("stale_revision_ignored", kind=message.kind, cin7_id=message.cin7_id)
        return None
    before = len(out.messages)
    line = await map_and_store(
        session,
        tenant_id,
        message.kind,
        message.cin7_id,
        message.revision,
        message.payload,
        settings,
        lists,
        out,
    )
    _remember_ref_numbers(out.messages[before:], lists)
    return line


def _remember_ref_numbers(produced: Sequence[m.Message], lists: QbLists) -> None:
    """The next document of the batch must see the RefNumbers this one now holds."""
    for message in produced:
        if isinstance(message, m.EntryMessage) and message.state in OFFERED_STATES:
            ref = message.entry.get("ref_number")
            if ref:
                owner = f"{message.source.kind}:{message.source.cin7_id}"
                lists.add_ref_numbers(message.entry_kind, {str(ref): owner})


async def handle_result(message: m.ResultMessage, session: AsyncSession) -> Sequence[m.Message]:
    return await handle_results([message], session)


async def handle_results(
    messages: Sequence[m.ResultMessage], session: AsyncSession
) -> Sequence[m.Message]:
    """Track several results of one tenant in one transaction (``batching``): each
    COGS month the results touch is rebuilt once (one journal version), settings and lists
    read once, and only when a month needs rebuilding. Logs ``results_tracked`` with the
    batch's size and CPU milliseconds per result (as ``document_mapped`` for documents)."""
    cpu_started = time.thread_time()
    out = await _track_results(messages, session)
    log.info(
        "results_tracked",
        batch_size=len(messages),
        batch_cpu_ms=round(1000 * (time.thread_time() - cpu_started) / len(messages), 3),
    )
    return out


async def _track_results(
    messages: Sequence[m.ResultMessage], session: AsyncSession
) -> Sequence[m.Message]:
    tenant_id = messages[0].tenant_id
    if any(message.tenant_id != tenant_id for message in messages):
        raise ValueError("a batch holds one tenant's results")
    await store.lock_tenant(session, tenant_id)
    out = store.Outbox()
    periods: set[str] = set()
    await cogs_totals.ensure_totals(session, tenant_id)  # no refill in the middle of the batch
    # The entries, their documents' revenue rows, contributions and counted months, read
    # together (``prefetch``) instead of a query or five per result.
    reads = await ResultReads.read(session, tenant_id, [m.entry_id for m in messages])
    # The month totals those documents may move, in one query (``cogs_totals.MonthTotals``).
    totals = await cogs_totals.MonthTotals.read(session, tenant_id, reads.periods())
    reads.install(session)
    totals.install(session)
    try:
        for message in messages:
            periods |= await _track_result(session, tenant_id, message, out)
        periods |= out.touched_periods
        if periods:
            settings = await _tenant_settings(session, tenant_id)
            # A month's journal asks the lists only which were read and for the accounts.
            lists = await load_cogs_lists(session, tenant_id)
            await _rebuild_months(session, tenant_id, periods, settings, lists, out)
    finally:
        reads.remove(session)
        totals.remove(session)
    return out.messages


async def _track_result(
    session: AsyncSession, tenant_id: str, message: m.ResultMessage, out: store.Outbox
) -> set[str]:
    """One result's new state; the COGS months it re-opens."""
    row = await store.set_state_from_result(session, tenant_id, message.entry_id, message.outcome)
    if row is None:
        log.info("result_for_unknown_entry", entry_id=message.entry_id)
        return set()
    if row.entry_kind not in store.REVENUE_KINDS:
        return set()
    await cogs_totals.sync_document(session, tenant_id, row.source_kind, row.cin7_id, out)
    if row.state in store.COUNTS_COGS:
        # The invoice or credit memo is in QuickBooks now: its COGS joins (or re-opens)
        # its month, whose journal is published again even when the sums did not move.
        return await store.contribution_periods(session, tenant_id, row.source_kind, row.cin7_id)
    return set()


async def reevaluate(
    session: AsyncSession,
    tenant_id: str,
    *,
    held_only: bool,
    mentioning: ChangedNames | None = None,
) -> Sequence[m.Message]:
    """Map again every document whose entries are still waiting (with ``mentioning``: only
    those naming a changed list element), with today's settings and lists."""
    await store.lock_tenant(session, tenant_id)
    try:
        settings = await _tenant_settings(session, tenant_id)
    except PoisonMessage:
        return []  # an event for a tenant deleted meanwhile: nothing to re-evaluate
    lists = await load_lists(
        session, tenant_id, exchange_rates=settings.multi_currency, lazy_ref_numbers=True
    )
    out = store.Outbox()
    revisions = await store.open_document_revisions(session, tenant_id, held_only, mentioning)
    # The payloads in one query per chunk, and what their mapping reads, as for a batch of
    # documents (``prefetch``); a payload that is gone is skipped: the fetcher's next
    # revision maps it again.
    documents = await _payloads(session, tenant_id, revisions)
    reads = await _read_for_batch(session, tenant_id, documents, settings, lists)
    reads.install(session)
    try:
        for source_kind, cin7_id, revision, payload in documents:
            reads.start((source_kind, cin7_id))
            before = len(out.messages)
            try:
                line = await map_and_store(
                    session,
                    tenant_id,
                    source_kind,
                    cin7_id,
                    revision,
                    payload,
                    settings,
                    lists,
                    out,
                )
                log.info("document_mapped", **line, reevaluation=True)
            except PoisonMessage as exc:
                log.warning("reevaluation_skipped", reason=str(exc))
            # Their owners were read before this loop stored anything (``_read_for_batch``).
            _remember_ref_numbers(out.messages[before:], lists)
            reads.finish((source_kind, cin7_id))
    finally:
        reads.remove(session)
    await store.retire_matched_contact_adds(session, tenant_id, lists, out)
    periods = out.touched_periods | set(await store.open_cogs_months(session, tenant_id))
    await _rebuild_months(session, tenant_id, periods, settings, lists, out)
    return out.messages


async def _payloads(
    session: AsyncSession, tenant_id: str, revisions: Sequence[tuple[str, str, str]]
) -> list[_Document]:
    """The stored payloads of these (kind, Cin7 id, revision), in their order."""
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for start in range(0, len(revisions), 500):  # bounded IN lists for SQLite and PostgreSQL
        chunk = revisions[start : start + 500]
        statement = scoped(FetchedDocument, tenant_id).where(
            col(FetchedDocument.kind).in_(sorted({kind for kind, _id, _revision in chunk})),
            col(FetchedDocument.cin7_id).in_(sorted({cin7_id for _kind, cin7_id, _rev in chunk})),
            col(FetchedDocument.revision).in_(sorted({revision for _kind, _id, revision in chunk})),
        )
        for document in (await session.exec(statement)).all():
            found[(document.kind, document.cin7_id, document.revision)] = document.payload
    return [(*key, found[key]) for key in revisions if key in found]


async def handle_lists(message: m.ListChangesMessage, session: AsyncSession) -> Sequence[m.Message]:
    return await handle_lists_batch([message], session)


async def handle_lists_batch(
    messages: Sequence[m.ListChangesMessage], session: AsyncSession
) -> Sequence[m.Message]:
    """Several list changes of one tenant (``batching``): the held entries are checked once
    against all of them. The gateway publishes a change for each customer or vendor it adds,
    and each check reads every held entry, so one check per change made the cost grow with
    the tenant (issue 15, at 10,000 orders)."""
    tenant_id = messages[0].tenant_id
    if any(message.tenant_id != tenant_id for message in messages):
        raise ValueError("a batch holds one tenant's list changes")
    cpu_started = time.thread_time()
    mentioning = ChangedNames.of([change for message in messages for change in message.changes])
    out = await reevaluate(session, tenant_id, held_only=True, mentioning=mentioning)
    log.info(
        "list_changes_checked",
        batch_size=len(messages),
        batch_cpu_ms=round(1000 * (time.thread_time() - cpu_started) / len(messages), 3),
    )
    return out


async def handle_tenant_event(
    message: m.TenantEventMessage, session: AsyncSession
) -> Sequence[m.Message]:
    if message.event == "do_not_import":
        return await _do_not_import(message, session)
    if message.event not in ("settings_saved", "match_confirmed"):
        return []
    try:
        return await reevaluate(session, message.tenant_id, held_only=False)
    except ValidationError as exc:  # pragma: no cover - settings are validated when saved
        raise PoisonMessage(str(exc)) from exc


async def _do_not_import(
    message: m.TenantEventMessage, session: AsyncSession
) -> Sequence[m.Message]:
    """``detail.entry_ids``: entries a person marked "do not import" (Cin7's DoNotImport)."""
    await store.lock_tenant(session, message.tenant_id)
    entry_ids = [str(i) for i in message.detail.get("entry_ids") or []]
    out = store.Outbox()
    marked = await store.mark_do_not_import(session, message.tenant_id, entry_ids, out)
    for row in marked:
        if row.entry_kind in store.REVENUE_KINDS:
            await cogs_totals.sync_document(
                session, message.tenant_id, row.source_kind, row.cin7_id, out
            )
    if out.touched_periods:
        settings = await _tenant_settings(session, message.tenant_id)
        lists = await load_lists(
            session,
            message.tenant_id,
            exchange_rates=settings.multi_currency,
            lazy_ref_numbers=True,
        )
        await _rebuild_months(session, message.tenant_id, out.touched_periods, settings, lists, out)
    return out.messages
