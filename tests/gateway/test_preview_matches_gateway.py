"""``omni2qbd preview`` prints what the gateway sends: one builder, one requestID scheme."""

from __future__ import annotations

from omni2qbd_gateway.workflow.entries import preview_qbxml
from omni2qbd_mapper.mapping import map_document
from omni2qbd_mapper.preview import ordered_entries, preview_request_id, result_message_set
from omni2qbd_shared.db.models import OutboxItem
from omni2qbd_shared.qbxml.message_set import entry_id_of, message_set, with_request_id
from omni2qbd_shared.qbxml.render import render_add
from tests.mapper.conftest import load_doc, settings_with


def test_preview_builds_byte_for_byte_what_the_gateway_sends() -> None:
    result = map_document("sales_order", load_doc("so_tax_exclusive"), settings_with())
    entries = ordered_entries(result)
    assert entries
    for number, entry in enumerate(entries):
        entry_id = f"00000000-0000-0000-0000-{number:012d}"
        row = OutboxItem(
            entry_id=entry_id,
            tenant_id=entry.tenant_id,
            entry_kind=entry.kind.value,
            source_kind=entry.source.kind,
            cin7_id=entry.source.cin7_id,
            revision=entry.source.revision,
            body=entry.model_dump(mode="json"),
        )
        sent, problem = preview_qbxml(row, None, "13.0")
        assert problem is None
        request_id = preview_request_id(entry, entry_id)
        previewed = message_set("13.0", [with_request_id(render_add(entry, "13.0"), request_id)])
        assert previewed == sent
        assert entry_id_of(request_id) == entry_id


def test_the_cli_preview_uses_the_gateway_requestid_scheme() -> None:
    result = map_document("sales_order", load_doc("so_tax_exclusive"), settings_with())
    xml = result_message_set(result, "13.0")
    for entry in ordered_entries(result):
        assert f'requestID="{preview_request_id(entry)}"' in xml
        assert preview_request_id(entry).startswith("e-")
