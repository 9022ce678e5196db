"""An entry's field paths in a bookkeeper's words.

A re-import's field-by-field difference is computed on the stored entry, whose paths
(``header.computed_tax``, ``lines[2].item.list_id``) mean nothing to the person who has to
edit QuickBooks by hand. This turns each path into what QuickBooks' own forms call it
("Sales tax", "Line 3: item (QuickBooks ID)"); the path itself stays in the API for tools.
"""

from __future__ import annotations

import re

_TOP = {
    "ref_number": "Number",
    "txn_date": "Date",
    "total": "Total",
    "currency": "Currency",
    "kind": "Transaction type",
    "subkind": "Journal type",
}

_HEADER = {
    "party": "Customer or vendor",
    "ar_ap_account": "A/R or A/P account",
    "class": "Class",
    "class_name": "Class",
    "memo": "Memo",
    "po_number": "P.O. number",
    "is_pending": "Pending (draft) in QuickBooks",
    "sales_tax_item": "Sales tax item",
    "computed_tax": "Sales tax",
    "tax_account": "Sales tax account",
    "customer_tax_code": "Customer tax code",
    "exchange_rate": "Exchange rate",
    "due_date": "Due date",
    "terms": "Terms",
    "bill_address": "Bill to address",
    "ship_address": "Ship to address",
    "is_adjustment": "Adjusting entry",
    "contact": "Contact details",
}

_LINE = {
    "role": "kind of line",
    "account": "account",
    "override_account": "account chosen by hand",
    "item": "item",
    "class": "class",
    "class_name": "class",
    "tax_code": "tax code",
    "amount": "amount",
    "description": "description",
    "qty": "quantity",
    "rate": "rate",
    "side": "debit or credit",
    "entity": "customer or vendor",
    "source_line_id": "Cin7 line",
}

# The last part of a path, when it qualifies a reference or an address.
_DETAIL = {
    "name": "name",
    "list_id": "QuickBooks ID",
    "lines": "street",
    "city": "city",
    "state": "state",
    "postal_code": "ZIP code",
    "country": "country",
}

_PART = re.compile(r"([a-z_]+)(?:\[(\d+)\])?")


def _parts(path: str) -> list[tuple[str, int | None]]:
    parts: list[tuple[str, int | None]] = []
    for piece in path.split("."):
        match = _PART.fullmatch(piece)
        if match is None:
            return []
        index = match.group(2)
        parts.append((match.group(1), int(index) if index is not None else None))
    return parts


def _details(rest: list[tuple[str, int | None]]) -> str:
    words = [_DETAIL.get(name, name.replace("_", " ")) for name, _ in rest]
    return f" ({', '.join(words)})" if words else ""


def field_words(path: str) -> str:
    """``lines[2].item.list_id`` -> ``Line 3: item (QuickBooks ID)``; an unknown path is
    returned with its underscores as spaces rather than hidden."""
    parts = _parts(path)
    if not parts:
        return path
    (first, index), rest = parts[0], parts[1:]
    if first == "header" and rest:
        (name, _), detail = rest[0], rest[1:]
        label = _HEADER.get(name, name.replace("_", " ").capitalize())
        return label + _details(detail)
    if first == "lines" and index is not None:
        if not rest:
            return f"Line {index + 1}"
        (name, _), detail = rest[0], rest[1:]
        return f"Line {index + 1}: {_LINE.get(name, name.replace('_', ' '))}" + _details(detail)
    if first in _TOP and not rest:
        return _TOP[first]
    return path.replace("_", " ")
