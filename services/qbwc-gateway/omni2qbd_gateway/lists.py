"""The tenant's QuickBooks list mirror: incremental queries and applying what comes back.

Each session asks for what changed since the newest ``TimeModified`` seen per list
(``FromModifiedDate``, QuickBooks' own clock, sent back verbatim), all lists in one message
set; the lists that support iterators page with ``MaxReturned`` and ``iterator=Continue``
until ``iteratorRemainingCount`` is 0 (reference §3.4). Changes are published to
``qb.lists``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lxml import etree
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.qbxml_io import RequestResult, sub, text_of
from omni2qbd_shared import messages as m
from omni2qbd_shared.db.models import QbListCursor, QbListItem, utcnow
from omni2qbd_shared.db.tenancy import scoped

PAGE_SIZE = 200


@dataclass(frozen=True)
class ListSpec:
    list_type: str
    request_tag: str
    iterates: bool


LIST_SPECS: tuple[ListSpec, ...] = (
    ListSpec("customer", "CustomerQueryRq", True),
    ListSpec("vendor", "VendorQueryRq", True),
    ListSpec("item", "ItemQueryRq", True),
    ListSpec("account", "AccountQueryRq", False),
    ListSpec("class", "ClassQueryRq", False),
    ListSpec("terms", "TermsQueryRq", False),
    ListSpec("sales_tax_item", "ItemSalesTaxQueryRq", True),
    ListSpec("sales_tax_code", "SalesTaxCodeQueryRq", False),
    # Names are unique across customers, vendors, employees and other names (3100): matching
    # checks a new contact's name against all four.
    ListSpec("employee", "EmployeeQueryRq", False),
    ListSpec("other_name", "OtherNameQueryRq", False),
)
SPEC_BY_TYPE = {spec.list_type: spec for spec in LIST_SPECS}


def list_request_id(list_type: str, page: int) -> str:
    return f"list-{list_type}-{page}"


def list_type_of(request_id: str) -> str | None:
    parts = request_id.split("-")
    return parts[1] if len(parts) == 3 and parts[0] == "list" else None


def build_query(
    spec: ListSpec, *, page: int, from_modified: str | None, iterator_id: str | None
) -> etree._Element:
    rq = etree.Element(spec.request_tag)
    rq.set("requestID", list_request_id(spec.list_type, page))
    if spec.iterates:
        rq.set("iterator", "Continue" if iterator_id else "Start")
        if iterator_id:
            rq.set("iteratorID", iterator_id)
        sub(rq, "MaxReturned", str(PAGE_SIZE))
    # Inactive elements too: a name made inactive must reach the mapper as well.
    sub(rq, "ActiveStatus", "All")
    if from_modified:
        sub(rq, "FromModifiedDate", from_modified)
    return rq


async def cursors(session: AsyncSession, tenant_id: str) -> dict[str, QbListCursor]:
    rows = (await session.exec(scoped(QbListCursor, tenant_id))).all()
    return {row.list_type: row for row in rows}


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _ret_data(ret: etree._Element) -> dict[str, str]:
    # "ret" keeps the element's type (ItemInventoryRet, ItemNonInventoryRet, ...): the mapper
    # accepts only some item types on sales lines.
    data = {"ret": str(ret.tag)}
    for field, path in (
        ("name", "Name"),
        ("email", "Email"),
        ("account_type", "AccountType"),
        ("account_number", "AccountNumber"),
        ("tax_rate", "TaxRate"),
        ("company_name", "CompanyName"),
        ("is_taxable", "IsTaxable"),
        # A customer's sales tax code: the mapper checks it against what Cin7 charged.
        ("sales_tax_code", "SalesTaxCodeRef/FullName"),
    ):
        value = ret.findtext(path)
        if value:
            data[field] = value
    return data


def _element_of(ret: etree._Element) -> tuple[str, str] | None:
    list_id = text_of(ret, "ListID")
    full_name = text_of(ret, "FullName") or text_of(ret, "Name")
    if not list_id or not full_name:
        return None
    return list_id, full_name


async def apply_list_result(
    session: AsyncSession, tenant_id: str, list_type: str, result: RequestResult
) -> list[m.ListChange]:
    """Upsert the returned elements into the mirror; return the ones that changed."""
    elements = [(ret, pair) for ret in result.rets if (pair := _element_of(ret)) is not None]
    existing = await _mirrored(session, tenant_id, list_type, [pair[0] for _ret, pair in elements])
    cursor = await session.get(QbListCursor, (tenant_id, list_type))
    if cursor is None:
        cursor = QbListCursor(tenant_id=tenant_id, list_type=list_type)
    changes: list[m.ListChange] = []
    for ret, (list_id, full_name) in elements:
        row = existing.get(list_id)
        if row is None:
            row = QbListItem(
                tenant_id=tenant_id, list_type=list_type, list_id=list_id, full_name=full_name
            )
        elif not _differs(row, ret, full_name):
            continue
        _refresh(row, ret, full_name)
        session.add(row)
        changes.append(m.ListChange(list_id=list_id, full_name=full_name, is_active=row.is_active))
    _advance_cursor(cursor, [ret for ret, _pair in elements])
    session.add(cursor)
    return changes


async def _mirrored(
    session: AsyncSession, tenant_id: str, list_type: str, ids: list[str]
) -> dict[str, QbListItem]:
    """The mirror's rows of these elements, by ListID."""
    if not ids:
        return {}
    query = scoped(QbListItem, tenant_id).where(
        QbListItem.list_type == list_type, col(QbListItem.list_id).in_(ids)
    )
    return {row.list_id: row for row in (await session.exec(query)).all()}


