"""The workflow's pure rules: match proposals, the checks before creating a QuickBooks name,
and the field-level difference between two versions of an entry."""

from __future__ import annotations

import pytest

from omni2qbd_gateway.workflow.field_words import field_words
from omni2qbd_gateway.workflow.match_proposals import (
    ListElement,
    name_problems,
    propose,
    status_of,
)
from omni2qbd_gateway.workflow.reimport import field_diff

CUSTOMERS = [
    ListElement("80000001-1", "Acme Corporation", "customer", "ap@acme.example", True),
    ListElement("80000002-1", "Globex", "customer", "billing@globex.example", True),
    ListElement("80000003-1", "Initech LLC", "customer", None, True),
    ListElement("80000004-1", "Acme Corp (old)", "customer", None, False),
]


def test_exact_name_first_then_email_then_similar_names() -> None:
    proposals = propose("  acme   CORPORATION ", "billing@globex.example", CUSTOMERS)
    assert [(p.list_id, p.reason) for p in proposals[:2]] == [
        ("80000001-1", "exact name"),
        ("80000002-1", "same e-mail address (billing@globex.example)"),
    ]
    assert proposals[0].score == 100.0
    assert all(p.list_type == "customer" for p in proposals)
    # Inactive names are never proposed.
    assert "80000004-1" not in {p.list_id for p in proposals}


def test_fuzzy_candidates_are_scored_and_unrelated_names_are_not_proposed() -> None:
    proposals = propose("Initech", None, CUSTOMERS)
    assert proposals and proposals[0].list_id == "80000003-1"
    assert proposals[0].reason.startswith("similar name")
    assert 80 <= proposals[0].score < 100
    assert propose("Umbrella Pharmaceuticals", None, CUSTOMERS) == []
    assert status_of(False, []) == "unmatched"
    assert status_of(False, proposals) == "proposed"
    assert status_of(True, []) == "matched"


def test_a_new_name_is_checked_for_length_and_every_name_list() -> None:
    long_name = "The Very Long Company Name Of Outdoor Supplies Incorporated"
    problems = name_problems(long_name, [], "customer")
    assert len(problems) == 1
    assert f"{len(long_name)} characters and QuickBooks allows 41" in problems[0]
    assert "shorten the company name in Cin7" in problems[0]

    collisions = name_problems("Pat Lee", [("employee", "Pat Lee")], "supplier")
    assert "already used by a QuickBooks employee" in collisions[0]
    assert "rename the contact in Cin7" in collisions[0]
    same_list = name_problems("Globex", [("vendor", "Globex")], "supplier")
    assert "match it to that vendor instead of creating one" in same_list[0]
    assert name_problems("Fine Name", [], "customer") == []


def test_field_diff_names_each_changed_field_and_ignores_provenance() -> None:
    before = {
        "source": {"revision": "r1"},
        "external_guid": "{A}",
        "total": "100.00",
        "header": {"memo": "SO-1", "po_number": "PO-9"},
        "lines": [{"amount": "100.00", "item": {"name": "Widget"}}],
    }
    after = {
        "source": {"revision": "r2"},
        "external_guid": "{B}",
        "total": "112.34",
        "header": {"memo": "SO-1", "po_number": "CHANGED"},
        "lines": [
            {"amount": "100.00", "item": {"name": "Widget"}},
            {"amount": "12.34", "item": {"name": "Freight"}},
        ],
    }
    assert field_diff(before, after) == [
        {"field": "header.po_number", "label": "P.O. number", "before": "PO-9", "after": "CHANGED"},
        {"field": "lines[1].amount", "label": "Line 2: amount", "before": None, "after": "12.34"},
        {
            "field": "lines[1].item.name",
            "label": "Line 2: item (name)",
            "before": None,
            "after": "Freight",
        },
        {"field": "total", "label": "Total", "before": "100.00", "after": "112.34"},
    ]


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("header.computed_tax", "Sales tax"),
        ("lines[2].item.list_id", "Line 3: item (QuickBooks ID)"),
        ("header.ship_address.postal_code", "Ship to address (ZIP code)"),
        ("lines[0].class", "Line 1: class"),
        ("txn_date", "Date"),
        ("lines[4]", "Line 5"),
        ("header.something_new", "Something new"),
        ("weird path!", "weird path!"),
    ],
)
def test_changed_fields_are_named_in_a_bookkeepers_words(path: str, words: str) -> None:
    assert field_words(path) == words
