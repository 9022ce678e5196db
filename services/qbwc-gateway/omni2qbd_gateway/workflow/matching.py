"""Matching Cin7 contacts and products to QuickBooks list elements (docs/design.md §6, issue 10 §4).

Matching proposes, a person confirms. For every Cin7 customer or supplier that a pending
document uses, proposals come from the QuickBooks list mirror in this order: the exact
(normalised) name, then the e-mail address, then similar names scored by rapidfuzz. A
confirmed match stores the QuickBooks ListID (``contact_matches``), so it survives renames
on either side, and a ``match_confirmed`` tenant event makes the mapper re-check the held
entries at once. Products are matched by code to QuickBooks items the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway import pending
from omni2qbd_gateway.workflow import audit
from omni2qbd_gateway.workflow.common import document_payload, tenant_settings
from omni2qbd_gateway.workflow.match_proposals import (
    LIST_OF,
    MAX_PROPOSALS,
    ListElement,
    Status,
    name_problems,
    propose,
    status_of,
)
from omni2qbd_gateway.workflow.scope import TenantScope
from omni2qbd_shared import messages as m
from omni2qbd_shared.db.models import (
    ContactMatch,
    QbLink,
    QbListItem,
    utcnow,
)
from omni2qbd_shared.db.models import Entry as EntryRow
from omni2qbd_shared.kinds import PARTY_OF, TRANSACTION_KIND, MapperState
from omni2qbd_shared.qb_lists import normalise_name

# Mapper states of entries still to be sent (the documents a person is working on).
PENDING_STATES = (MapperState.READY, MapperState.NEEDS_ATTENTION, MapperState.FAILED)
NAME_LISTS = ("customer", "vendor", "employee", "other_name")
CONTACT_FINDINGS = ("unmatched_contact", "name_in_use", "name_too_long", "new_contact")
ITEM_FINDINGS = ("unmapped_item",)
# The Cin7 documents whose contacts and products are matched: those that become a transaction.
DOCUMENT_KINDS = tuple(TRANSACTION_KIND)


class MatchError(ValueError):
    """A match that cannot be made, with the reason and the fix in words."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Candidate:
    """A Cin7 contact (or product code) that pending documents use."""

    key: str
    cin7_kind: str
    name: str
    email: str | None = None
    documents: list[dict[str, Any]] = field(default_factory=list)
    held_entry_ids: list[str] = field(default_factory=list)


# -- reading the tenant's data -------------------------------------------------------------------


def _contact_name(payload: dict[str, Any]) -> str:
    company = str(payload.get("company") or "").strip()
    if company:
        return " ".join(company.split())
    person = " ".join(
        str(payload.get(k) or "").strip() for k in ("firstName", "lastName") if payload.get(k)
    )
    return person or str(payload.get("memberEmail") or payload.get("email") or "").strip()


def _findings(row: EntryRow, codes: Iterable[str]) -> bool:
    wanted = set(codes)
    return any(isinstance(f, dict) and f.get("code") in wanted for f in row.findings or [])


async def _pending_rows(session: AsyncSession, scope: TenantScope) -> list[EntryRow]:
    statement = scope.select(EntryRow).where(
        col(EntryRow.state).in_(PENDING_STATES),
        col(EntryRow.source_kind).in_(DOCUMENT_KINDS),
    )
    return list((await session.exec(statement)).all())


def _document(row: EntryRow, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "entry_id": row.id,
        "kind": row.source_kind,
        "cin7_id": row.cin7_id,
        "reference": payload.get("reference"),
        "entry_kind": row.entry_kind,
        "state": row.state,
        "total": f"{row.total:.2f}" if row.total is not None else None,
    }


