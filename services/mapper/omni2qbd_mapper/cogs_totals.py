"""COGS months kept as running totals (issue 15): a document's change costs the same however
many documents its month already holds.

``cogs_counted`` remembers what each document adds to its months today (its current
contributions, once its invoice or credit memo counts; see ``store`` for the rule). When a
document changes, or its invoice or credit memo reaches QuickBooks or is marked "do not
import", ``sync_document`` works out what it should add now and moves the month totals
(``cogs_month_totals``, per tenant, month and class) by the difference. ``rebuild_month``
builds the month's journal from those few rows.

``recount`` is the full rebuild from every contribution, kept as the consistency check
(``differences``; the tests run it) and as the repair that fills a tenant's totals the first
time the mapper meets it without them (``ensure_totals``, e.g. right after migration 0012).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlmodel import col, delete
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_mapper import store
from omni2qbd_mapper.lists_loader import AskedRefNumbers, ref_number_owners
from omni2qbd_mapper.prefetch import batch_reads, result_reads
from omni2qbd_mapper.result import CogsContribution
from omni2qbd_mapper.rules.cogs import DIGEST_MODULUS, CogsMonthSums, map_cogs_sums
from omni2qbd_shared.db.cogs_totals import CogsCounted, CogsMonthTotal
from omni2qbd_shared.db.models import Entry as EntryRow
from omni2qbd_shared.db.models import utcnow
from omni2qbd_shared.db.tenancy import scoped
from omni2qbd_shared.entries import ZERO, SourceRef, money
from omni2qbd_shared.qb_lists import QbListsView
from omni2qbd_shared.tenant_settings import TenantSettings

# A row with no period marks a tenant whose totals have been filled (see ``ensure_totals``).
_FILLED = ""
_FILLED_INFO_KEY = "omni2qbd_mapper.totals_filled"  # tenants seen filled in this transaction
_KEPT_INFO_KEY = "omni2qbd_mapper.month_totals_kept"
_MONTHS_INFO_KEY = "omni2qbd_mapper.month_totals"  # a batch's ``MonthTotals``
TotalsKey = tuple[str, str]  # (period, class key)
TotalsValue = tuple[Decimal, int, Decimal, int, int]  # amount, docs, pending amount, docs, digest


def _class_key(class_name: str | None) -> str:
    return class_name or ""


def _as_contribution(row: CogsCounted) -> CogsContribution:
    return CogsContribution(
        period=row.period,
        source=SourceRef(kind=row.source_kind, cin7_id=row.cin7_id, revision=""),
        document="",
        amount=row.amount,
        class_name=row.class_name,
        pending=row.pending,
    )


@dataclass
class MonthTotals:
    """The month totals rows of the months a batch of results may move, read in one query
    (``handlers.handle_results``): ``_adjust`` and ``month_sums`` take these months' rows
    from here, with the rows the batch adds and without those it deletes, instead of a
    query per document and per rebuilt month (issue 15). Other months are read as before."""

    tenant_id: str
    periods: frozenset[str]
    rows: dict[TotalsKey, CogsMonthTotal | None] = field(default_factory=dict)

    @classmethod
    async def read(
        cls, session: AsyncSession, tenant_id: str, periods: Iterable[str]
    ) -> MonthTotals:
        totals = cls(tenant_id, frozenset(p for p in periods if p))
        wanted = sorted(totals.periods)
        for start in range(0, len(wanted), 500):  # bounded IN lists
            statement = scoped(CogsMonthTotal, tenant_id).where(
                col(CogsMonthTotal.period).in_(wanted[start : start + 500])
            )
            for row in (await session.exec(statement)).all():
                totals.rows[(row.period, row.class_key)] = row
        return totals

    def install(self, session: AsyncSession) -> None:
        session.info[_MONTHS_INFO_KEY] = self

    @staticmethod
    def remove(session: AsyncSession) -> None:
        session.info.pop(_MONTHS_INFO_KEY, None)

    def month(self, period: str) -> list[CogsMonthTotal]:
        return [row for key, row in self.rows.items() if key[0] == period and row is not None]


def _month_totals(session: AsyncSession, tenant_id: str, period: str) -> MonthTotals | None:
    """The batch's rows, if they hold this month (``MonthTotals``)."""
    totals = session.info.get(_MONTHS_INFO_KEY)
    if isinstance(totals, MonthTotals) and totals.tenant_id == tenant_id:
        return totals if period in totals.periods else None
    return None


