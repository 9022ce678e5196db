"""The mapper reads every Cin7 date form the fetcher reads: one shared parser."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from omni2qbd_mapper.cin7doc import Cin7Doc
from omni2qbd_shared import messages
from omni2qbd_shared.kinds import CIN7_LABEL, Cin7Kind


def test_mapper_reads_the_aspnet_date_form() -> None:
    # 1663318805000 ms = 2022-09-16T09:00:05Z; the old ASP.NET form some endpoints still send.
    doc = Cin7Doc({"invoiceDate": "/Date(1663318805000)/", "modifiedDate": "2022-09-16 09:00:05"})
    assert doc.when("invoiceDate") == datetime(2022, 9, 16, 9, 0, 5, tzinfo=UTC)
    assert doc.when("modifiedDate") == datetime(2022, 9, 16, 9, 0, 5, tzinfo=UTC)


def test_mapper_names_the_field_of_an_unreadable_date() -> None:
    with pytest.raises(ValueError, match="field invoiceDate"):
        Cin7Doc({"invoiceDate": "16/09/2022"}).when("invoiceDate")


def _document_body(kind: str) -> str:
    fields = {"tenant_id": "t", "cin7_id": "1", "revision": "r", "payload": {}}
    return json.dumps({**fields, "kind": kind, "fetched_at": "2026-01-01T00:00:00Z"})


def test_a_document_message_takes_the_shared_cin7_kinds_and_no_other() -> None:
    for kind in Cin7Kind:
        message = messages.Cin7DocumentMessage.model_validate_json(_document_body(kind.value))
        assert message.kind is kind
        assert json.loads(message.model_dump_json())["kind"] == kind.value
        assert message.routing_key() == f"t.{kind.value}"
    with pytest.raises(ValidationError):
        messages.Cin7DocumentMessage.model_validate_json(_document_body("sales_orders"))
    assert set(CIN7_LABEL) == set(Cin7Kind)