async def contact_candidates(session: AsyncSession, scope: TenantScope) -> dict[str, Candidate]:
    """Cin7 contacts of pending documents, keyed ``<customer|supplier>:<memberId>``."""
    found: dict[str, Candidate] = {}
    for row in await _pending_rows(session, scope):
        party = PARTY_OF.get(row.source_kind)
        if party is None or row.entry_kind not in (
            "invoice",
            "credit_memo",
            "bill",
            "vendor_credit",
        ):
            continue
        payload = await document_payload(session, row)
        member_id = payload.get("memberId")
        if member_id in (None, "", 0):
            continue
        key = f"{party}:{member_id}"
        candidate = found.get(key)
        if candidate is None:
            email = payload.get("memberEmail") or payload.get("email")
            candidate = Candidate(
                str(member_id), party, _contact_name(payload), str(email) if email else None
            )
            found[key] = candidate
        candidate.documents.append(_document(row, payload))
        if row.state == MapperState.NEEDS_ATTENTION and _findings(row, CONTACT_FINDINGS):
            candidate.held_entry_ids.append(row.id)
    return found


async def item_candidates(session: AsyncSession, scope: TenantScope) -> dict[str, Candidate]:
    """Product codes on lines of pending documents, keyed ``product:<code>``."""
    found: dict[str, Candidate] = {}
    for row in await _pending_rows(session, scope):
        payload = await document_payload(session, row)
        lines = payload.get("lineItems") or []
        for line in lines if isinstance(lines, list) else []:
            code = str((line or {}).get("code") or "").strip() if isinstance(line, dict) else ""
            if not code:
                continue
            candidate = found.setdefault(
                f"product:{code}", Candidate(code, "product", str(line.get("name") or code))
            )
            if not any(d["entry_id"] == row.id for d in candidate.documents):
                candidate.documents.append(_document(row, payload))
                if row.state == MapperState.NEEDS_ATTENTION and _findings(row, ITEM_FINDINGS):
                    candidate.held_entry_ids.append(row.id)
    return found


async def list_elements(
    session: AsyncSession, scope: TenantScope, list_types: Sequence[str]
) -> list[ListElement]:
    rows = await session.exec(
        scope.select(QbListItem).where(col(QbListItem.list_type).in_(list(list_types)))
    )
    return [
        ListElement(
            row.list_id,
            row.full_name,
            row.list_type,
            (row.data or {}).get("email"),
            row.is_active,
        )
        for row in rows.all()
    ]


async def confirmed_matches(session: AsyncSession, scope: TenantScope) -> dict[str, ContactMatch]:
    rows = (await session.exec(scope.select(ContactMatch))).all()
    return {f"{row.cin7_kind}:{row.cin7_id}": row for row in rows}


async def created_contacts(session: AsyncSession, scope: TenantScope) -> dict[str, QbLink]:
    """Contacts the bridge itself created in QuickBooks (CustomerAdd/VendorAdd), by memberId."""
    rows = await session.exec(
        scope.select(QbLink).where(col(QbLink.entry_kind).in_(["customer_add", "vendor_add"]))
    )
    result: dict[str, QbLink] = {}
    for link in rows.all():
        party = "customer" if link.entry_kind == "customer_add" else "supplier"
        result[f"{party}:{link.cin7_id}"] = link
    return result


def _match_json(
    match: ContactMatch | None, link: QbLink | None, current: dict[str, ListElement]
) -> dict[str, Any] | None:
    if match is not None and match.qb_list_id:
        element = current.get(match.qb_list_id)
        return {
            "list_id": match.qb_list_id,
            # The ListID is the match; the name is QuickBooks' current one (renames follow).
            "name": element.name if element else match.qb_name,
            "list_type": match.qb_list_type,
            "confirmed_by": match.confirmed_by,
            "confirmed_at": match.confirmed_at.isoformat(),
            "how": "confirmed",
        }
    if link is not None:
        element = current.get(link.txn_id)
        return {
            "list_id": link.txn_id,
            "name": element.name if element else None,
            "list_type": "customer" if link.entry_kind == "customer_add" else "vendor",
            "confirmed_by": None,
            "confirmed_at": link.posted_at.isoformat(),
            "how": "created by the bridge",
        }
    if match is not None:
        return {
            "list_id": None,
            "name": match.qb_name,
            "list_type": match.qb_list_type,
            "confirmed_by": match.confirmed_by,
            "confirmed_at": match.confirmed_at.isoformat(),
            "how": "to be created in QuickBooks on import",
        }
    return None