async def _total_row(
    session: AsyncSession, tenant_id: str, period: str, class_key: str
) -> CogsMonthTotal | None:
    totals = _month_totals(session, tenant_id, period)
    if totals is not None:
        return totals.rows.get((period, class_key))
    total = await session.get(CogsMonthTotal, (tenant_id, period, class_key))
    # Kept for the transaction: the session holds rows weakly, so the next document of the
    # month would read this row again (issue 15).
    session.info.setdefault(_KEPT_INFO_KEY, []).append(total)
    return total


async def _adjust(
    session: AsyncSession, tenant_id: str, contribution: CogsContribution, sign: int
) -> None:
    """Add (sign 1) or take out (sign -1) one counted contribution from its month's totals."""
    key = (tenant_id, contribution.period, _class_key(contribution.class_name))
    total = await _total_row(session, *key)
    kept = total is not None
    if total is None:
        total = CogsMonthTotal(
            tenant_id=tenant_id, period=key[1], class_key=key[2], amount=ZERO, pending_amount=ZERO
        )
    totals = _month_totals(session, tenant_id, key[1])
    sums = CogsMonthSums(
        by_class={contribution.class_name: money(total.amount)},
        documents=total.documents,
        pending_amount=money(total.pending_amount),
        pending_documents=total.pending_documents,
        digest=int(total.digest, 16),
    )
    sums.add(contribution, sign)
    if sums.documents == 0:
        if kept:
            await session.delete(total)
        if totals is not None:
            totals.rows[key[1:]] = None
        return
    if totals is not None:
        totals.rows[key[1:]] = total
    total.amount = money(sums.by_class[contribution.class_name])
    total.documents = sums.documents
    total.pending_amount = money(sums.pending_amount)
    total.pending_documents = sums.pending_documents
    total.digest = f"{sums.digest:x}"
    session.add(total)


async def _document_contributions(
    session: AsyncSession, tenant_id: str, source_kind: str, cin7_id: str
) -> list[CogsContribution]:
    results = result_reads(session, tenant_id)
    if results is not None and (source_kind, cin7_id) in results.contributions:
        rows = results.contributions[(source_kind, cin7_id)]  # read with the batch (``prefetch``)
        return [CogsContribution.model_validate(row.body) for row in rows]
    statement = scoped(EntryRow, tenant_id).where(
        EntryRow.entry_kind == store.CONTRIBUTION_KIND,
        EntryRow.state == store.CURRENT,
        EntryRow.source_kind == source_kind,
        EntryRow.cin7_id == cin7_id,
    )
    return [
        CogsContribution.model_validate(row.body) for row in (await session.exec(statement)).all()
    ]


async def _counted_rows(
    session: AsyncSession, tenant_id: str, key: tuple[str, str]
) -> Sequence[CogsCounted]:
    """What the document counts in its months now (``cogs_counted``)."""
    reads = batch_reads(session, tenant_id, key)
    results = result_reads(session, tenant_id)
    taken = results.take_counted(key) if results is not None else None
    if reads is not None:
        return list(reads.counted[key])  # read with the batch (``prefetch``)
    if taken is not None:
        return taken  # read with the batch of results (``prefetch``)
    source_kind, cin7_id = key
    return (
        await session.exec(
            scoped(CogsCounted, tenant_id).where(
                CogsCounted.source_kind == source_kind, CogsCounted.cin7_id == cin7_id
            )
        )
    ).all()


