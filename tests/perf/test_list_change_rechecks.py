"""Issue 15, point 2: a QuickBooks list change re-checks only the held entries that name
what changed (by name or ListID), not every held document of the tenant."""

from __future__ import annotations

from typing import Any

from omni2qbd_mapper import handlers
from omni2qbd_mapper.list_references import ChangedNames
from omni2qbd_shared import messages as m
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import FetchedDocument, QbListItem, TenantSettingsVersion
from omni2qbd_shared.tenant_settings import TenantSettings
from tests.mapper.conftest import load_doc
from tests.mapper.test_mapper_store import Sessions, deliver, doc_message, make_tenant, rows


def document_ids(out: list[m.Message]) -> set[str]:
    return {
        msg.source.cin7_id
        for msg in out
        if isinstance(msg, m.EntryMessage) and msg.source.kind != "cogs_month"
    }


async def held_tenant(sessions: Sessions) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A tenant with two held documents: a stock adjustment naming a missing account
    ("Shrinkage") and a foreign-currency order (held for its currency)."""
    tenant = await make_tenant(sessions)
    settings = TenantSettings().model_dump(mode="json")
    settings["accounts"]["account_map"] = {"5010": "Shrinkage"}
    adjustment, order = load_doc("adj_stock_adjustment"), load_doc("so_foreign_currency")
    messages = [
        doc_message(tenant, "stock_adjustment", adjustment),
        doc_message(tenant, "sales_order", order),
    ]
    async with unit_of_work(sessions) as session:
        session.add(
            TenantSettingsVersion(tenant_id=tenant, version=1, body=settings, created_by="x")
        )
        for message in messages:
            session.add(
                FetchedDocument(
                    tenant_id=tenant,
                    kind=message.kind,
                    cin7_id=message.cin7_id,
                    revision=message.revision,
                    payload=message.payload,
                )
            )
    for message in messages:
        await deliver(sessions, handlers.handle_document, message)
    held = {r.source_kind for r in await rows(sessions, tenant, state="needs_attention")}
    assert {"stock_adjustment", "sales_order"} <= held
    return tenant, adjustment, order


async def test_a_list_change_rechecks_only_entries_naming_it(sessions: Sessions) -> None:
    tenant, adjustment, _order = await held_tenant(sessions)

    unrelated = m.ListChangesMessage(
        tenant_id=tenant,
        list_type="account",
        changes=[m.ListChange(list_id="A9", full_name="Rent Expense")],
    )
    assert document_ids(list(await deliver(sessions, handlers.handle_lists, unrelated))) == set()

    async with unit_of_work(sessions) as session:
        session.add(
            QbListItem(tenant_id=tenant, list_type="account", list_id="A3", full_name="Shrinkage")
        )
    shrinkage = m.ListChangesMessage(
        tenant_id=tenant,
        list_type="account",
        changes=[m.ListChange(list_id="A3", full_name="Shrinkage")],
    )
    out = list(await deliver(sessions, handlers.handle_lists, shrinkage))
    # Only the adjustment was mapped again (and released); the order was not touched.
    assert document_ids(out) == {str(adjustment["id"])}
    (journal,) = await rows(sessions, tenant, entry_kind="journal", source_kind="stock_adjustment")
    assert journal.state == "ready"
    (invoice,) = await rows(sessions, tenant, entry_kind="invoice")
    assert (invoice.state, invoice.version) == ("needs_attention", 1)


async def test_a_large_change_rechecks_everything_held(sessions: Sessions) -> None:
    """The first read of a list sends every element: too many to compare, all re-checked."""
    tenant, adjustment, order = await held_tenant(sessions)
    many = [m.ListChange(list_id=f"X{n}", full_name=f"Account {n}") for n in range(500)]
    assert ChangedNames.of(many) is None
    changes = m.ListChangesMessage(tenant_id=tenant, list_type="account", changes=many)
    out = list(await deliver(sessions, handlers.handle_lists, changes))
    assert document_ids(out) >= {str(adjustment["id"]), str(order["id"])}


def test_names_are_found_in_references_and_in_finding_words() -> None:
    changed = ChangedNames.of([m.ListChange(list_id="80000001-1", full_name="Parts:Widget")])
    assert changed is not None
    assert changed.mentioned_in({"lines": [{"item": {"list_id": "80000001-1"}}]}, [])
    assert changed.mentioned_in({"lines": [{"item": {"name": "parts:widget"}}]}, [])
    assert changed.mentioned_in({}, [{"code": "unmapped_item", "message": "no item 'Widget'"}])
    assert not changed.mentioned_in({"lines": [{"item": {"name": "Gadget"}}]}, [])
    waiting = [{"code": "waiting_for_quickbooks_lists", "message": "lists not read yet"}]
    assert changed.mentioned_in({}, waiting)
