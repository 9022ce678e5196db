"""The mapper reads every Cin7 date form the fetcher reads: one shared parser."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import get_args

import pytest

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


def test_the_message_literal_and_the_shared_enum_name_the_same_cin7_kinds() -> None:
    assert set(get_args(messages.Cin7Kind)) == {kind.value for kind in Cin7Kind}
    assert set(CIN7_LABEL) == set(Cin7Kind)