def _is_active(ret: etree._Element) -> bool:
    return (ret.findtext("IsActive") or "true").strip().lower() != "false"


def _differs(row: QbListItem, ret: etree._Element, full_name: str) -> bool:
    """Whether the element changed since the mirror last saw it."""
    return (
        row.full_name != full_name
        or row.is_active != _is_active(ret)
        or row.edit_sequence != text_of(ret, "EditSequence")
    )


def _refresh(row: QbListItem, ret: etree._Element, full_name: str) -> None:
    row.full_name = full_name
    row.is_active = _is_active(ret)
    row.edit_sequence = text_of(ret, "EditSequence")
    row.time_modified = _parse_time(text_of(ret, "TimeModified"))
    row.data = _ret_data(ret)


def _advance_cursor(cursor: QbListCursor, rets: list[etree._Element]) -> None:
    """The next query asks from the newest TimeModified seen, as QuickBooks wrote it."""
    newest = _parse_time(cursor.from_modified)
    for ret in rets:
        modified_text = text_of(ret, "TimeModified")
        modified = _parse_time(modified_text)
        if modified is not None and (newest is None or modified > newest):
            newest = modified
            cursor.from_modified = modified_text
    cursor.refreshed_at = utcnow()


async def record_list_item(
    session: AsyncSession,
    tenant_id: str,
    list_type: str,
    ret: etree._Element,
) -> m.ListChange | None:
    """A customer or vendor the bridge just created or linked: mirror it at once."""
    pair = _element_of(ret)
    if pair is None:
        return None
    list_id, full_name = pair
    row = await session.get(QbListItem, (tenant_id, list_type, list_id))
    if row is None:
        row = QbListItem(
            tenant_id=tenant_id, list_type=list_type, list_id=list_id, full_name=full_name
        )
    row.full_name = full_name
    row.is_active = (ret.findtext("IsActive") or "true").strip().lower() != "false"
    row.edit_sequence = text_of(ret, "EditSequence")
    row.time_modified = _parse_time(text_of(ret, "TimeModified"))
    row.data = _ret_data(ret)
    session.add(row)
    return m.ListChange(list_id=list_id, full_name=full_name, is_active=row.is_active)


async def latest_refresh(session: AsyncSession, tenant_id: str) -> datetime | None:
    rows = (await session.exec(scoped(QbListCursor, tenant_id))).all()
    times = [row.refreshed_at for row in rows if row.refreshed_at is not None]
    if len(rows) < len(LIST_SPECS) or not times:
        return None
    return min(times)