async def sync_document(
    session: AsyncSession, tenant_id: str, source_kind: str, cin7_id: str, out: store.Outbox
) -> None:
    """Move the month totals by the difference between what the document counts now and
    what it counted before; the months that moved are added to ``out.touched_periods``."""
    await ensure_totals(session, tenant_id)
    key = (source_kind, cin7_id)
    reads = batch_reads(session, tenant_id, key)  # read with the batch (``prefetch``)
    if reads is not None and reads.revenue is not None:
        state = reads.revenue.get(key)
    else:
        state = (await store.revenue_states(session, tenant_id, [key])).get(key)
    wanted: dict[str, CogsContribution] = {}
    if state is not None and state.counted:
        for contribution in await _document_contributions(session, tenant_id, source_kind, cin7_id):
            wanted[contribution.period] = contribution.model_copy(update={"pending": state.pending})
    counted_rows = await _counted_rows(session, tenant_id, key)
    deleted = False
    for row in counted_rows:
        now = wanted.get(row.period)
        if now is not None and (
            money(now.amount) == money(row.amount)
            and now.class_name == row.class_name
            and now.pending == row.pending
        ):
            del wanted[row.period]  # unchanged
            continue
        await _adjust(session, tenant_id, _as_contribution(row), -1)
        await session.delete(row)
        deleted = True
        out.touched_periods.add(row.period)
    if deleted:
        # Before a row of the same (document, month) is added again (a unique key); a
        # flush per document otherwise inserted each document's entries on their own.
        await session.flush()
    for period, contribution in wanted.items():
        await _adjust(session, tenant_id, contribution, 1)
        session.add(
            CogsCounted(
                tenant_id=tenant_id,
                source_kind=source_kind,
                cin7_id=cin7_id,
                period=period,
                amount=money(contribution.amount),
                class_name=contribution.class_name,
                pending=contribution.pending,
            )
        )
        out.touched_periods.add(period)
    # No flush here: the rows are written with the batch's next query (autoflush, which a
    # later ``_adjust``'s ``session.get`` of a month's row triggers too), together; a flush
    # per document inserted each document's entries on their own (issue 15).


async def month_sums(session: AsyncSession, tenant_id: str, period: str) -> CogsMonthSums:
    totals = _month_totals(session, tenant_id, period)
    if totals is not None:
        rows: Sequence[CogsMonthTotal] = totals.month(period)
    else:
        rows = (
            await session.exec(
                scoped(CogsMonthTotal, tenant_id).where(CogsMonthTotal.period == period)
            )
        ).all()
    sums = CogsMonthSums()
    for row in rows:
        sums.by_class[row.class_key or None] = money(row.amount)
        sums.documents += row.documents
        sums.pending_amount += money(row.pending_amount)
        sums.pending_documents += row.pending_documents
        sums.digest = (sums.digest + int(row.digest, 16)) % DIGEST_MODULUS
    return sums


async def rebuild_month(
    session: AsyncSession,
    tenant_id: str,
    period: str,
    settings: TenantSettings,
    lists: QbListsView,
    now: datetime,
    out: store.Outbox,
    journals: store.Journals | None = None,
) -> None:
    """The month's COGS journal from its running totals (a new version when it changed).
    Documents whose invoice or credit memo is not in QuickBooks yet are not in the totals.
    ``journals``: the month's versions and open rows, if read with other months'."""
    await ensure_totals(session, tenant_id)
    # The month's versions without their JSON: a journal gathers a version per change, and
    # decoding them all made each rebuild cost more as the run went on (issue 15).
    if journals is not None and period in journals.versions:
        versions, known = journals.versions[period], journals.rows
    else:
        versions, known = await store.journal_versions(session, tenant_id, period), None
    posted = [v for v in versions if v.state in store.IN_QUICKBOOKS]
    posted_total = None
    if posted:
        posted_total = Decimal(max(posted, key=lambda v: v.version).total or 0)
    sums = await month_sums(session, tenant_id, period)
    refs = getattr(lists, "ref_numbers", None)
    while True:
        result = map_cogs_sums(
            period,
            sums,
            settings,
            lists,
            tenant_id=tenant_id,
            posted_total=posted_total,
            today=now.astimezone(settings.zone()).date(),
        )
        if not isinstance(refs, AskedRefNumbers) or not (unknown := refs.unknown()):
            break
        # RefNumber owners read on demand, as in ``handlers.map_and_store``.
        refs.update(await ref_number_owners(session, tenant_id, unknown))
        refs.read |= unknown
    for entry in result.entries:
        month = (entry.source.kind, entry.source.cin7_id) == (store.COGS_MONTH_SOURCE, period)
        if month:
            await store.upsert_entry(session, tenant_id, entry, out, versions, known)
        else:
            await store.upsert_entry(session, tenant_id, entry, out)
    if not result.entries:
        for row in await store.open_rows(session, versions, known):
            if row.state in store.OPEN_STATES:
                row.state = store.SUPERSEDED
                row.updated_at = utcnow()
                session.add(row)
                out.messages.append(store.entry_message(row))


