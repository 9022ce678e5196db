"""Small helpers for writing qbXML the way QuickBooks does.

QuickBooks' responses start with ``<?xml version="1.0" ?>`` and put one element per line
without indentation (reference §1.5, captures/receiveResponseXML-InvoiceAddRs.xml).
Amounts are two-decimal strings, dates ``YYYY-MM-DD``, date-times local with an offset.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from lxml import etree

CENT = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def fmt_amount(value: Decimal) -> str:
    return str(money(value))


def fmt_rate(value: Decimal) -> str:
    """Prices keep their precision but show at least two decimals, as QuickBooks does."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -2:
        return str(value.quantize(CENT))
    return str(value.normalize())


def fmt_quantity(value: Decimal) -> str:
    text = str(value.normalize())
    return text if "E" not in text else f"{value:f}"


def fmt_datetime(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def fmt_date(value: date) -> str:
    return value.isoformat()


def parse_decimal(text: str | None) -> Decimal | None:
    if text is None or not text.strip():
        return None
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        return None


def sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, tag)
    if text is not None:
        child.text = text
    return child


def ref(parent: etree._Element, tag: str, list_id: str, full_name: str) -> etree._Element:
    element = sub(parent, tag)
    sub(element, "ListID", list_id)
    sub(element, "FullName", full_name)
    return element


def find1(element: etree._Element, tag: str) -> etree._Element | None:
    """``element.find(tag)`` for a plain tag name, without ElementPath's overhead (these
    lookups run for every line and ref of every request)."""
    for child in element.iterchildren(tag):
        return child
    return None


def findtext1(element: etree._Element, tag: str) -> str | None:
    """``element.findtext(tag)`` for a plain tag name: the first such child's text ("" when
    it has none), None without one."""
    for child in element.iterchildren(tag):
        return child.text or ""
    return None


def findtext2(element: etree._Element, outer: str, inner: str) -> str | None:
    """``element.findtext(f"{outer}/{inner}")``: the first ``inner`` of the first ``outer``
    child that has one."""
    for parent in element.iterchildren(outer):
        for child in parent.iterchildren(inner):
            return child.text or ""
    return None


def child_text(element: etree._Element, tag: str) -> str | None:
    found = element.find(tag)
    if found is None or found.text is None:
        return None
    return found.text.strip()


def to_qb_text(root: etree._Element) -> str:
    """Serialize like QuickBooks: declaration with a space, one element per line."""
    lines = ['<?xml version="1.0" ?>']
    _write(root, lines)
    return "\n".join(lines) + "\n"


def _write(element: etree._Element, lines: list[str]) -> None:
    tag = element.tag
    attrib = element.attrib
    attrs = "".join(f' {k!s}="{_attr(str(v))}"' for k, v in attrib.items()) if attrib else ""
    children = [c for c in element if isinstance(c.tag, str)] if len(element) else []
    if children:
        lines.append(f"<{tag}{attrs}>")
        for child in children:
            _write(child, lines)
        lines.append(f"</{tag}>")
    elif element.text:
        lines.append(f"<{tag}{attrs}>{_text(element.text)}</{tag}>")
    else:
        lines.append(f"<{tag}{attrs} />")


def _text(value: str) -> str:
    # xml.sax.saxutils.escape, inlined (it is called for every element written).
    return value.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def _attr(value: str) -> str:
    return _text(value).replace('"', "&quot;")