async def contact_matches(
    session: AsyncSession, scope: TenantScope, status: Status | None = None
) -> list[dict[str, Any]]:
    candidates = await contact_candidates(session, scope)
    elements = await list_elements(session, scope, ("customer", "vendor"))
    current = {e.list_id: e for e in elements}
    matches = await confirmed_matches(session, scope)
    created = await created_contacts(session, scope)
    rows: list[dict[str, Any]] = []
    for key, candidate in sorted(candidates.items(), key=lambda kv: kv[1].name.casefold()):
        list_type = LIST_OF[candidate.cin7_kind]
        match = _match_json(matches.get(key), created.get(key), current)
        proposals = (
            []
            if match is not None
            else propose(
                candidate.name, candidate.email, [e for e in elements if e.list_type == list_type]
            )
        )
        state = status_of(match is not None, proposals)
        if status is not None and state != status:
            continue
        rows.append(
            {
                "cin7_contact_id": candidate.key,
                "cin7_kind": candidate.cin7_kind,
                "name": candidate.name,
                "email": candidate.email,
                "list_type": list_type,
                "status": state,
                "match": match,
                "proposals": [p.as_json() for p in proposals],
                "documents": candidate.documents,
                "held_entry_ids": candidate.held_entry_ids,
            }
        )
    return rows


async def item_matches(
    session: AsyncSession, scope: TenantScope, status: Status | None = None
) -> list[dict[str, Any]]:
    candidates = await item_candidates(session, scope)
    elements = await list_elements(session, scope, ("item",))
    current = {e.list_id: e for e in elements}
    matches = await confirmed_matches(session, scope)
    rows: list[dict[str, Any]] = []
    for key, candidate in sorted(candidates.items()):
        match = _match_json(matches.get(key), None, current)
        proposals = (
            [] if match is not None else propose(candidate.key, None, elements, by_email=False)
        )
        if match is None and candidate.name != candidate.key:
            more = propose(candidate.name, None, elements, by_email=False)
            known = {p.list_id for p in proposals}
            proposals += [p for p in more if p.list_id not in known]
            proposals.sort(key=lambda p: -p.score)
        state = status_of(match is not None, proposals)
        if status is not None and state != status:
            continue
        rows.append(
            {
                "code": candidate.key,
                "name": candidate.name,
                "list_type": "item",
                "status": state,
                "match": match,
                "proposals": [p.as_json() for p in proposals[:MAX_PROPOSALS]],
                "documents": candidate.documents,
                "held_entry_ids": candidate.held_entry_ids,
            }
        )
    return rows


# -- confirming ----------------------------------------------------------------------------------


async def _store_match(
    session: AsyncSession,
    scope: TenantScope,
    cin7_kind: str,
    cin7_id: str,
    list_type: str,
    list_id: str,
    name: str,
    actor: str,
) -> ContactMatch:
    existing = (
        await session.exec(
            scope.select(ContactMatch).where(
                ContactMatch.cin7_kind == cin7_kind, ContactMatch.cin7_id == cin7_id
            )
        )
    ).first()
    row = existing or ContactMatch(
        tenant_id=scope.tenant_id,
        cin7_kind=cin7_kind,
        cin7_id=cin7_id,
        qb_list_type=list_type,
        qb_list_id=list_id,
        qb_name=name,
        confirmed_by=actor,
    )
    row.qb_list_type, row.qb_list_id, row.qb_name = list_type, list_id, name[:200]
    row.confirmed_by, row.confirmed_at = actor, utcnow()
    session.add(row)
    await audit.record(
        session,
        tenant_id=scope.tenant_id,
        actor=actor,
        action="match.confirmed" if list_id else "match.create_confirmed",
        subject=f"{cin7_kind} {cin7_id}",
        detail={"list_type": list_type, "list_id": list_id, "name": name},
    )
    return row


