"""Issue 15: the mapper reads RefNumber owners for the references a document would use
(indexed, migration 0018), not every RefNumber of the tenant per batch; a collision with a
document stored in an earlier transaction is still found, also in another letter case."""

from __future__ import annotations

from omni2qbd_mapper import handlers
from omni2qbd_mapper.lists_loader import AskedRefNumbers, ref_number_owners
from tests.mapper.conftest import load_doc
from tests.mapper.test_mapper_store import Sessions, deliver, doc_message, make_tenant, rows


async def test_a_reference_held_by_a_stored_document_gets_a_suffix(sessions: Sessions) -> None:
    tenant = await make_tenant(sessions)
    payload = load_doc("so_tax_exclusive")
    first = {**payload, "id": 8101, "reference": "SO-8100", "invoiceNumber": 8101}
    second = {**payload, "id": 8102, "reference": "so-8100", "invoiceNumber": 8102}
    await deliver(sessions, handlers.handle_document, doc_message(tenant, "sales_order", first))
    await deliver(sessions, handlers.handle_document, doc_message(tenant, "sales_order", second))
    invoices = {r.cin7_id: r for r in await rows(sessions, tenant, entry_kind="invoice")}
    held, moved = invoices["8101"], invoices["8102"]
    assert held.ref_number and moved.ref_number
    assert moved.ref_number == f"{held.ref_number.lower()}-2"  # its own case, a suffix
    assert "ref_number_collision" in {f["code"] for f in moved.findings}
    # The first keeps its own reference when mapped again (it is its owner).
    await deliver(
        sessions,
        handlers.handle_document,
        doc_message(tenant, "sales_order", {**first, "comments": "again"}, minute=1),
    )
    again = [r for r in await rows(sessions, tenant, entry_kind="invoice") if r.cin7_id == "8101"]
    assert again[-1].ref_number == held.ref_number


async def test_owners_are_read_only_for_the_references_asked(sessions: Sessions) -> None:
    tenant = await make_tenant(sessions)
    payload = load_doc("so_tax_exclusive")
    for number in (8201, 8202, 8203):
        order = {**payload, "id": number, "reference": f"SO-{number}", "invoiceNumber": number}
        await deliver(sessions, handlers.handle_document, doc_message(tenant, "sales_order", order))
    invoices = await rows(sessions, tenant, entry_kind="invoice")
    ref = invoices[0].ref_number
    assert ref
    async with sessions() as session:
        found = await ref_number_owners(
            session, tenant, {("invoice", ref.upper().casefold()), ("invoice", "nobody")}
        )
    assert found == {("invoice", ref.casefold()): f"sales_order:{invoices[0].cin7_id}"}
    refs = AskedRefNumbers()
    assert refs.get(("invoice", "x")) is None and refs.unknown() == {("invoice", "x")}
    refs.read |= refs.unknown()
    assert refs.unknown() == set()