# -- the full rebuild: consistency check and repair ----------------------------------------


def _values(sums: CogsMonthSums, class_name: str | None) -> TotalsValue:
    return (
        money(sums.by_class.get(class_name, ZERO)),
        sums.documents,
        money(sums.pending_amount),
        sums.pending_documents,
        sums.digest,
    )


async def recount(session: AsyncSession, tenant_id: str) -> dict[TotalsKey, TotalsValue]:
    """Every month's totals summed again from every current contribution (the slow way)."""
    contributions = await store.counted_contributions(
        session, tenant_id, await store.current_contributions(session, tenant_id)
    )
    grouped: dict[TotalsKey, list[CogsContribution]] = {}
    for contribution in contributions:
        key = (contribution.period, _class_key(contribution.class_name))
        grouped.setdefault(key, []).append(contribution)
    return {
        key: _values(CogsMonthSums.of(group), group[0].class_name) for key, group in grouped.items()
    }


async def stored(session: AsyncSession, tenant_id: str) -> dict[TotalsKey, TotalsValue]:
    """The running totals as kept."""
    rows = await session.exec(
        scoped(CogsMonthTotal, tenant_id).where(CogsMonthTotal.period != _FILLED)
    )
    return {
        (row.period, row.class_key): (
            money(row.amount),
            row.documents,
            money(row.pending_amount),
            row.pending_documents,
            int(row.digest, 16),
        )
        for row in rows.all()
    }


async def differences(session: AsyncSession, tenant_id: str) -> list[str]:
    """Where the running totals disagree with the full rebuild, in words (empty: they agree)."""
    expected, kept = await recount(session, tenant_id), await stored(session, tenant_id)
    problems = []
    for key in sorted(set(expected) | set(kept)):
        if expected.get(key) != kept.get(key):
            problems.append(
                f"COGS {key[0]} class {key[1] or '(none)'}: kept {kept.get(key)}, "
                f"recounted {expected.get(key)}"
            )
    return problems


async def ensure_totals(session: AsyncSession, tenant_id: str) -> None:
    """Fill a tenant's totals by the full rebuild once (a tenant from before migration 0012).

    Asked once per transaction: the marker row is not kept by the session between calls
    (its identity map holds rows weakly), so each call was a query (issue 15)."""
    filled: set[str] = session.info.setdefault(_FILLED_INFO_KEY, set())
    if tenant_id in filled:
        return
    if await session.get(CogsMonthTotal, (tenant_id, _FILLED, _FILLED)) is None:
        await refill(session, tenant_id)
    filled.add(tenant_id)


async def refill(session: AsyncSession, tenant_id: str) -> None:
    """Replace the tenant's running totals by the full rebuild."""
    await session.exec(delete(CogsMonthTotal).where(col(CogsMonthTotal.tenant_id) == tenant_id))
    await session.exec(delete(CogsCounted).where(col(CogsCounted.tenant_id) == tenant_id))
    session.add(CogsMonthTotal(tenant_id=tenant_id, period=_FILLED, class_key=_FILLED))
    contributions = await store.counted_contributions(
        session, tenant_id, await store.current_contributions(session, tenant_id)
    )
    for contribution in contributions:
        session.add(
            CogsCounted(
                tenant_id=tenant_id,
                source_kind=contribution.source.kind,
                cin7_id=contribution.source.cin7_id,
                period=contribution.period,
                amount=money(contribution.amount),
                class_name=contribution.class_name,
                pending=contribution.pending,
            )
        )
    for (period, class_key), value in (await recount(session, tenant_id)).items():
        amount, documents, pending_amount, pending_documents, digest = value
        session.add(
            CogsMonthTotal(
                tenant_id=tenant_id,
                period=period,
                class_key=class_key,
                amount=amount,
                documents=documents,
                pending_amount=pending_amount,
                pending_documents=pending_documents,
                digest=f"{digest:x}",
            )
        )
    await session.flush()