def _announce(session: AsyncSession, scope: TenantScope, actor: str, matches: list[str]) -> None:
    """The mapper re-checks the entries waiting for these matches (one event per request)."""
    pending.stage(
        session,
        m.TenantEventMessage(
            tenant_id=scope.tenant_id,
            event="match_confirmed",
            actor=actor,
            detail={"matches": matches},
        ),
    )


async def _element(session: AsyncSession, scope: TenantScope, list_id: str) -> QbListItem | None:
    return (
        await session.exec(scope.select(QbListItem).where(QbListItem.list_id == list_id))
    ).first()


async def confirm_contact(
    session: AsyncSession,
    scope: TenantScope,
    cin7_contact_id: str,
    *,
    list_id: str | None,
    create: bool,
    actor: str,
) -> dict[str, Any]:
    candidate = await _pending_contact(session, scope, cin7_contact_id)
    list_type = LIST_OF[candidate.cin7_kind]
    if create and list_id:
        raise MatchError('send either {"list_id": ...} or {"create": true}, not both', 400)
    if list_id:
        name = await _existing_name(session, scope, candidate, list_id)
    elif create:
        name = await _new_name(session, scope, candidate)
    else:
        raise MatchError('send {"list_id": "<QuickBooks ListID>"} or {"create": true}', 400)
    row = await _store_match(
        session,
        scope,
        candidate.cin7_kind,
        candidate.key,
        list_type,
        list_id or "",
        name,
        actor,
    )
    _announce(session, scope, actor, [f"{candidate.cin7_kind}:{candidate.key}"])
    return {
        "cin7_contact_id": candidate.key,
        "cin7_kind": candidate.cin7_kind,
        "list_id": row.qb_list_id or None,
        "name": row.qb_name,
        "list_type": list_type,
        "created_on_import": not row.qb_list_id,
        "rechecking": candidate.held_entry_ids,
    }


async def _pending_contact(
    session: AsyncSession, scope: TenantScope, cin7_contact_id: str
) -> Candidate:
    candidates = await contact_candidates(session, scope)
    found = [c for c in candidates.values() if c.key == cin7_contact_id]
    if not found:
        raise MatchError(
            f"Cin7 contact {cin7_contact_id} is not used by any document waiting for import "
            "(only those are matched here)",
            404,
        )
    return found[0]


def _qb_label(candidate: Candidate) -> str:
    """What QuickBooks calls the contact's list, in the words of the refusals."""
    return "customer" if LIST_OF[candidate.cin7_kind] == "customer" else "vendor"


async def _existing_name(
    session: AsyncSession, scope: TenantScope, candidate: Candidate, list_id: str
) -> str:
    """The name of the QuickBooks element the contact is matched to, once it is the right kind."""
    element = await _element(session, scope, list_id)
    if element is None:
        raise MatchError(
            f"QuickBooks has no list element with ListID {list_id} (as of the last Web "
            "Connector run); pick one of the proposals or run the Web Connector again",
            404,
        )
    if element.list_type != LIST_OF[candidate.cin7_kind]:
        raise MatchError(
            f"{element.full_name!r} is a QuickBooks {element.list_type.replace('_', ' ')}, "
            f"but Cin7 contact {candidate.name!r} is a {candidate.cin7_kind}: pick a "
            f"QuickBooks {_qb_label(candidate)}"
        )
    return element.full_name


