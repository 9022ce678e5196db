"""What QuickBooks would refuse, found at mapping time instead of after a person approved it.

qbXML's number types (Intuit's XSD, qbxmltypes): AMTTYPE allows 13 digits before the point,
QUANTYPE and PRICETYPE 10; an invoice whose total is negative is refused by QuickBooks
("Transaction amount must be positive"), so a return booked as a sales order is held.
"""

from __future__ import annotations

from decimal import Decimal

from omni2qbd_mapper.context import MappingContext, fmt
from omni2qbd_shared.entries import Address, Entry, EntryKind, Finding

AMOUNT_LIMIT = Decimal(10) ** 13  # AMTTYPE: [0-9]{1,13}(\.[0-9]{2})?
QUANTITY_LIMIT = Decimal(10) ** 10  # QUANTYPE / PRICETYPE: [0-9]{1,10}(\.[0-9]{1,5})?


def quickbooks_limits(ctx: MappingContext, entry: Entry) -> list[Finding]:
    findings: list[Finding] = []
    if entry.is_list_add:
        return findings
    for number, line in enumerate(entry.lines, start=1):
        where = line.source_line_id or line.description or line.role.value
        for field, value, limit in (
            ("amount", line.amount, AMOUNT_LIMIT),
            ("quantity", line.qty, QUANTITY_LIMIT),
            ("rate", line.rate, QUANTITY_LIMIT),
        ):
            if value is not None and abs(value) >= limit:
                findings.append(
                    ctx.finding(
                        "number_out_of_range",
                        f"{ctx.label}, line {number} ({where}): the {field} "
                        f"{value.normalize():f} is larger than QuickBooks accepts (at most "
                        f"{len(str(limit)) - 1} digits before the decimal point). Correct the "
                        "line in Cin7.",
                        field=f"lineItems[{number - 1}]",
                    )
                )
    if abs(entry.total) >= AMOUNT_LIMIT:
        findings.append(
            ctx.finding(
                "number_out_of_range",
                f"{ctx.label}: the total {fmt(entry.total)} is larger than QuickBooks accepts.",
                field="total",
            )
        )
    if entry.kind is EntryKind.CREDIT_MEMO and entry.total < 0:
        findings.append(
            ctx.finding(
                "negative_credit_memo",
                f"{ctx.label}: its charges (restocking fees and other positive lines) exceed "
                f"what it credits, so the credit memo would total {fmt(entry.total)} (field "
                "total). Correct the credit note in Cin7.",
                field="total",
            )
        )
    if entry.kind is EntryKind.INVOICE and entry.total < 0:
        findings.append(
            ctx.finding(
                "negative_invoice",
                f"{ctx.label} totals {fmt(entry.total)} (field total): QuickBooks refuses an "
                'invoice whose total is negative ("Transaction amount must be positive"). '
                "Book the return as a credit note in Cin7, or reduce the discount.",
                field="total",
            )
        )
    return findings


# QuickBooks' US limits (Intuit's OSR, see docs/simulators.md) for the text the renderer cuts.
_ADDRESS_LIMITS = (("city", 31), ("state", 21), ("postal_code", 13), ("country", 31))
ADDRESS_LINE_MAX = 41
NAME_PART_MAX = 25
COMPANY_NAME_MAX = 41
PHONE_MAX = 21
TEXT_MAX = 4095


def shortened_text(ctx: MappingContext, entry: Entry) -> list[Finding]:
    """A note for every text QuickBooks' limits will cut, naming the field and what is kept.

    A new customer/vendor is named by itself, not by the order that needs it, so its notes
    stay the same whichever of its orders is mapped."""
    cuts: list[tuple[str, str, int]] = []

    def check(what: str, value: str | None, limit: int) -> None:
        if value and len(value) > limit:
            cuts.append((what, value, limit))

    def address(what: str, found: Address | None) -> None:
        if found is None:
            return
        for number, line in enumerate(found.lines[:5], start=1):
            check(f"{what} line {number}", line, ADDRESS_LINE_MAX)
        for attribute, limit in _ADDRESS_LIMITS:
            check(f"{what} {attribute.replace('_', ' ')}", getattr(found, attribute), limit)

    header = entry.header
    address("bill address", header.bill_address)
    address("ship address", header.ship_address)
    check("memo", header.memo, TEXT_MAX)
    contact = header.contact
    if contact is not None:
        address("address", contact.bill_address)
        address("ship address", contact.ship_address)
        check("company name", contact.company_name, COMPANY_NAME_MAX)
        check("first name", contact.first_name, NAME_PART_MAX)
        check("last name", contact.last_name, NAME_PART_MAX)
        check("phone", contact.phone, PHONE_MAX)
    for number, line in enumerate(entry.lines, start=1):
        check(f"line {number} description", line.description, TEXT_MAX)
    label = ctx.label
    if contact is not None:
        kind = "Customer" if entry.kind is EntryKind.CUSTOMER_ADD else "Vendor"
        label = f"New {kind.lower()} {contact.name}"
    return [
        Finding(
            code="text_shortened",
            blocking=False,
            message=f"{label}: the {what} {value!r} is longer than QuickBooks' {limit} "
            f"characters; {value[:limit]!r} is kept.",
            document=label if contact is not None else ctx.label,
            field=what,
        )
        for what, value, limit in cuts
    ]