async def _new_name(session: AsyncSession, scope: TenantScope, candidate: Candidate) -> str:
    """The contact's own name, when the tenant allows creating it and QuickBooks would take it."""
    label = _qb_label(candidate)
    if not (await tenant_settings(session, scope)).contacts.create_unmatched:
        raise MatchError(
            f"creating new QuickBooks {label}s on import is off for this tenant "
            "(contacts.create_unmatched): turn it on in the settings, or match the contact "
            f"to an existing {label}"
        )
    elements = await list_elements(session, scope, NAME_LISTS)
    wanted = normalise_name(candidate.name)
    owners = [(e.list_type, e.name) for e in elements if normalise_name(e.name) == wanted]
    problems = name_problems(candidate.name, owners, candidate.cin7_kind)
    if problems:
        raise MatchError(
            f"Cin7 contact {candidate.name!r} cannot be created as a QuickBooks {label}: "
            + "; ".join(problems)
        )
    return candidate.name


async def confirm_item(
    session: AsyncSession,
    scope: TenantScope,
    code: str,
    *,
    list_id: str | None,
    create: bool,
    actor: str,
) -> dict[str, Any]:
    candidates = await item_candidates(session, scope)
    candidate = candidates.get(f"product:{code}")
    if candidate is None:
        raise MatchError(f"product code {code!r} is not on any document waiting for import", 404)
    if create or not list_id:
        raise MatchError(
            "the bridge does not create QuickBooks items: create the item in QuickBooks (a "
            "non-inventory or service item), run the Web Connector, then match the code to it; "
            "or set items.default_item in the tenant settings",
            400 if not create else 422,
        )
    element = await _element(session, scope, list_id)
    if element is None or element.list_type != "item":
        raise MatchError(
            f"QuickBooks has no item with ListID {list_id} (as of the last Web Connector run)", 404
        )
    row = await _store_match(
        session, scope, "product", code, "item", list_id, element.full_name, actor
    )
    _announce(session, scope, actor, [f"product:{code}"])
    return {
        "code": code,
        "list_id": row.qb_list_id,
        "name": row.qb_name,
        "list_type": "item",
        "rechecking": candidate.held_entry_ids,
    }


def single_exact(proposals: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The proposal to confirm in bulk: the best one, when it is the only exact name (two
    QuickBooks names equal after normalising leave the choice to a person)."""
    exact = [p for p in proposals if p["reason"] == "exact name"]
    return exact[0] if proposals and len(exact) == 1 and proposals[0] is exact[0] else None


async def confirm_exact_contacts(
    session: AsyncSession, scope: TenantScope, *, actor: str
) -> dict[str, Any]:
    """Bulk confirm: every proposed contact whose best proposal is its exact name."""
    confirmed: list[dict[str, Any]] = []
    for row in await contact_matches(session, scope, "proposed"):
        best = single_exact(row["proposals"])
        if best is None:
            continue
        key = row["cin7_contact_id"]
        list_id, name = best["list_id"], best["name"]
        await _store_match(
            session, scope, row["cin7_kind"], key, best["list_type"], list_id, name, actor
        )
        confirmed.append({"cin7_contact_id": key, "list_id": list_id, "name": name})
    if confirmed:
        _announce(session, scope, actor, [c["cin7_contact_id"] for c in confirmed])
    return {"confirmed": confirmed}


async def confirm_exact_items(
    session: AsyncSession, scope: TenantScope, *, actor: str
) -> dict[str, Any]:
    """Bulk confirm: every proposed product code whose best proposal is one exact item name."""
    confirmed: list[dict[str, Any]] = []
    for row in await item_matches(session, scope, "proposed"):
        best = single_exact(row["proposals"])
        if best is None:
            continue
        code, list_id, name = row["code"], best["list_id"], best["name"]
        await _store_match(session, scope, "product", code, "item", list_id, name, actor)
        confirmed.append({"code": code, "list_id": list_id, "name": name})
    if confirmed:
        _announce(session, scope, actor, [f"product:{c['code']}" for c in confirmed])
    return {"confirmed": confirmed}
